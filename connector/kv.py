"""Small durable values (poll cursors, last successful runs) in the kv table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connector.db.models import KeyValue, utcnow
from connector.db.session import dialect_insert


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


def upsert(session: Session, key: str, value: str) -> None:
    """`put` in one statement: two writers of a new key do not collide."""
    insert = dialect_insert(session)(KeyValue).values(key=key, value=value, updated_at=utcnow())
    session.execute(insert.on_conflict_do_update(index_elements=[KeyValue.key],
                                                 set_={"value": value, "updated_at": utcnow()}))


def with_prefix(session: Session, prefix: str) -> dict[str, str]:
    """Every value whose key starts with `prefix`, by the rest of the key."""
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = session.execute(select(KeyValue.key, KeyValue.value)
                           .where(KeyValue.key.like(pattern, escape="\\")))
    return {key[len(prefix):]: value for key, value in rows}


def delete_if(session: Session, key: str, value: str) -> bool:
    """Delete the key only while it still holds `value` (a concurrent writer
    that changed it wins); True when deleted."""
    result = session.execute(delete(KeyValue).where(KeyValue.key == key, KeyValue.value == value)
                             .execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))


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
