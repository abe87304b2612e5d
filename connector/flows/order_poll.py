"""Beat: find released IFS orders of the mapped sites and record a job each.

The cursor is the newest order date seen (IFS's clock, not ours), and every
poll re-reads an overlap window before it, so an order committed late or
sitting on a page boundary is still found; `ensure_job` makes re-seeing an
order free.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import jobs, kv, stock_levels
from connector.context import Context
from connector.db.models import Flow, Job, JobState
from connector.errors import ConnectorError
from connector.sku_lookup import inventory_ids_for

log = logging.getLogger(__name__)

CURSOR_KEY = "poll.orders.cursor"
FIRST_POLL_LOOKBACK = timedelta(days=30)
CANCEL_LOOKBACK = timedelta(days=30)


def poll_orders(ctx: Context, since: datetime | None = None, until: datetime | None = None) -> list[int]:
    """Returns the ids of jobs created. `since`/`until` given = a backfill,
    which leaves the cursor alone."""
    backfill = since is not None
    if since is None:
        with ctx.session() as session:
            cursor = kv.get(session, CURSOR_KEY)
        since = (_parse(cursor) if cursor else datetime.now(timezone.utc) - FIRST_POLL_LOOKBACK)
        since -= timedelta(minutes=ctx.settings.order_poll_overlap_minutes)
    # Read every page first: no database transaction stays open across API calls.
    found = ctx.customer_orders.released_unpushed_since(ctx.settings.mapped_sites(), since, until)
    created: list[int] = []
    new_orders: list[str] = []
    newest: str | None = None
    with ctx.session() as session:
        for order in found:
            if order.changed and (newest is None or order.changed > newest):
                newest = order.changed
            job_id = jobs.ensure_job(session, Flow.ORDER_PUSH.value, order.order_no, ifs_ref=order.order_no)
            if job_id is not None:
                created.append(job_id)
                new_orders.append(order.order_no)
        if not backfill and newest:
            kv.put(session, CURSOR_KEY, newest)
    _warm_sku_cache(ctx, new_orders)
    return created


def _warm_sku_cache(ctx: Context, order_nos: list[str]) -> None:
    """Look up the SKUs of the new orders before their pushes run: one line
    query per 50 orders, one ShipBob product call per 50 SKUs and one stock
    levels call per 250, where each push would otherwise look up its own few
    SKUs and their stock (bench/order_push.py).
    Only an optimisation: on failure the pushes look them up themselves."""
    try:
        parts = ctx.customer_orders.part_nos(order_nos)
        skus = {sku for part in parts if (sku := ctx.mapping.sku_for(part)) is not None}
        if skus:
            inventory_ids_for(ctx, skus)
            if ctx.mapping.shortage != "off":  # and their stock, for the pushes' check
                stock_levels.snapshots(ctx, skus)
    except ConnectorError as exc:
        log.warning("SKU cache not warmed; the pushes look the SKUs up themselves: %s", exc)


def poll_unpushed(ctx: Context) -> list[int]:
    """The catch-up for what the date cursor cannot see: an order entered long
    ago and released only now, or one whose push ended "skipped" because it
    was not released yet. Slower (it filters on the ShipBob id field), so it
    runs on its own, less frequent schedule."""
    order_nos = ctx.customer_orders.released_unpushed(ctx.settings.mapped_sites())
    with ctx.session() as session:
        woken = [request_released(session, order_no) for order_no in order_nos]
    return [job_id for job_id in woken if job_id is not None]


def request_released(session: Session, order_no: str) -> int | None:
    """One released order, as `poll_unpushed` (and the IFS order-released
    event) records it: a new push job, or a known one that ended without
    pushing run again. Returns the job id to wake, or None."""
    job_id = jobs.ensure_job(session, Flow.ORDER_PUSH.value, order_no, ifs_ref=order_no)
    if job_id is not None:
        return job_id
    job = session.execute(select(Job).where(
        Job.flow == Flow.ORDER_PUSH.value, Job.key == order_no)).scalar_one()
    if job.state != JobState.DONE.value or job.shipbob_refs:
        return None  # pushed, on its way, or parked for a person: nothing to do
    return jobs.request_job(session, Flow.ORDER_PUSH.value, order_no, hurry=False).job_id


def poll_cancellations(ctx: Context) -> list[int]:
    """IFS orders cancelled after they were pushed: their push job runs again
    and cancels at ShipBob (connector.flows.order_push). Orders entered more
    than CANCEL_LOOKBACK ago have long shipped and are not asked about."""
    # Not only orders with ShipBob ids: a push that created the ShipBob order
    # but failed before its write-back leaves them empty, and that order must
    # be cancelled too (the push job finds it through its bindings).
    order_nos = ctx.customer_orders.cancelled_since(ctx.settings.mapped_sites(),
                                                     datetime.now(timezone.utc) - CANCEL_LOOKBACK)
    with ctx.session() as session:
        woken = [request_cancelled(session, order_no) for order_no in order_nos]
    return [job_id for job_id in woken if job_id is not None]


def request_cancelled(session: Session, order_no: str) -> int | None:
    """One cancelled order, as `poll_cancellations` (and the IFS
    order-cancelled event) records it: its push job runs again and cancels at
    ShipBob. Returns the job id to wake, or None."""
    from connector.flows.order_push import CANCEL_HANDLED

    job = session.execute(select(Job).where(
        Job.flow == Flow.ORDER_PUSH.value, Job.key == order_no)).scalar_one_or_none()
    if job is None or job.payload.get(CANCEL_HANDLED):
        return None  # never seen by us, or its cancellation is handled
    if job.state == JobState.FAILED.value:
        # The order is cancelled now: the run cancels, it does not push again.
        jobs.replay(session, job.id)
        return job.id
    requested = jobs.request_job(session, Flow.ORDER_PUSH.value, order_no, hurry=False)
    return requested.job_id if requested.wake else None


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
