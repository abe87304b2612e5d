"""The order polls on an in-memory CustomerOrders gateway: the cursor and its
overlap, backfills, the SKU warm-up, the catch-up of released orders and the
cancellations. Jobs and the cursor live in PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from connector import jobs, kv
from connector.db.models import Job, JobState
from connector.errors import TransientError
from connector.flows.order_poll import (
    CANCEL_LOOKBACK,
    CURSOR_KEY,
    FIRST_POLL_LOOKBACK,
    poll_cancellations,
    poll_orders,
    poll_unpushed,
)
from connector.flows.order_push import CANCEL_HANDLED
from tests.helpers import hook

from .fake_customer_orders import FakeCustomerOrders, line, order, stamp


@pytest.fixture
def fake(ctx, sandboxes):
    hook(sandboxes[1], "seed", {"skus": ["P1", "P2"]})
    gateway = FakeCustomerOrders()
    ctx.customer_orders = gateway
    return gateway


def job_keys(ctx, ids):
    with ctx.session() as session:
        return sorted(session.execute(select(Job.key).where(Job.id.in_(ids))).scalars())


def cursor(ctx):
    with ctx.session() as session:
        return kv.get(session, CURSOR_KEY)


def since_asked(fake):
    return [args[1] for name, args in fake.calls if name == "released_unpushed_since"]


def test_the_first_poll_looks_back_and_records_one_job_per_new_released_order(ctx, fake):
    newest = stamp(timedelta(hours=1))
    fake.add(order("C1"), [line(1, "P1", 1)], changed=stamp(timedelta(hours=3)))
    fake.add(order("C2"), [line(1, "P2", 1)], changed=newest)
    fake.add(order("C9"), [line(1, "P2", 1)], changed=stamp(FIRST_POLL_LOOKBACK + timedelta(days=1)))
    fake.add(order("C3", state="Planned"), [line(1, "P1", 1)])
    fake.add(order("C4", ids=["99"]), [line(1, "P1", 1)])          # pushed already
    fake.add(order("C5", site="S77"), [line(1, "P1", 1)])          # not a mapped site
    before = datetime.now(timezone.utc)
    created = poll_orders(ctx)
    assert job_keys(ctx, created) == ["C1", "C2"]
    [(sites, since, until)] = [args for name, args in fake.calls if name == "released_unpushed_since"]
    assert sites == ctx.settings.mapped_sites() and until is None
    overlap = timedelta(minutes=ctx.settings.order_poll_overlap_minutes)
    assert before - FIRST_POLL_LOOKBACK - overlap <= since <= datetime.now(timezone.utc) - FIRST_POLL_LOOKBACK
    # the cursor is IFS's newest stamp, as IFS wrote it
    assert cursor(ctx) == newest


def test_the_next_poll_rereads_the_overlap_and_records_only_what_is_new(ctx, fake):
    newest = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    fake.add(order("C1"), [line(1, "P1", 1)], changed=newest.strftime("%Y-%m-%dT%H:%M:%SZ"))
    poll_orders(ctx)
    # committed late, with a stamp a minute before the newest one seen
    fake.add(order("C2"), [line(1, "P2", 1)], changed=stamp(timedelta(hours=1, minutes=1)))
    created = poll_orders(ctx)
    assert job_keys(ctx, created) == ["C2"]
    overlap = timedelta(minutes=ctx.settings.order_poll_overlap_minutes)
    assert since_asked(fake)[-1] == newest - overlap
    assert cursor(ctx) == newest.strftime("%Y-%m-%dT%H:%M:%SZ")     # never moves back
    assert poll_orders(ctx) == []


def test_a_backfill_reads_its_window_and_leaves_the_cursor_alone(ctx, fake):
    fake.add(order("C1"), [line(1, "P1", 1)], changed="2026-11-01T09:00:00Z")
    fake.add(order("C2"), [line(1, "P1", 1)], changed="2026-11-03T09:00:00Z")
    since, until = datetime(2026, 11, 1, tzinfo=timezone.utc), datetime(2026, 11, 2, tzinfo=timezone.utc)
    created = poll_orders(ctx, since=since, until=until)
    assert job_keys(ctx, created) == ["C1"]
    assert fake.calls[0] == ("released_unpushed_since", (ctx.settings.mapped_sites(), since, until))
    assert cursor(ctx) is None


def test_the_poll_warms_the_sku_cache_for_the_new_orders_only(ctx, fake):
    fake.add(order("C1"), [line(1, "P1", 1)])
    poll_orders(ctx)
    fake.add(order("C2"), [line(1, "P2", 1)], changed=stamp(timedelta(minutes=30)))
    poll_orders(ctx)
    assert [args for name, args in fake.calls if name == "part_nos"] == [(["C1"],), (["C2"],)]
    assert ctx.coordinator.cache_get("sku:P1") and ctx.coordinator.cache_get("sku:P2")


def test_a_failed_warm_up_does_not_fail_the_poll(ctx, fake):
    fake.add(order("C1"), [line(1, "P1", 1)])
    fake.fail_part_nos = TransientError("IFS GET CustomerOrderLineSet -> HTTP 503")
    assert job_keys(ctx, poll_orders(ctx)) == ["C1"]
    assert ctx.coordinator.cache_get("sku:P1") is None


def test_the_catch_up_records_released_orders_and_reruns_pushes_that_skipped(ctx, fake):
    fake.add(order("C1"), [line(1, "P1", 1)])           # never seen
    fake.add(order("C2"), [line(1, "P1", 1)])           # pushed while Planned: skipped
    fake.add(order("C3"), [line(1, "P1", 1)])           # its push is on its way
    with ctx.session() as session:
        skipped = jobs.request_job(session, "order_push", "C2", ifs_ref="C2").job_id
        pending = jobs.request_job(session, "order_push", "C3", ifs_ref="C3").job_id
        session.get_one(Job, skipped).state = JobState.DONE.value
    woken = poll_unpushed(ctx)
    assert job_keys(ctx, woken) == ["C1", "C2"]
    assert pending not in woken
    assert ("released_unpushed", (ctx.settings.mapped_sites(),)) in fake.calls


def test_cancellations_wake_the_push_jobs_of_orders_we_saw(ctx, fake):
    fake.add(order("C1", state="Cancelled"), [line(1, "P1", 1)])
    fake.add(order("C2", state="Cancelled"), [line(1, "P1", 1)])     # never seen by us
    fake.add(order("C3", state="Cancelled"), [line(1, "P1", 1)])     # cancellation handled
    with ctx.session() as session:
        seen = jobs.request_job(session, "order_push", "C1", ifs_ref="C1").job_id
        handled = jobs.request_job(session, "order_push", "C3", ifs_ref="C3").job_id
        for job_id in (seen, handled):
            session.get_one(Job, job_id).state = JobState.DONE.value
        row = session.get_one(Job, handled)
        row.payload = {**row.payload, CANCEL_HANDLED: True}
    before = datetime.now(timezone.utc)
    assert poll_cancellations(ctx) == [seen]
    [(sites, since)] = [args for name, args in fake.calls if name == "cancelled_since"]
    assert sites == ctx.settings.mapped_sites()
    assert before - CANCEL_LOOKBACK <= since <= datetime.now(timezone.utc) - CANCEL_LOOKBACK
