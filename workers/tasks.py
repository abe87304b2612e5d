"""Celery tasks: thin entrypoints that carry row ids and call the library."""

from __future__ import annotations

import logging

from celery import shared_task

from connector.context import default_context
from connector.runner import run_job as run_job_once
from workers import dispatch

log = logging.getLogger(__name__)
SHORT_RETRY_SECONDS = 60


@shared_task(name="workers.tasks.run_job", bind=True, acks_late=True, max_retries=None)
def run_job(self, job_id: int) -> str:
    result = run_job_once(default_context(), job_id)
    for woken_id, woken_flow in result.woken:
        dispatch.wake_job(woken_id, woken_flow)
    if result.status == "retry":
        # The row already says when it is due. A short wait gets a countdown
        # message; a long one is left to the sweeper, because countdown
        # messages sit unacknowledged in worker memory until they are due.
        if result.retry_in <= SHORT_RETRY_SECONDS:
            raise self.retry(countdown=result.retry_in)
        return "retry (the sweeper wakes it when due)"
    if result.status == "again":
        dispatch.wake_job(job_id, result.flow)
    return result.status


@shared_task(name="workers.tasks.process_webhook_event", acks_late=True)
def process_webhook_event(event_id: int) -> None:
    from connector.flows.webhook_router import route_event

    target = route_event(default_context(), event_id)
    if target is not None:
        dispatch.wake_job(*target)


@shared_task(name="workers.tasks.poll", acks_late=True)
def poll(name: str) -> int:
    """One of connector.polls (orders, tracking, replenishment, receiving, returns)."""
    from connector.polls import run_poll

    flow, job_ids = run_poll(default_context(), name)
    for job_id in job_ids:
        dispatch.wake_job(job_id, flow)
    return len(job_ids)


@shared_task(name="workers.tasks.sync_inventory", acks_late=True)
def sync_inventory() -> int:
    from connector.flows.inventory_sync import request_daily_sync

    job_ids = request_daily_sync(default_context())
    for job_id in job_ids:
        dispatch.wake_job(job_id, "inventory_sync")
    return len(job_ids)


@shared_task(name="workers.tasks.sweep", acks_late=True)
def sweep() -> dict:
    """Re-publish due rows whose wake-up was lost (a flushed Redis, a
    crashed worker, a broker that was down when the receiver stored an event)."""
    from connector.sweeper import sweep as sweep_once

    return sweep_once(default_context(), dispatch.wake_job, dispatch.wake_webhook_event,
                      queue_depths=dispatch.queue_depths)
