"""The three pagination styles ShipBob uses (shipbob.md §8).

- Cursor links in the body: `{items, first, last, next, prev}` (products, inventory levels)
  or `{items, next, prev}` (channels, webhooks); links are relative URLs to GET as they are,
  carrying an opaque `Cursor` and the caller's other parameters.
- Page numbers: `Page`/`Limit` for orders (a bare array, no headers in 2026-01) and
  receiving (`Page-Number`, `Total-Pages`, `Total-Count`, `Page-Size`, `Next-Page` headers);
  `Cursor` (a page number) and `Limit` for returns, with the same headers minus Next-Page.

Every paged read notes its page size in `g.page_items` for /_sandbox/stats.
"""

from __future__ import annotations

import base64
from urllib.parse import urlencode

from flask import g, request

from .errors import bad_request
from .web import arg


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = raw.partition(":")
        if kind == "offset" and int(value) >= 0:
            return int(value)
    except (ValueError, UnicodeDecodeError):
        pass
    raise bad_request("Cursor", f"The cursor '{cursor}' is not valid.")


def link(**overrides) -> str:
    """This request's path and query with some parameters replaced (case-insensitively)."""
    drop = {k.lower() for k in overrides}
    args = [(k, v) for k, v in request.args.items(multi=True) if k.lower() not in drop]
    args += [(k, str(v)) for k, v in overrides.items()]
    return f"{request.path}?{urlencode(args)}"


def cursor_page(items: list, size: int, view) -> dict:
    cursor = arg("Cursor")
    offset = _decode(cursor) if cursor else 0
    page = items[offset:offset + size]
    g.page_items = len(page)
    total = len(items)
    last = ((total - 1) // size) * size if total else 0
    return {
        "items": [view(x) for x in page],
        "first": link(Cursor=_encode(0)) if total else None,
        "last": link(Cursor=_encode(last)) if total else None,
        "next": link(Cursor=_encode(offset + size)) if offset + size < total else None,
        "prev": link(Cursor=_encode(max(0, offset - size))) if offset > 0 and total else None,
    }


def cursor_list(items: list, size: int, view) -> dict:
    body = cursor_page(items, size, view)
    return {"items": body["items"], "next": body["next"], "prev": body["prev"]}


def numbered(items: list, page: int, size: int, page_param: str = "Page",
             next_header: bool = True) -> tuple[list, dict[str, str]]:
    """One numbered page and its Page-* headers."""
    total = len(items)
    pages = max(1, -(-total // size))
    chunk = items[(page - 1) * size:page * size]
    g.page_items = len(chunk)
    headers = {"Page-Number": str(page), "Total-Pages": str(pages),
               "Total-Count": str(total), "Page-Size": str(size)}
    if next_header and page < pages:
        headers["Next-Page"] = link(**{page_param: page + 1})
    return chunk, headers


def numbered_links(page: int, size: int, total: int, page_param: str) -> dict:
    """first/last/next/prev links for a numbered body (returns' PagedUrlResult)."""
    pages = max(1, -(-total // size))
    return {"first": link(**{page_param: 1}) if total else None,
            "last": link(**{page_param: pages}) if total else None,
            "next": link(**{page_param: page + 1}) if page < pages else None,
            "prev": link(**{page_param: page - 1}) if page > 1 and total else None}
