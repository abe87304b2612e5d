"""The order push's recipe on an in-memory CustomerOrders gateway: what it
pushes, binds and writes back, and what a cancellation does. ShipBob is the
sandbox over HTTP, the bindings and jobs live in PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from connector import jobs
from connector.db.models import Binding, Job
from connector.flows.order_push import CANCEL_HANDLED
from connector.runner import run_job
from tests.helpers import hook

from .fake_customer_orders import FakeCustomerOrders, line, order


@pytest.fixture
def fake(ctx, sandboxes):
    _ifs, shipbob = sandboxes
    hook(shipbob, "seed", {"skus": ["P1", "P2", "P3"]})
    gateway = FakeCustomerOrders()
    ctx.customer_orders = gateway  # the flows reach IFS only through this gateway
    return gateway


def push(ctx, order_no):
    with ctx.session() as session:
        job_id = jobs.request_job(session, "order_push", order_no, ifs_ref=order_no).job_id
    return job_id, run_job(ctx, job_id)


def shipbob_orders(sandboxes):
    return hook(sandboxes[1], "dump/orders", method="GET")


def bindings(ctx):
    with ctx.session() as session:
        return {b.ifs_key: (b.shipbob_id, b.data) for b in session.execute(select(Binding)).scalars()}


def job_row(ctx, job_id):
    with ctx.session() as session:
        return session.get_one(Job, job_id)


def test_a_released_order_is_pushed_per_site_bound_and_its_ids_written_back(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 2), line(2, "P2", 1, site="S02"), line(3, "P3", 4, shipped=1),
                           line(4, "P1", 1, state="Cancelled")])
    job_id, result = push(ctx, "C1")
    assert result.status == "done", result
    pushed = {o["reference_id"]: o for o in shipbob_orders(sandboxes)}
    assert sorted(pushed) == ["C1", "C1-S02"]
    # the open quantity of the open lines only; the cancelled line stays behind
    assert sorted((p["reference_id"], p["quantity"]) for p in pushed["C1"]["products"]) == [("P1", 2), ("P3", 3)]
    ids = [str(pushed["C1"]["id"]), str(pushed["C1-S02"]["id"])]
    # the ids go to the gateway as a list, in site order; the job row shows them joined
    assert fake.written == [("C1", ids)]
    assert job_row(ctx, job_id).shipbob_refs == ids
    assert result.detail == f"ShipBob order(s) {', '.join(ids)}"
    shipbob_id, data = bindings(ctx)["C1"]
    assert shipbob_id == ids[0] and data["order_no"] == "C1" and data["site"] == "S01"
    assert data["lines"] == [
        {"line_no": "1", "rel_no": "1", "line_item_no": 0, "sku": "P1", "quantity": 2, "external_line_id": 1},
        {"line_no": "3", "rel_no": "1", "line_item_no": 0, "sku": "P3", "quantity": 3, "external_line_id": 2}]


def test_a_replayed_push_creates_nothing_and_writes_the_same_ids(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1)])
    job_id, first = push(ctx, "C1")
    assert first.status == "done"
    with ctx.session() as session:
        jobs.replay(session, job_id)
    assert run_job(ctx, job_id).status == "done"
    [created] = shipbob_orders(sandboxes)
    assert fake.written == [("C1", [str(created["id"])])] * 2


def test_an_order_not_released_and_never_pushed_is_skipped(ctx, fake, sandboxes):
    fake.add(order("C1", state="Planned"), [line(1, "P1", 1)])
    job_id, result = push(ctx, "C1")
    assert (result.status, result.detail) == ("done", "skipped: order is Planned")
    assert shipbob_orders(sandboxes) == [] and fake.written == []
    assert job_row(ctx, job_id).shipbob_refs in (None, [])


def test_a_business_problem_parks_the_order_and_nothing_is_pushed(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1), line(2, "UNKNOWN", 1)])
    _job_id, result = push(ctx, "C1")
    assert result.status == "attention"
    assert "line 2/1 SKU 'UNKNOWN' is unknown at ShipBob" in job_row(ctx, _job_id).reason
    assert shipbob_orders(sandboxes) == [] and fake.written == []


def test_a_site_left_out_before_the_order_shipped_is_pushed_and_every_id_written(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1)])
    job_id, result = push(ctx, "C1")
    assert result.status == "done"
    # a line at a second site that was not pushed, and the order shipped meanwhile
    stored = fake.stored["C1"]
    stored.lines.append(line(2, "P2", 2, site="S02"))
    fake.set_state("C1", "PartiallyDelivered")
    with ctx.session() as session:
        jobs.replay(session, job_id)
    result = run_job(ctx, job_id)
    assert result.status == "done", result
    pushed = {o["reference_id"]: str(o["id"]) for o in shipbob_orders(sandboxes)}
    ids = [pushed["C1"], pushed["C1-S02"]]
    assert fake.written[-1] == ("C1", ids)
    assert job_row(ctx, job_id).shipbob_refs == ids
    assert result.detail == f"ShipBob order(s) {', '.join(ids)} (order is PartiallyDelivered)"


def test_a_cancelled_order_is_cancelled_at_shipbob_by_the_ids_ifs_holds(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1)])
    job_id, _ = push(ctx, "C1")
    [created] = shipbob_orders(sandboxes)
    fake.set_state("C1", "Cancelled")
    assert fake.stored["C1"].order.shipbob_ids == (str(created["id"]),)
    with ctx.session() as session:  # only the ids IFS holds can find it now
        session.execute(delete(Binding))
    with ctx.session() as session:
        jobs.replay(session, job_id)
    result = run_job(ctx, job_id)
    assert (result.status, result.detail) == ("done", f"cancelled in IFS: ShipBob order(s) {created['id']} cancelled")
    [after] = shipbob_orders(sandboxes)
    assert after["status"] == "Cancelled"
    assert job_row(ctx, job_id).payload[CANCEL_HANDLED] is True


def test_a_cancelled_order_without_ids_in_ifs_is_cancelled_through_its_bindings(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1)])
    job_id, _ = push(ctx, "C1")
    # the push created and bound the ShipBob order, but IFS never got its id
    fake.stored["C1"].order = order("C1", state="Cancelled")
    with ctx.session() as session:
        jobs.replay(session, job_id)
    assert run_job(ctx, job_id).status == "done"
    [after] = shipbob_orders(sandboxes)
    assert after["status"] == "Cancelled"


def test_an_order_cancelled_before_it_was_pushed_needs_nothing(ctx, fake, sandboxes):
    fake.add(order("C1", state="Cancelled"), [line(1, "P1", 1)])
    job_id, result = push(ctx, "C1")
    assert (result.status, result.detail) == ("done", "cancelled in IFS before it was pushed: nothing to do")
    assert shipbob_orders(sandboxes) == []
    assert job_row(ctx, job_id).payload[CANCEL_HANDLED] is True
