"""Small durable values (poll cursors, last successful runs) in the kv table."""

from __future__ import annotations

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
