"""Celery tasks: thin entrypoints that carry row ids and call the library.

One task per flow (workers.tasks.order_push, ...), each taking the row id and
the business key, so Flower and the worker logs say what a message is about.
All of them are the same thin wrapper over connector.runner.run_job.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task

from connector.context import default_context
from connector.db.models import Flow
from connector.runner import RunStatus
from connector.runner import run_job as run_job_once
from workers import dispatch

log = logging.getLogger(__name__)
SHORT_RETRY_SECONDS = 60


class Parked(Exception):
    """The item was parked for a person (state `attention`); the message is
    the reason. Raised so the task ends FAILURE in Flower with the reason,
    not SUCCESS. The message is still acknowledged (acks_late acks failures)
    and never retried: the row waits for a replay."""


class ItemFailed(Exception):
    """The item failed permanently or ran out of retries (state `failed`)."""


# Expected outcomes, not crashes: Celery records them as FAILURE without
# logging a traceback as an error.
_OUTCOMES = (Parked, ItemFailed)


def _run(task: Task, job_id: int) -> str:
    result = run_job_once(default_context(), job_id)
    for woken_id, woken_flow, woken_key in result.woken:
        dispatch.wake_job(woken_id, woken_flow, woken_key)
    if result.status == RunStatus.RETRY:
        # The row already says when it is due. A short wait gets a countdown
        # message; a long one is left to the sweeper, because countdown
        # messages sit unacknowledged in worker memory until they are due.
        if result.retry_in <= SHORT_RETRY_SECONDS:
            raise task.retry(countdown=result.retry_in)
        return "retry (the sweeper wakes it when due)"
    if result.status == RunStatus.AGAIN:
        dispatch.wake_job(job_id, result.flow, result.key)
    if result.status == RunStatus.ATTENTION:
        raise Parked(result.detail)
    if result.status == RunStatus.FAILED:
        raise ItemFailed(result.detail)
    return result.status.value


def _flow_task(flow: Flow):
    @shared_task(name=dispatch.flow_task(flow.value), bind=True, acks_late=True, max_retries=None,
                 throws=_OUTCOMES)
    def run_flow(self, job_id: int, key: str) -> str:
        # `key` labels the message only: the run reads the row.
        return _run(self, job_id)

    run_flow.__doc__ = f"Run one {flow.value} item (job_id) for the business key `key`."
    return run_flow


order_push = _flow_task(Flow.ORDER_PUSH)
order_update = _flow_task(Flow.ORDER_UPDATE)
shipment_voucher = _flow_task(Flow.SHIPMENT_VOUCHER)
return_voucher = _flow_task(Flow.RETURN_VOUCHER)
inbound_receipt = _flow_task(Flow.INBOUND_RECEIPT)
replenishment = _flow_task(Flow.REPLENISHMENT)
inventory_sync = _flow_task(Flow.INVENTORY_SYNC)
inventory_activity = _flow_task(Flow.INVENTORY_ACTIVITY)
stock_shortage = _flow_task(Flow.STOCK_SHORTAGE)


@shared_task(name="workers.tasks.run_job", bind=True, acks_late=True, max_retries=None, throws=_OUTCOMES)
def run_job(self, job_id: int) -> str:
    """The generic task of earlier versions, for messages queued before an
    upgrade; its retries and wake-ups go out as the flow's own task."""
    return _run(self, job_id)


@shared_task(name="workers.tasks.process_webhook_event", acks_late=True)
def process_webhook_event(event_id: int) -> None:
    from connector.flows.webhook_router import route_event

    target = route_event(default_context(), event_id)
    if target is not None:
        dispatch.wake_job(*target)


def _wake_all(job_ids: list[int]) -> None:
    from connector import jobs

    with default_context().session() as session:
        targets = jobs.wake_targets(session, job_ids)
    for job_id, flow, key in targets:
        dispatch.wake_job(job_id, flow, key)


@shared_task(name="workers.tasks.poll", acks_late=True)
def poll(name: str) -> int:
    """One of connector.polls (orders, tracking, replenishment, receiving, returns,
    inventory_activity)."""
    from connector.polls import run_poll

    _flow, job_ids = run_poll(default_context(), name)
    _wake_all(job_ids)
    return len(job_ids)


@shared_task(name="workers.tasks.sync_inventory", acks_late=True)
def sync_inventory() -> int:
    from connector.flows.inventory_sync import request_daily_sync

    job_ids = request_daily_sync(default_context())
    _wake_all(job_ids)
    return len(job_ids)


@shared_task(name="workers.tasks.sweep", acks_late=True)
def sweep() -> dict:
    """Re-publish due rows whose wake-up was lost (a flushed Redis, a
    crashed worker, a broker that was down when the receiver stored an event)."""
    from connector.sweeper import sweep as sweep_once

    return sweep_once(default_context(), dispatch.wake_job, dispatch.wake_webhook_event,
                      queue_depths=dispatch.queue_depths)
