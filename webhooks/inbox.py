"""Persist a verified webhook in the `webhook_events` inbox, exactly once per
webhook-id (ShipBob keeps the id across retries)."""

from __future__ import annotations

from dataclasses import dataclass

from connector.db.models import WebhookEvent, utcnow
from connector.db.session import dialect_insert, session_scope
from connector.webhook_outcomes import StoredOutcome

_TOPIC_MAX = WebhookEvent.__table__.c.topic.type.length
WEBHOOK_ID_MAX = WebhookEvent.__table__.c.webhook_id.type.length


@dataclass(frozen=True)
class Stored:
    event_id: int | None  # None: this webhook-id was already in the inbox

    @property
    def duplicate(self) -> bool:
        return self.event_id is None


def store_event(database_url: str, webhook_id: str, topic: str, body: str, handled: bool,
                statement_timeout: float | None = None) -> Stored:
    """Insert and commit; a duplicate webhook-id inserts nothing.

    An unhandled topic is stored already processed (outcome IGNORED), so
    it is kept for inspection but the sweeper never wakes a worker for it.
    """
    values = {"webhook_id": webhook_id, "topic": topic[:_TOPIC_MAX], "body": body}
    if not handled:
        values.update(outcome=StoredOutcome.IGNORED, processed_at=utcnow())
    with session_scope(database_url, statement_timeout) as session:
        insert = dialect_insert(session)
        statement = (
            insert(WebhookEvent)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[WebhookEvent.webhook_id])
            .returning(WebhookEvent.id)
        )
        event_id = session.execute(statement).scalar_one_or_none()
    return Stored(event_id)
