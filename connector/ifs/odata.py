"""Pure OData v4 query building for IFS Cloud: literals, key paths, $filter
combinators, query strings and JSON bodies. No I/O.

Rules follow shared/api/ifs-cloud.md §8 (literals, supported query options)
and §3 (qualified enum literals, bare enum names in bodies).
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Iterable, Mapping
from urllib.parse import quote

__all__ = [
    "NULL", "Raw", "literal", "enum_literal", "key_path",
    "eq", "ne", "gt", "ge", "lt", "le", "startswith", "contains", "any_of",
    "and_", "or_", "not_", "query_params", "encode_query", "json_body", "json_value",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")
_ORDERBY_ITEM = re.compile(r"([A-Za-z_][A-Za-z0-9_/]*)(?:\s+(asc|desc))?", re.IGNORECASE)


class Raw(str):
    """An already-rendered OData expression (e.g. an enum literal); `literal()`
    passes it through unquoted."""


class _Null:
    """Sentinel for an explicit JSON `null` in a body; plain None is omitted
    (ifs-cloud.md §3: sending null may clear attributes)."""

    _instance: _Null | None = None

    def __new__(cls) -> _Null:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NULL"


NULL = _Null()


# ---------------------------------------------------------------- literals

def literal(value: Any) -> str:
    """Render a Python value as an OData v4 URL literal (ifs-cloud.md §8).

    str -> 'it''s' (single quotes, ' doubled); int/float/Decimal unquoted;
    bool -> true/false; None -> null; date -> 2026-01-01;
    aware datetime -> 2026-01-01T00:00:00Z (UTC, unquoted; fractional seconds
    only when present). Naive datetimes are refused: IFS compares timestamps
    in a time zone we cannot guess.
    """
    if isinstance(value, Raw):
        return str(value)
    if value is None or value is NULL:
        return "null"
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"no OData literal for non-finite float {value!r}")
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"no OData literal for non-finite Decimal {value!r}")
        return format(value, "f")
    if isinstance(value, datetime):  # before date: datetime is a date subclass
        return _timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no OData literal for {type(value).__name__}")


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: pass an aware datetime (e.g. tzinfo=timezone.utc)")
    utc = value.astimezone(timezone.utc)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def enum_literal(projection: str, enum_type: str, member: str) -> Raw:
    """`IfsApp.<Projection>.<EnumType>'<Member>'` - a plain 'Released' is an
    error in IFS filters (ifs-cloud.md §3, §8)."""
    _check_name(projection, "projection")
    _check_name(enum_type, "enum type")
    if not member:
        raise ValueError("empty enum member")
    return Raw(f"IfsApp.{projection}.{enum_type}'{member.replace(chr(39), chr(39) * 2)}'")


def key_path(entity_set: str, **keys: Any) -> str:
    """`CustomerOrderSet(OrderNo='X')`, `ReturnMaterialSet(RmaNo=12)`,
    `CustomerOrderLineSet(OrderNo='C1',LineNo='1',RelNo='1',LineItemNo=0)`.

    Keys are written in the order given, always named (IFS style, §3/§4).
    Characters that cannot stand in a URL path segment ('/', '?', '#', '%',
    spaces, non-ASCII) are percent-encoded inside the literal, so the result
    is ready to be appended to a URL.
    """
    _check_name(entity_set, "entity set")
    if not keys:
        raise ValueError("key_path needs at least one key")
    parts = []
    for name, value in keys.items():
        _check_name(name, "key")
        if value is None or value is NULL:
            raise ValueError(f"key {name} is None")
        if isinstance(value, str) and value == "":
            raise ValueError(f"key {name} is empty")
        parts.append(f"{name}={quote(literal(value), safe=chr(39) + ':@!$*+;-._~')}")
    return f"{entity_set}({','.join(parts)})"


# ------------------------------------------------------------------ filters

class _Expr(str):
    """A filter expression built here; `_atomic` means it needs no parentheses
    as an operand of and/or/not."""

    _atomic = True


def _expr(text: str, atomic: bool = True) -> _Expr:
    expr = _Expr(text)
    expr._atomic = atomic
    return expr


def _compare(op: str, field: str, value: Any) -> _Expr:
    _check_property(field)
    return _expr(f"{field} {op} {literal(value)}")


def eq(field: str, value: Any) -> str:
    return _compare("eq", field, value)


def ne(field: str, value: Any) -> str:
    return _compare("ne", field, value)


def gt(field: str, value: Any) -> str:
    return _compare("gt", field, value)


def ge(field: str, value: Any) -> str:
    return _compare("ge", field, value)


def lt(field: str, value: Any) -> str:
    return _compare("lt", field, value)


def le(field: str, value: Any) -> str:
    return _compare("le", field, value)


def startswith(field: str, prefix: str) -> str:
    _check_property(field)
    return _expr(f"startswith({field},{literal(prefix)})")


def contains(field: str, text: str) -> str:
    _check_property(field)
    return _expr(f"contains({field},{literal(text)})")


def any_of(field: str, values: Iterable[Any]) -> str:
    """`(F eq 'a' or F eq 'b')` - IFS supports no `in` / lambda operators
    (§8). An empty list matches nothing, which is almost always a caller bug,
    so it raises rather than silently filtering everything out."""
    values = list(dict.fromkeys(values))  # de-duplicate, keep order
    if not values:
        raise ValueError(f"any_of({field!r}, []) matches nothing")
    return _expr("(" + " or ".join(_compare("eq", field, v) for v in values) + ")")


def and_(*clauses: str | None) -> str | None:
    """Join clauses with `and`; None clauses are skipped (optional filters).
    Operands containing a top-level `or` are parenthesised. Returns None when
    nothing is left."""
    parts = [c for c in clauses if c]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    rendered = [p if not _has_top_level(p, "or") else f"({p})" for p in parts]
    return _expr(" and ".join(rendered), atomic=False)


def or_(*clauses: str | None) -> str | None:
    """`(a or b)`: always parenthesised, so it can be and-ed safely."""
    parts = [c for c in clauses if c]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return _expr("(" + " or ".join(parts) + ")")


def not_(clause: str) -> str:
    if not clause:
        raise ValueError("not_ of an empty clause")
    if isinstance(clause, _Expr) and clause._atomic and clause.startswith("("):
        return _expr(f"not {clause}")
    return _expr(f"not ({clause})")


def _has_top_level(expr: str, word: str) -> bool:
    """Does `word` (and/or) occur outside quotes and parentheses?"""
    if isinstance(expr, _Expr) and expr._atomic:
        return False
    depth, i, n = 0, 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch == "'":  # skip a string literal, '' is an escaped quote
            i += 1
            while i < n:
                if expr[i] == "'":
                    if i + 1 < n and expr[i + 1] == "'":
                        i += 2
                        continue
                    break
                i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and expr.startswith(word, i):
            before = expr[i - 1] if i else " "
            after = expr[i + len(word)] if i + len(word) < n else " "
            if before.isspace() and after.isspace():
                return True
        i += 1
    return False


# -------------------------------------------------------------- query string

def query_params(
    *,
    filter: str | None = None,
    select: str | Iterable[str] | None = None,
    orderby: str | Iterable[str] | None = None,
    top: int | None = None,
    skip: int | None = None,
    count: bool | None = None,
) -> dict[str, str]:
    """System query options as an ordered dict of strings (§8: $select,
    $filter, $orderby, $top, $skip; $count is inconsistent across sets)."""
    params: dict[str, str] = {}
    if filter:
        params["$filter"] = filter
    if select:
        names = [select] if isinstance(select, str) else list(select)
        for name in names:
            for part in name.split(","):
                _check_property(part.strip())
        params["$select"] = ",".join(n.strip() for n in names)
    if orderby:
        items = [orderby] if isinstance(orderby, str) else list(orderby)
        for item in items:
            for part in item.split(","):
                if not _ORDERBY_ITEM.fullmatch(part.strip()):
                    raise ValueError(f"bad $orderby item {part!r}")
        params["$orderby"] = ",".join(i.strip() for i in items)
    if top is not None:
        if top < 0:
            raise ValueError("$top must be >= 0")
        params["$top"] = str(int(top))
    if skip:
        if skip < 0:
            raise ValueError("$skip must be >= 0")
        params["$skip"] = str(int(skip))
    if count is not None:
        params["$count"] = "true" if count else "false"
    return params


def encode_query(params: Mapping[str, str]) -> str:
    """Percent-encode a query string. Spaces become %20 (never '+', which
    OData servers read as a literal plus); `$`, quotes, parentheses, commas,
    colons and slashes stay readable."""
    return "&".join(
        f"{quote(str(k), safe='$')}={quote(str(v), safe=chr(39) + '$(),:/@*!;')}"
        for k, v in params.items()
    )


# --------------------------------------------------------------------- bodies

def json_value(value: Any) -> Any:
    """A Python value as a JSON-ready value for an IFS body (§8 date types):
    date -> "YYYY-MM-DD"; aware datetime -> "YYYY-MM-DDThh:mm:ssZ" (UTC, no
    fractional seconds, which action parameters refuse); Decimal -> number;
    None is dropped from dicts by `json_body`; NULL -> null."""
    if value is NULL:
        return None
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"non-finite Decimal {value!r} in body")
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"non-finite float {value!r} in body")
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime in body: pass an aware datetime")
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def json_body(body: Mapping[str, Any]) -> bytes:
    """Serialise a request body: None values omitted (ifs-cloud.md §3),
    `NULL` sent as null, dates and Decimals converted (§8)."""
    return json.dumps(json_value(body), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ---------------------------------------------------------------- validation

def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"bad OData {what} name {name!r}")


def _check_property(name: str) -> None:
    if not isinstance(name, str) or not _PROPERTY.fullmatch(name):
        raise ValueError(f"bad OData property name {name!r}")
