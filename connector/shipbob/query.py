"""Query strings the way ShipBob parses them (shipbob.md §4, §5).

List filters are comma-separated and booleans lower-case. ShipBob only
understands the reserved characters `,` and `:` unescaped (`SKU=any:a,b`),
so they are kept literal; everything else is percent-encoded.

A list filter is ONE string that ShipBob splits at every comma (its OpenAPI
document declares `ReferenceIds`, `PurchaseOrderNumbers`, ... as `string`,
"comma separated"; there is no escape and no repeated form), so a value with
a comma in it cannot be asked for in one: see `listable`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Iterable, Iterator, Mapping
from urllib.parse import quote

# Kept literal in values: ShipBob rejects `%2C` / `%3A` in list filters.
_SAFE = ":,"


def format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(format_value(v) for v in value)
    return str(value)


def encode_query(params: Mapping[str, object] | None) -> str:
    """`{"IDs": [1, 2], "HasTracking": True}` -> `IDs=1,2&HasTracking=true`;
    None values are left out."""
    if not params:
        return ""
    return "&".join(
        f"{quote(str(name), safe='')}={quote(format_value(value), safe=_SAFE)}"
        for name, value in params.items()
        if value is not None
    )


def listable(value: str) -> bool:
    """Whether `value` survives a comma-separated list filter intact: not
    empty, no comma in it, no space at either end (a list's items may be
    trimmed). Others are looked up another way and matched exactly."""
    return bool(value) and "," not in value and value == value.strip()


def chunked(values: Iterable[str], max_items: int = 50, max_chars: int = 1500) -> Iterator[list[str]]:
    """Split a list filter into batches short enough for one URL: at most
    `max_items` values and about `max_chars` characters each. Duplicates and
    empty values are dropped, order is kept."""
    batch: list[str] = []
    size = 0
    seen: set[str] = set()
    for value in values:
        value = str(value)
        if not value or value in seen:
            continue
        seen.add(value)
        cost = len(quote(value, safe=_SAFE)) + 1
        if batch and (len(batch) >= max_items or size + cost > max_chars):
            yield batch
            batch, size = [], 0
        batch.append(value)
        size += cost
    if batch:
        yield batch
