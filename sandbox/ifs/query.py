"""System query options and server-driven paging.

$filter, $select, $orderby (several keys, asc/desc), $top, $skip, $count
(ifs-cloud.md §8). `$expand` of a collection navigation answers
ODP_NOT_IMPLEMENTED (IFS expands one-to-one navigations only, and the
stand-in has none). A result longer than the page size ends its page with an
`@odata.nextLink` carrying `$skiptoken` (§11.3); `Prefer: odata.maxpagesize`
can lower the page size.

Sorting follows Oracle: nulls last ascending, first descending; key columns
break ties so that paging is stable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

from sandbox.ifs.edm import EntityType, Prop
from sandbox.ifs.errors import bad_request, not_implemented
from sandbox.ifs.odata_filter import CompiledFilter, compile_filter
from sandbox.ifs.store import Table

_SUPPORTED = {"$filter", "$select", "$orderby", "$top", "$skip", "$count", "$expand",
              "$skiptoken", "$format"}
_NOT_IMPLEMENTED = {"$apply": "$apply is not supported by the sandbox.",
                    "$search": "$search is not supported."}
_ORDER_ITEM = re.compile(r"\s*([A-Za-z_]\w*)(?:\s+(asc|desc))?\s*")
_CACHE_SIZE = 32


@dataclass
class Query:
    filter_text: str | None = None
    filter: CompiledFilter | None = None
    select: list[Prop] | None = None
    orderby: list[tuple[Prop, bool]] = field(default_factory=list)  # (prop, descending)
    top: int | None = None
    skip: int = 0
    count: bool = False
    skiptoken: int = 0


def parse_query(args, etype: EntityType, projection: str, *, single: bool = False) -> Query:
    for name in args:
        if name in _NOT_IMPLEMENTED:
            raise not_implemented(_NOT_IMPLEMENTED[name])
        if name.startswith("$") and name not in _SUPPORTED:
            raise bad_request(f"The system query option '{name}' is not supported.")
    query = Query()
    if "$format" in args and args["$format"] not in ("json", "application/json"):
        raise bad_request("Only $format=json is supported.")
    _check_expand(args.get("$expand"), etype)
    if "$select" in args:
        query.select = _select(args["$select"], etype)
    if single:
        return query
    if args.get("$filter"):
        query.filter_text = args["$filter"]
        query.filter = compile_filter(query.filter_text, etype, projection)
    if args.get("$orderby"):
        query.orderby = _orderby(args["$orderby"], etype)
    query.top = _non_negative(args, "$top")
    query.skip = _non_negative(args, "$skip") or 0
    query.skiptoken = _non_negative(args, "$skiptoken") or 0
    count = args.get("$count")
    if count not in (None, "true", "false"):
        raise bad_request("$count must be true or false.")
    query.count = count == "true"
    return query


def _check_expand(text: str | None, etype: EntityType) -> None:
    if not text:
        return
    for item in _split_top_level(text):
        name = item.split("(", 1)[0].split("/", 1)[0].strip()
        if name in etype.navigations:
            raise not_implemented(f"$expand is supported for one-to-one associations only; "
                                  f"'{name}' is a collection.")
        raise bad_request(f"'{name}' is not a navigation property of '{etype.name}'.")


def _split_top_level(text: str) -> list[str]:
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [i for i in items if i.strip()]


def _select(text: str, etype: EntityType) -> list[Prop] | None:
    names = [n.strip() for n in text.split(",")]
    if "*" in names:
        return None
    props = []
    for name in names:
        prop = etype.prop(name)
        if prop is None:
            raise bad_request(f"Property '{name}' in $select does not exist in type '{etype.name}'.")
        if prop not in props:
            props.append(prop)
    return props


def _orderby(text: str, etype: EntityType) -> list[tuple[Prop, bool]]:
    items = []
    for part in text.split(","):
        match = _ORDER_ITEM.fullmatch(part)
        if match is None:
            raise bad_request(f"Malformed $orderby item '{part.strip()}'.")
        prop = etype.prop(match.group(1))
        if prop is None:
            raise bad_request(f"Property '{match.group(1)}' in $orderby does not exist in type "
                              f"'{etype.name}'.")
        if prop.complex is not None:
            raise bad_request(f"Cannot order by collection property '{prop.name}'.")
        items.append((prop, match.group(2) == "desc"))
    return items


def _non_negative(args, name: str) -> int | None:
    if name not in args:
        return None
    value = args[name]
    if not value.isdigit():
        raise bad_request(f"{name} must be a non-negative integer.")
    return int(value)


# ------------------------------------------------------------------ paging

@dataclass
class Page:
    rows: list[dict]
    total: int  # all matches, for @odata.count
    next_skiptoken: int | None


def execute(table: Table, etype: EntityType, query: Query, page_size: int,
            scope: tuple | None = None,
            scope_rows: Callable[[], Iterable[dict]] | None = None) -> Page:
    """Run `query` over the table (or over `scope_rows`, e.g. a navigation's
    children, cached under `scope`). Matches are cached per table version so
    following nextLinks over a large set does not re-scan it per page."""
    matched = _matches(table, etype, query, scope, scope_rows)
    window_end = len(matched) if query.top is None else min(len(matched), query.skip + query.top)
    start = query.skip + query.skiptoken
    end = min(start + page_size, window_end)
    rows = matched[start:end] if start < window_end else []
    next_token = query.skiptoken + len(rows) if end < window_end else None
    return Page(rows, len(matched), next_token)


def _matches(table, etype, query, scope, scope_rows) -> list[dict]:
    orderby_text = ",".join(f"{p.attr} {'desc' if d else 'asc'}" for p, d in query.orderby)
    cache_key = (scope, query.filter_text, orderby_text)
    cached = table.cache.get(cache_key)
    if cached is not None and cached[0] == table.version:
        return cached[1]
    rows = list(scope_rows()) if scope_rows is not None else _candidates(table, query.filter)
    if query.filter is not None:
        predicate = query.filter.predicate
        rows = [row for row in rows if predicate(row)]
    rows.sort(key=table.key)
    for prop, descending in reversed(query.orderby):
        attr, default = prop.attr, prop.default
        # Oracle: NULLS LAST ascending, NULLS FIRST descending.
        rows.sort(key=lambda r: ((v := r.get(attr, default)) is None, v), reverse=descending)
    if query.filter_text is None or "now(" not in query.filter_text:
        if len(table.cache) >= _CACHE_SIZE:
            table.cache.pop(next(iter(table.cache)))
        table.cache[cache_key] = (table.version, rows)
    return rows


def _candidates(table: Table, compiled: CompiledFilter | None) -> list[dict]:
    """Narrow by an indexed `attr eq value` conjunct when there is one."""
    best = None
    if compiled is not None:
        for attr, values in compiled.equalities:
            found = table.candidates(attr, values)
            if found is not None and (best is None or len(found) < len(best)):
                best = found
    return best if best is not None else list(table.rows.values())
