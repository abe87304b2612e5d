"""Pagination styles of shipbob.md §8, against a fake fetch."""

from __future__ import annotations

import pytest

from connector.shipbob.pagination import (
    has_next_page,
    items_of,
    linked_pages,
    numbered_pages,
    resolve_link,
)

BASE = "https://api.shipbob.com/2026-01/"


@pytest.mark.parametrize("link, expected", [
    ("https://other.example/2026-01/product?Cursor=2", "https://other.example/2026-01/product?Cursor=2"),
    ("/2026-01/product?Cursor=2", "https://api.shipbob.com/2026-01/product?Cursor=2"),
    ("/product?Cursor=2", "https://api.shipbob.com/2026-01/product?Cursor=2"),
    ("product?Cursor=2", "https://api.shipbob.com/2026-01/product?Cursor=2"),
    ("?Cursor=2", "https://api.shipbob.com/2026-01/channel?Cursor=2"),
])
def test_resolve_link(link, expected):
    assert resolve_link(link, BASE, BASE + "channel?RecordsPerPage=5") == expected


def test_resolve_link_keeps_a_base_path_prefix():
    base = "http://127.0.0.1:8002/api/2026-01/"
    assert resolve_link("/api/2026-01/webhook?Cursor=x", base, base) == \
        "http://127.0.0.1:8002/api/2026-01/webhook?Cursor=x"
    assert resolve_link("/webhook?Cursor=x", base, base) == \
        "http://127.0.0.1:8002/api/2026-01/webhook?Cursor=x"


def test_items_of_bare_array_and_envelope():
    assert items_of([1, 2]) == [1, 2]
    assert items_of({"items": [3], "next": None}) == [3]
    assert items_of({"items": None}) == []
    assert items_of(None) == []


@pytest.mark.parametrize("page, items, limit, headers, body, expected", [
    (1, [], 2, {"Total-Pages": "5"}, [], False),                       # empty page stops
    (1, [1, 2], 2, {"Total-Pages": "3", "Page-Number": "1"}, [], True),
    (3, [1, 2], 2, {"Total-Pages": "3", "Page-Number": "3"}, [], False),
    (1, [1], 2, {"total-pages": "2"}, [], True),                       # headers case-insensitive
    (1, [1, 2], 2, {"Next-Page": "/2026-01/receiving?Page=2"}, [], True),
    (1, [1, 2], 2, {"Next-Page": ""}, [], False),
    (1, [1, 2], 2, {}, {"items": [1, 2], "next": None}, False),
    (1, [1, 2], 2, {}, [1, 2], True),                                  # /order: full page
    (1, [1], 2, {}, [1], False),                                       # /order: short page
])
def test_has_next_page(page, items, limit, headers, body, expected):
    assert has_next_page(page, items, limit, headers, body) is expected


def test_numbered_pages_streams_and_stops_on_short_page():
    pages = {1: [1, 2], 2: [3, 4], 3: [5]}
    calls = []

    def fetch(path, query):
        calls.append((path, dict(query)))
        return pages[query["Page"]], {}

    gen = numbered_pages(fetch, "order", {"HasTracking": True, "Page": 9}, page_param="Page",
                         limit_param="Limit", limit=2)
    assert next(gen) == 1
    assert len(calls) == 1  # page 2 is not fetched before it is needed
    assert list(gen) == [2, 3, 4, 5]
    assert [c[1] for c in calls] == [
        {"HasTracking": True, "Page": 1, "Limit": 2},
        {"HasTracking": True, "Page": 2, "Limit": 2},
        {"HasTracking": True, "Page": 3, "Limit": 2},
    ]


def test_numbered_pages_follows_total_pages_for_returns():
    def fetch(path, query):
        page = query["Cursor"]
        return {"items": [page * 10, page * 10 + 1]}, {"Page-Number": str(page), "Total-Pages": "2"}

    assert list(numbered_pages(fetch, "return", None, page_param="Cursor", limit_param="Limit",
                               limit=250)) == [10, 11, 20, 21]


def test_linked_pages_follow_next_until_empty():
    pages = {
        "product": {"items": [{"id": 1}], "next": "/2026-01/product?Cursor=b"},
        BASE + "product?Cursor=b": {"items": [{"id": 2}], "next": "product?Cursor=c"},
        BASE + "product?Cursor=c": {"items": [{"id": 3}], "next": None},
    }
    seen = []

    def fetch(url, query):
        seen.append((url, query))
        return pages[url], {}

    assert [p["id"] for p in linked_pages(fetch, "product", {"PageSize": 1}, base_url=BASE)] == [1, 2, 3]
    assert seen[0] == ("product", {"PageSize": 1})
    assert all(q is None for _, q in seen[1:])  # next links carry their own query


def test_linked_pages_stop_when_next_repeats():
    def fetch(url, query):
        return {"items": [1], "next": "/2026-01/webhook?Cursor=same"}, {}

    assert list(linked_pages(fetch, "webhook", None, base_url=BASE)) == [1, 1]
