"""Typed reads of fields from decoded ShipBob JSON (`object` in, a checked value out).

ShipBob's documents mark most fields nullable; these read what is there and give None for
what is missing or of another type, so parsers stay short and mypy-strict.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Mapping


def mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def mappings(value: object) -> list[Mapping[str, object]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def integer(value: object) -> int | None:
    """An int (not a bool), or a string of one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def moment(value: object) -> datetime | None:
    """An ISO 8601 timestamp, aware (a naive one, as ShipBob's guides print some, is UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
