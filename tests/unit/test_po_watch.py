"""Which purchase orders the replenishment poll hands back to their job after
their WROs exist (connector/flows/po_watch.py), on an in-memory purchasing
gateway and a real database: only a change to the order wakes its job, an
open order is re-read and a settled one forgotten, and ShipBob is never asked."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from connector import jobs
from connector.bindings import BindingKind, bind
from connector.context import Context
from connector.db.models import Flow, Job, JobState, KeyValue
from connector.flows import po_watch
from connector.flows.replenishment import poll_replenishment
from connector.settings import Settings
from tests.unit.fake_purchasing import FakePurchasing
from tests.unit.test_replenishment_flow import NoShipBob

FLOW = Flow.REPLENISHMENT.value


@pytest.fixture
def world(clean_db):
    ifs = FakePurchasing()
    ctx = Context(Settings(database_url=clean_db))
    ctx.__dict__["purchasing"] = ifs
    ctx.__dict__["shipbob"] = NoShipBob()
    return ctx, ifs


def examined(ctx: Context, ifs: FakePurchasing, po: str, state: JobState = JobState.DONE) -> int:
    """The order's job after a run that made its WRO and recorded what it examined."""
    order = ifs.orders[po]
    with ctx.session() as session:
        job_id = jobs.request_job(session, FLOW, po).job_id
        session.execute(update(Job).where(Job.id == job_id).values(state=state.value))
        bind(session, BindingKind.WRO, po, f"wro-{po}", {"po": po, "inventory_ids": [1]})
        po_watch.record_examined(session, po, po_watch.version(
            ifs.lines(po), ifs.is_order_closed(order), ifs.is_closed))
    return job_id


def state_of(ctx: Context, job_id: int) -> str:
    with ctx.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.state


def recorded(ctx: Context) -> set[str]:
    with ctx.session() as session:
        return set(po_watch.examined(session))


def test_an_unchanged_order_wakes_nothing_and_costs_no_shipbob_call(world):
    ctx, ifs = world
    ifs.add_order("P1", [("A", 10)])
    ifs.add_order("P2", [("B", 1)])  # released, no WRO yet: not watched
    examined(ctx, ifs, "P1")
    with ctx.session() as session:
        jobs.request_job(session, FLOW, "P2")

    assert poll_replenishment(ctx) == []
    assert ifs.line_reads == [["P1"]]  # one read of the watched order's lines


@pytest.mark.parametrize("change", ["increase", "decrease", "cancel line", "add line"])
def test_a_change_to_a_line_wakes_the_orders_done_job_once(world, change):
    ctx, ifs = world
    [a] = ifs.add_order("P1", [("A", 10)])
    job_id = examined(ctx, ifs, "P1")
    if change == "increase":
        ifs.set_line(a.key, qty_due=15.0)
    elif change == "decrease":
        ifs.set_line(a.key, qty_due=5.0)
    elif change == "cancel line":
        ifs.set_line(a.key, state="Cancelled")
    else:
        ifs._lines["P1"].append(a.__class__(a.key.__class__("P1", "2", "1"), "B", 3.0, 0.0, "Released"))

    assert poll_replenishment(ctx) == [job_id]
    assert state_of(ctx, job_id) == JobState.PENDING.value
    assert poll_replenishment(ctx) == []  # already due: no second wake-up


def test_receipts_are_not_a_change(world):
    ctx, ifs = world
    [a] = ifs.add_order("P1", [("A", 10)])
    examined(ctx, ifs, "P1")
    ifs.receive_by_hand(a.key, 4)
    ifs.set_line(a.key, state="Arrived")

    assert poll_replenishment(ctx) == []


def test_a_cancelled_order_is_examined_once_then_forgotten(world):
    ctx, ifs = world
    [a] = ifs.add_order("P1", [("A", 10)])
    job_id = examined(ctx, ifs, "P1")
    ifs.set_order_state("P1", "Cancelled")  # off the released list
    ifs.set_line(a.key, state="Cancelled")

    assert poll_replenishment(ctx) == [job_id]
    # the run examines the cancelled order (and parks it): its version is recorded
    with ctx.session() as session:
        session.execute(update(Job).where(Job.id == job_id).values(state=JobState.ATTENTION.value))
        po_watch.record_examined(session, "P1", po_watch.version(ifs.lines("P1"), True, ifs.is_closed))
    assert poll_replenishment(ctx) == []
    assert recorded(ctx) == set()  # settled: not read again
    ifs.line_reads.clear()
    assert poll_replenishment(ctx) == []
    assert ifs.line_reads == []


def test_a_received_order_is_forgotten_without_a_run(world):
    ctx, ifs = world
    [a] = ifs.add_order("P1", [("A", 10)])
    examined(ctx, ifs, "P1")
    ifs.receive_by_hand(a.key, 10)
    ifs.set_line(a.key, state="Received")
    ifs.set_order_state("P1", "Received")

    assert poll_replenishment(ctx) == []
    assert recorded(ctx) == set()


@pytest.mark.parametrize("state, woken, after", [
    (JobState.ATTENTION, True, JobState.PENDING),  # parked: the change is news
    (JobState.RESOLVED, True, JobState.PENDING),   # closed by a person: reopened
    (JobState.IGNORED, True, JobState.PENDING),
    (JobState.PENDING, False, JobState.PENDING),   # its run reads the order as it is now
    (JobState.RUNNING, False, JobState.RUNNING),
    (JobState.FAILED, False, JobState.FAILED),     # waits for a person's replay
])
def test_a_change_reaches_the_job_whatever_it_is_doing(world, state, woken, after):
    ctx, ifs = world
    [a] = ifs.add_order("P1", [("A", 10)])
    job_id = examined(ctx, ifs, "P1", state)
    ifs.set_line(a.key, qty_due=12.0)

    assert poll_replenishment(ctx) == ([job_id] if woken else [])
    assert state_of(ctx, job_id) == after.value


def test_an_order_with_wros_from_before_versions_were_recorded_is_examined_once(world):
    ctx, ifs = world
    ifs.add_order("P1", [("A", 10)])
    job_id = examined(ctx, ifs, "P1")
    with ctx.session() as session:
        session.execute(delete(KeyValue).where(KeyValue.key.startswith(po_watch.EXAMINED_PREFIX)))

    assert poll_replenishment(ctx) == [job_id]


def test_an_order_ifs_no_longer_has_is_handed_to_its_job_and_forgotten(world):
    ctx, ifs = world
    ifs.add_order("P1", [("A", 10)])
    job_id = examined(ctx, ifs, "P1")
    del ifs.orders["P1"], ifs._lines["P1"]

    assert poll_replenishment(ctx) == [job_id]
    assert recorded(ctx) == set()
