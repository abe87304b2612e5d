"""Wake-up calls: publish a row id to the queue of its flow.

The database row exists before this is called; if publishing fails the
sweeper publishes later (shared/design.md, invariant 1), so callers may
swallow broker errors after logging them.
"""

from __future__ import annotations

from workers.app import app, queue_for

PROCESS_WEBHOOK = "workers.tasks.process_webhook_event"
RUN_JOB = "workers.tasks.run_job"


def wake_webhook_event(event_id: int) -> None:
    app.send_task(PROCESS_WEBHOOK, args=[event_id], queue="webhooks")


def wake_job(job_id: int, flow: str, countdown: float | None = None) -> None:
    app.send_task(RUN_JOB, args=[job_id], queue=queue_for(flow), countdown=countdown)
