"""Command-line value types shared by the commands."""

from __future__ import annotations

from datetime import datetime, timezone

import click


class IsoDateTime(click.ParamType):
    """ISO 8601 to the minute, second or day: 2026-11-26, 2026-11-26T09:30,
    2026-11-26 09:30:15, 2026-11-26T09:30Z, 2026-11-26T10:30+01:00.
    No offset means UTC; the value is an aware UTC datetime."""

    name = "ISO-8601"

    def convert(self, value, param, ctx) -> datetime:
        if isinstance(value, datetime):
            parsed = value
        else:
            try:
                parsed = datetime.fromisoformat(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not an ISO 8601 date or time, e.g. 2026-11-26 or 2026-11-26T09:30",
                          param, ctx)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)


ISO_DATETIME = IsoDateTime()
