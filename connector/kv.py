"""Small durable values (poll cursors, last successful runs) in the kv table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from connector.db.models import KeyValue


def get(session: Session, key: str) -> str | None:
    row = session.get(KeyValue, key)
    return row.value if row else None


def put(session: Session, key: str, value: str) -> None:
    row = session.get(KeyValue, key)
    if row is None:
        session.add(KeyValue(key=key, value=value))
    else:
        row.value = value
    session.flush()


@dataclass(frozen=True)
class PollCursor:
    """Where a time-windowed poll starts: when its last run started, less an
    overlap (clocks and late commits lose nothing); the first run looks back
    `first_lookback`."""

    key: str
    first_lookback: timedelta
    overlap: timedelta

    def since(self, session: Session, now: datetime) -> datetime:
        cursor = get(session, self.key)
        return (datetime.fromisoformat(cursor) if cursor else now - self.first_lookback) - self.overlap

    def advance(self, session: Session, now: datetime) -> None:
        put(session, self.key, now.isoformat())
