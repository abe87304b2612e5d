"""Find work that is due but has no live wake-up, and wake it again."""

from __future__ import annotations

from datetime import timedelta
from typing import Callable, TypedDict

from sqlalchemy import or_, select, update

from connector import jobs
from connector.context import Context
from connector.db.models import WebhookEvent, utcnow


class Swept(TypedDict):
    jobs: int    # wake-ups re-published
    events: int  # webhook events re-published
    flows_left_to_their_queue: list[str]


# A retry's own countdown message normally arrives on time; only rows late by
# more than settings.sweep_grace_seconds are re-published (duplicates are
# harmless, just wasteful). A flow whose queue still holds messages is left
# alone: in a backlog longer than the grace period its jobs are queued, not
# lost, and re-publishing them every period would only pile up duplicates.
# Its lost wake-ups, if any, are found once its queue has drained.
def sweep(ctx: Context, wake_job: Callable[[int, str, str], None], wake_event: Callable[[int], None],
          grace_seconds: float | None = None, queue_depths: Callable[[], dict[str, int]] = dict) -> Swept:
    if grace_seconds is None:
        grace_seconds = ctx.settings.sweep_grace_seconds
    queued = frozenset(flow for flow, depth in queue_depths().items() if depth > 0)
    with ctx.session() as session:
        due = jobs.due_job_ids(session, grace_seconds=grace_seconds, queued_flows=queued)
        cutoff = utcnow() - timedelta(seconds=grace_seconds)
        events = session.execute(
            select(WebhookEvent.id)
            .where(WebhookEvent.processed_at.is_(None), WebhookEvent.received_at <= cutoff,
                   or_(WebhookEvent.swept_at.is_(None), WebhookEvent.swept_at <= cutoff))
            .limit(500)
        ).scalars().all()
        if events:
            session.execute(update(WebhookEvent).where(WebhookEvent.id.in_(events))
                            .values(swept_at=utcnow()).execution_options(synchronize_session=False))
    for job_id, flow, key in due:
        wake_job(job_id, flow, key)
    for event_id in events:
        wake_event(event_id)
    return {"jobs": len(due), "events": len(events), "flows_left_to_their_queue": sorted(queued)}
