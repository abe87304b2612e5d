"""UTC timestamps in the shape ShipBob prints them ("2024-04-08T11:17:07.122+00:00")."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="milliseconds") if dt is not None else None


def parse(value: str) -> datetime:
    """ISO 8601 in, aware UTC out; a bare date or naive time is taken as UTC. Raises ValueError."""
    dt = datetime.fromisoformat(value.strip().replace(" ", "+"))  # "+" arrives as " " in queries
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def within(when: datetime | None, bounds: tuple[datetime | None, datetime | None]) -> bool:
    """A date-range filter: no bounds keeps everything, any bound drops a missing date."""
    lo, hi = bounds
    if lo is None and hi is None:
        return True
    return when is not None and (lo is None or when >= lo) and (hi is None or when <= hi)
