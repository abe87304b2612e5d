"""ShipBob's three pagination styles (shipbob.md §8), as generators that
fetch one page at a time and yield its items:

- page numbers (`/order` Page+Limit with no headers: stop on a short page;
  `/receiving` Page+Limit with Page-*/Next-Page headers; `/return`
  Cursor=page number + Limit with Page-* headers);
- `next` links in the body (`/channel`, `/webhook`, `/product`,
  `/inventory-level*`): `{items, next, ...}`, where `next` may be absolute,
  host-relative or relative to the versioned base.
"""

from __future__ import annotations

from typing import Callable, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

from connector.json_types import JsonObject

# fetch(path_or_url, query) -> (decoded JSON body, response headers)
Fetch = Callable[[str, Mapping[str, object] | None], tuple[object, Mapping[str, str]]]

# A safety net against a server that keeps answering the same page.
MAX_PAGES = 10_000


def items_of(body: object) -> list[JsonObject]:
    """A page's items: a bare array, or `{items: [...]}`."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        return body.get("items") or []
    return []


def resolve_link(link: str, base_url: str, current_url: str) -> str:
    """Absolute URL of a `next` link.

    - `https://host/2026-01/product?...` : as is;
    - `/2026-01/product?...`             : on the base's host;
    - `/product?...` (no version)        : under the versioned base;
    - `product?...`                      : under the versioned base;
    - `?Cursor=...`                      : the current URL with a new query.
    """
    if link.startswith(("http://", "https://")):
        return link
    base = urlsplit(base_url)
    version_prefix = base.path if base.path.endswith("/") else base.path + "/"
    if link.startswith("?"):
        return urljoin(current_url, link)
    if link.startswith("/"):
        if link.startswith(version_prefix) or link.rstrip("/") == version_prefix.rstrip("/"):
            return f"{base.scheme}://{base.netloc}{link}"
        return base_url.rstrip("/") + link
    return base_url.rstrip("/") + "/" + link


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = _header(headers, name)
    try:
        return int(str(value).strip()) if value is not None else None
    except ValueError:
        return None


def has_next_page(page: int, items: list[JsonObject], limit: int, headers: Mapping[str, str],
                  body: object) -> bool:
    """Whether another page-numbered page exists, from the best evidence:
    Total-Pages, else a Next-Page header, else a `next` in the body, else
    a full page (§8: no headers on /order in 2026-01)."""
    if not items:
        return False
    total = _int_header(headers, "Total-Pages")
    if total is not None:
        current = _int_header(headers, "Page-Number") or page
        return current < total
    if _header(headers, "Next-Page") is not None:
        return bool(_header(headers, "Next-Page"))
    if isinstance(body, dict) and "next" in body:
        return bool(body["next"])
    return len(items) >= limit


def numbered_pages(fetch: Fetch, path: str, query: Mapping[str, object] | None, *,
                   page_param: str, limit_param: str, limit: int) -> Iterator[JsonObject]:
    """`Page`/`Cursor`-numbered pages, from page 1."""
    params = {k: v for k, v in (query or {}).items() if k not in (page_param, limit_param)}
    for page in range(1, MAX_PAGES + 1):
        body, headers = fetch(path, {**params, page_param: page, limit_param: limit})
        items = items_of(body)
        yield from items
        if not has_next_page(page, items, limit, headers, body):
            return


def linked_pages(fetch: Fetch, path: str, query: Mapping[str, object] | None, *,
                 base_url: str) -> Iterator[JsonObject]:
    """`{items, next}` pages: GET `next` until it is empty."""
    url, params = path, query
    absolute = path.startswith(("http://", "https://"))
    current = path if absolute else base_url.rstrip("/") + "/" + path.lstrip("/")
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        body, _headers = fetch(url, params)
        yield from items_of(body)
        link = body.get("next") if isinstance(body, dict) else None
        if not link or not items_of(body):
            return
        url = resolve_link(link, base_url, current)
        if url in seen:
            return
        seen.add(url)
        current, params = url, None
