"""Wake-up calls: publish a row id to the queue of its flow.

The database row exists before this is called; if publishing fails the
sweeper publishes later (shared/design.md, invariant 1), so callers may
swallow broker errors after logging them.
"""

from __future__ import annotations

from celery import Celery

from connector.db.models import Flow
from workers.app import app, make_app, queue_for

PROCESS_WEBHOOK = "workers.tasks.process_webhook_event"
# The generic task of earlier versions: still registered so messages queued
# before an upgrade run; nothing publishes it any more.
RUN_JOB = "workers.tasks.run_job"


def flow_task(flow: str) -> str:
    """The task of one flow (workers.tasks.order_push, ...)."""
    return f"workers.tasks.{flow}"


def wake_webhook_event(event_id: int) -> None:
    app.send_task(PROCESS_WEBHOOK, args=[event_id], queue="webhooks")


class WebhookPublisher:
    """The receiver's wake-up call: a failed or silent broker costs a
    delivery at most about `timeout` seconds (each broker socket operation,
    Redis), tried once. The event row is committed first, so a wake-up that
    gives up is published by the sweeper instead."""

    def __init__(self, timeout: float):
        self.app: Celery = make_app(publish_timeout=timeout)

    def __call__(self, event_id: int) -> None:
        self.app.send_task(PROCESS_WEBHOOK, args=[event_id], queue="webhooks", retry=False)

    def wake_job(self, job_id: int, flow: str, key: str) -> None:
        """The same for a job row the receiver recorded (an IFS event)."""
        self.app.send_task(flow_task(flow), kwargs={"job_id": job_id, "key": key}, queue=queue_for(flow),
                           retry=False)


def wake_job(job_id: int, flow: str, key: str, countdown: float | None = None) -> None:
    """Publish the flow's task. The key only labels the message (Flower's
    task list reads `order_push(job_id=7, key='C1000005')`); the run reads
    everything from the row."""
    app.send_task(flow_task(flow), kwargs={"job_id": job_id, "key": key}, queue=queue_for(flow),
                  countdown=countdown)


def queue_depths(celery_app=app) -> dict[str, int]:
    """Messages waiting in each flow's queue; {} when the broker cannot say
    (then the sweeper re-publishes as if every queue were empty)."""
    try:
        with celery_app.connection_for_read() as connection:
            channel = connection.default_channel
            # Declared as the workers declare them (idempotent), not passively:
            # kombu's Redis transport does not apply global_keyprefix to the
            # EXISTS a passive declare sends, so it would report no queue.
            return {flow.value: celery_app.amqp.queues[queue_for(flow.value)](channel)
                    .queue_declare().message_count for flow in Flow}
    except Exception:  # noqa: BLE001 - a sweep must not fail on a probe
        return {}
