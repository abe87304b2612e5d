"""IFS dates and timestamps -> the date-time ShipBob's OpenAPI document declares.

IFS sends an `Edm.Date` as "2026-12-05" and an `Edm.DateTimeOffset` as
"2026-12-05T10:15:00Z" or with an offset (ifs-cloud.md §8); which type a field
has differs between tenants (`DateEntered` is a timestamp on some, a date on
others). ShipBob declares its dates `format: date-time` (RFC 3339 §5.6: date,
time and offset), e.g. `purchase_date` in CreateOrderModel and
`expected_arrival_date` in CreateReceivingOrderModel, and refuses a bare date.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone

__all__ = ["shipbob_date_time"]


def shipbob_date_time(value: str | date | datetime | None) -> str | None:
    """`"2026-12-05T00:00:00Z"` for the date 2026-12-05 (midnight UTC), a
    timestamp converted to UTC (`...Z`, whole seconds); None stays None.
    A timestamp without an offset is taken as UTC. ValueError when the value
    is neither a date nor a timestamp."""
    if value is None or value == "":
        return None
    moment = _as_datetime(value)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_datetime(value: str | date | datetime) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = (datetime.combine(date.fromisoformat(text), time()) if len(text) == 10
                      else datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")))
        except ValueError:
            raise ValueError(f"{value!r} is neither an IFS date (YYYY-MM-DD) nor a timestamp") from None
    else:
        raise ValueError(f"{value!r} is neither an IFS date nor a timestamp")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
