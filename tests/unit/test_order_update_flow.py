"""IFS edits after the push, on an in-memory CustomerOrders gateway: what the
edits poll asks for, what the update sends to ShipBob (the sandbox over HTTP,
its request counters the proof of what was called), what it stores in the
order binding, and when it parks. Bindings and jobs live in PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from sqlalchemy import select

from connector import jobs
from connector.db.models import Binding, Flow, Job, JobState
from connector.errors import TransientError
from connector.flows import order_update
from connector.flows.order_update import poll_edits
from connector.ifs_events import record_event
from connector.reconcile import _edits_not_at_shipbob
from connector.runner import RunStatus, run_job
from connector.shipbob.shipment_edits import ShipmentAddress
from tests.helpers import hook

from .fake_customer_orders import ADDRESS, FakeCustomerOrders, line, order

SEATTLE = dataclasses.replace(ADDRESS, address1="400 Broad St", city="Seattle", state="WA", zip_code="98109")
EDITS = ("PUT /2026-01/shipment/{shipment_id}:updateAddress",
         "POST /2026-01/shipment/{shipment_id}:updateLineItems",
         "PUT /2026-01/shipment:bulkUpdateShippingService",
         "POST /2026-01/shipment/{shipment_id}:cancel")


@pytest.fixture
def fake(ctx, sandboxes):
    _ifs, shipbob = sandboxes
    hook(shipbob, "seed", {"skus": ["P1", "P2", "P3"],
                           "levels": {sku: {"156": 100, "157": 100} for sku in ("P1", "P2", "P3")}})
    gateway = FakeCustomerOrders()
    ctx.customer_orders = gateway  # the flows reach IFS only through this gateway
    return gateway


def push(ctx, order_no):
    with ctx.session() as session:
        job_id = jobs.request_job(session, Flow.ORDER_PUSH.value, order_no, ifs_ref=order_no).job_id
    result = run_job(ctx, job_id)
    assert result.status == RunStatus.DONE, result


def poll_and_run(ctx):
    return [run_job(ctx, job_id) for job_id in poll_edits(ctx)]


def requests(sandboxes) -> Counter:
    return Counter(hook(sandboxes[1], "stats", method="GET")["requests"])


def shipment_of(sandboxes, reference_id) -> dict:
    [found] = [o for o in hook(sandboxes[1], "dump/orders", method="GET") if o["reference_id"] == reference_id]
    [shipment] = found["shipments"]
    return shipment


def units(shipment) -> dict[str, int]:
    return {p["sku"]: sum(i["quantity"] for i in p["inventory_items"]) for p in shipment["products"]}


def binding_data(ctx, reference_id) -> dict:
    with ctx.session() as session:
        return session.execute(select(Binding).where(Binding.ifs_key == reference_id)).scalar_one().data


def update_job(ctx, order_no) -> Job:
    with ctx.session() as session:
        return session.execute(select(Job).where(
            Job.flow == Flow.ORDER_UPDATE.value, Job.key == order_no)).scalar_one()


def test_an_order_nobody_edited_costs_no_shipbob_call(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1), line(2, "P2", 2)])
    push(ctx, "C1")
    before = requests(sandboxes)
    # The push stored what it sent and the IFS stamp: the poll sees nothing new.
    assert poll_edits(ctx) == []
    # Touched in IFS without a change that matters to ShipBob: one job, no ShipBob call.
    fake.edit("C1")
    [result] = poll_and_run(ctx)
    assert (result.status, result.detail) == (RunStatus.DONE, "unchanged")
    assert poll_edits(ctx) == []  # that stamp is now known
    assert requests(sandboxes) == before


def test_address_quantity_and_ship_via_edits_reach_the_unpicked_shipment(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1), line(2, "P2", 2)])
    push(ctx, "C1")
    before = requests(sandboxes)
    fake.edit("C1", address=SEATTLE, ship_via="FDX-ON", lines=[line(1, "P1", 1), line(2, "P2", 7)])

    [result] = poll_and_run(ctx)

    assert result.status == RunStatus.DONE, result
    shipment = shipment_of(sandboxes, "C1")
    assert (shipment["recipient"]["address"]["city"], shipment["recipient"]["address"]["address1"],
            shipment["ship_option"], units(shipment)) == ("Seattle", "400 Broad St", "Overnight", {"P1": 1, "P2": 7})
    calls = requests(sandboxes) - before
    assert {k: calls[k] for k in EDITS if calls[k]} == {EDITS[0]: 1, EDITS[1]: 1, EDITS[2]: 1}
    # and the reads they need: the order (its shipment) and the service levels (then cached)
    assert calls - Counter({k: 1 for k in EDITS[:3]}) == Counter({"GET /2026-01/order/{order_id}": 1,
                                                                   "GET /2026-01/shipping-method": 1})
    stored = binding_data(ctx, "C1")
    assert (stored["recipient"]["address"]["city"], stored["shipping_method"]) == ("Seattle", "Overnight")
    assert [(ln["sku"], ln["quantity"], ln["external_line_id"]) for ln in stored["lines"]] == [
        ("P1", 1, 1), ("P2", 7, 2)]
    # ... and nothing more once it is there.
    again = requests(sandboxes)
    fake.edit("C1")
    assert [r.detail for r in poll_and_run(ctx)] == ["unchanged"]
    assert requests(sandboxes) == again


def test_a_cancelled_line_shrinks_the_shipment_and_a_site_left_without_lines_is_cancelled(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 2), line(2, "P2", 1), line(3, "P3", 1, site="S02")])
    push(ctx, "C1")
    fake.edit("C1", lines=[line(1, "P1", 2), line(2, "P2", 1, state="Cancelled"),
                           line(3, "P3", 1, site="S02", state="Cancelled")])

    [result] = poll_and_run(ctx)

    assert result.status == RunStatus.DONE, result
    assert units(shipment_of(sandboxes, "C1")) == {"P1": 2}
    assert shipment_of(sandboxes, "C1-S02")["status"] == "Cancelled"
    assert binding_data(ctx, "C1-S02")["lines"] == []
    # The cancelled shipment is not asked about again.
    before = requests(sandboxes)
    fake.edit("C1")
    assert [r.detail for r in poll_and_run(ctx)] == ["unchanged"]
    assert requests(sandboxes) == before


def test_a_picked_shipment_parks_the_edit_with_the_exact_difference(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1), line(2, "P2", 2)])
    push(ctx, "C1")
    hook(sandboxes[1], f"shipments/{shipment_of(sandboxes, 'C1')['id']}/pick")
    before = requests(sandboxes)
    fake.edit("C1", address=SEATTLE, lines=[line(1, "P1", 1), line(2, "P2", 7)])

    [result] = poll_and_run(ctx)

    sid = shipment_of(sandboxes, "C1")["id"]
    assert result.status == RunStatus.ATTENTION
    assert result.detail == (
        f"order C1 was edited in IFS after the push and ShipBob cannot take it: ShipBob shipment {sid} is "
        "picked: address line 1: IFS '400 Broad St', ShipBob '1 Main St', city: IFS 'Seattle', ShipBob "
        "'Chicago', state: IFS 'WA', ShipBob 'IL', zip code: IFS '98109', ShipBob '60607', "
        "SKU P2: IFS 7, ShipBob 2")
    # A picked shipment is not even asked: the order's read is the one call.
    assert requests(sandboxes) - before == Counter({"GET /2026-01/order/{order_id}": 1})
    # Parked for this version: the next poll leaves it; the next edit revives it.
    assert poll_edits(ctx) == []
    check = _edits_not_at_shipbob(ctx, None)
    assert [d.key for d in check.unexplained] == [f"C1 (ShipBob order {shipment_of(sandboxes, 'C1')['order_id']})"]
    assert "SKU P2: IFS 7, ShipBob 2" in check.unexplained[0].detail
    fake.edit("C1", address=ADDRESS)
    [again] = poll_and_run(ctx)
    assert again.status == RunStatus.ATTENTION and "SKU P2: IFS 7, ShipBob 2" in again.detail
    assert "city" not in again.detail


def test_a_person_closing_the_parked_edit_explains_the_reconcile_difference(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1)])
    push(ctx, "C1")
    hook(sandboxes[1], f"shipments/{shipment_of(sandboxes, 'C1')['id']}/pick")
    fake.edit("C1", lines=[line(1, "P1", 3)])
    assert [r.status for r in poll_and_run(ctx)] == [RunStatus.ATTENTION]
    with ctx.session() as session:
        assert jobs.close(session, update_job(ctx, "C1").id, JobState.RESOLVED, "ops", "shipped 1, 2 follow")
    [difference] = _edits_not_at_shipbob(ctx, None).differences
    assert difference.explained_by == "closed by a person: shipped 1, 2 follow"


def test_a_run_repeated_after_a_crash_sends_no_edit_twice(ctx, fake, sandboxes, monkeypatch):
    fake.add(order("C1"), [line(1, "P1", 1), line(2, "P2", 2)])
    push(ctx, "C1")
    fake.edit("C1", address=SEATTLE, ship_via="FDX-ON", lines=[line(1, "P1", 4)])
    record = order_update._record
    crashed = []

    def crash_once(ctx, reference_id, changed, plan):
        if plan is not None and not crashed:
            crashed.append(reference_id)
            raise TransientError("the database went away after ShipBob took the edit")
        record(ctx, reference_id, changed, plan)

    monkeypatch.setattr(order_update, "_record", crash_once)
    before = requests(sandboxes)
    [first] = poll_and_run(ctx)
    assert first.status == RunStatus.RETRY and crashed == ["C1"]
    with ctx.session() as session:
        jobs.replay(session, update_job(ctx, "C1").id)
    second = run_job(ctx, update_job(ctx, "C1").id)
    assert (second.status, second.detail) == (RunStatus.DONE, "unchanged")  # ShipBob has it: nothing sent
    calls = requests(sandboxes) - before
    assert {k: calls[k] for k in EDITS if calls[k]} == {EDITS[0]: 1, EDITS[1]: 1, EDITS[2]: 1}
    assert binding_data(ctx, "C1")["shipping_method"] == "Overnight"
    # Had it been sent again, ShipBob would have changed nothing: the complete list is a value.
    sid = shipment_of(sandboxes, "C1")["id"]
    inventory_id = shipment_of(sandboxes, "C1")["products"][0]["inventory_items"][0]["id"]
    assert ctx.shipbob.update_shipment_line_items(sid, {inventory_id: 4}) == []


def test_a_field_changed_only_at_shipbob_is_left_alone(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1)])
    push(ctx, "C1")
    sid = shipment_of(sandboxes, "C1")["id"]
    ctx.shipbob.update_shipment_address(sid, ShipmentAddress(street_address1="9 Dock Rd", city="Evanston"))
    fake.edit("C1", lines=[line(1, "P1", 2)])  # IFS changed the quantity, not the address
    assert [r.status for r in poll_and_run(ctx)] == [RunStatus.DONE]
    shipment = shipment_of(sandboxes, "C1")
    assert (shipment["recipient"]["address"]["city"], units(shipment)) == ("Evanston", {"P1": 2})


def test_a_line_added_at_a_new_site_asks_the_push_for_that_site(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1)])
    push(ctx, "C1")
    fake.edit("C1", lines=[line(1, "P1", 1), line(2, "P2", 3, site="S02")])
    [result] = poll_and_run(ctx)
    assert (result.status, result.detail) == (RunStatus.DONE, "order push asked to create C1-S02")
    with ctx.session() as session:
        push_job = session.execute(select(Job).where(Job.flow == Flow.ORDER_PUSH.value)).scalar_one()
    assert push_job.state == JobState.PENDING.value
    assert run_job(ctx, push_job.id).status == RunStatus.DONE
    assert units(shipment_of(sandboxes, "C1-S02")) == {"P2": 3}


def test_a_binding_made_before_plans_were_stored_is_compared_with_shipbob_once(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1)])
    push(ctx, "C1")
    with ctx.session() as session:
        binding = session.execute(select(Binding)).scalar_one()
        binding.data = {k: v for k, v in binding.data.items()
                        if k in ("order_no", "site", "fulfillment_center_id", "lines")}
    before = requests(sandboxes)
    fake.edit("C1")
    assert [r.detail for r in poll_and_run(ctx)] == ["unchanged"]
    assert requests(sandboxes) - before == Counter({"GET /2026-01/order/{order_id}": 1})
    assert binding_data(ctx, "C1")["recipient"]["address"]["city"] == "Chicago"


def test_an_unmapped_ship_via_parks_once_per_version(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1)])
    push(ctx, "C1")
    fake.edit("C1", ship_via="DHL-EXP")
    [result] = poll_and_run(ctx)
    assert result.status == RunStatus.ATTENTION and "ship-via 'DHL-EXP'" in result.detail
    assert poll_edits(ctx) == []


def test_the_order_changed_event_wakes_a_pushed_orders_update(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1)])
    push(ctx, "C1")
    with ctx.session() as session:
        pushed = record_event(session, "order-changed", "C1")
        unpushed = record_event(session, "order-changed", "C2")
    assert (pushed.flow, pushed.wake) == (Flow.ORDER_UPDATE.value, True)
    assert (unpushed.flow, unpushed.wake) == (Flow.ORDER_PUSH.value, True)


def test_a_split_order_takes_the_address_where_it_can_and_parks_the_lines(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 2), line(2, "P2", 1)])
    push(ctx, "C1")
    [pushed] = [o for o in hook(sandboxes[1], "dump/orders", method="GET") if o["reference_id"] == "C1"]
    # ShipBob shipped the P1 units on their own; IFS has not heard of it yet.
    hook(sandboxes[1], f"orders/{pushed['id']}/ship", {"shipments": [[{"sku": "P1", "quantity": 2}]]})
    fake.edit("C1", address=SEATTLE, lines=[line(1, "P1", 2), line(2, "P2", 3)])

    [result] = poll_and_run(ctx)

    [order_now] = [o for o in hook(sandboxes[1], "dump/orders", method="GET") if o["reference_id"] == "C1"]
    shipped, rest = sorted(order_now["shipments"], key=lambda s: s["id"])
    assert (shipped["status"], rest["status"]) == ("Completed", "Processing")
    assert result.status == RunStatus.ATTENTION
    assert f"ShipBob order {pushed['id']} is split into 2 shipments: SKU P2: IFS 3, ShipBob 1" in result.detail
    assert f"ShipBob shipment {shipped['id']} is Completed: address line 1: IFS '400 Broad St'" in result.detail
    assert rest["recipient"]["address"]["city"] == "Seattle"  # the open one took the address
    assert units(rest) == {"P2": 1}


def test_reconcile_counts_units_shipped_before_their_voucher(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 2), line(2, "P2", 1)])
    push(ctx, "C1")
    [pushed] = [o for o in hook(sandboxes[1], "dump/orders", method="GET") if o["reference_id"] == "C1"]
    hook(sandboxes[1], f"orders/{pushed['id']}/ship", {"shipments": [[{"sku": "P1", "quantity": 2}]]})
    # IFS still has all three units open (no voucher yet): nothing differs.
    check = _edits_not_at_shipbob(ctx, None)
    assert (check.checked, check.differences) == (1, [])
    fake.edit("C1", lines=[line(1, "P1", 2), line(2, "P2", 4)])
    [difference] = _edits_not_at_shipbob(ctx, None).differences
    assert (difference.key, difference.detail) == (f"C1 (ShipBob order {pushed['id']})", "SKU P2: IFS 4, ShipBob 1")


def run_update(ctx, order_no):
    """The update job as the edits poll would have asked for it while the order was open."""
    with ctx.session() as session:
        job_id = jobs.request_job(session, Flow.ORDER_UPDATE.value, order_no, ifs_ref=order_no).job_id
    return run_job(ctx, job_id)


def test_an_edit_that_reaches_an_order_shipped_meanwhile_parks_its_address_not_its_lines(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1), line(2, "P2", 2)])
    push(ctx, "C1")
    fake.edit("C1", address=SEATTLE, lines=[line(1, "P1", 1), line(2, "P2", 7)])
    # The warehouse ships before the update runs; IFS records the delivery.
    hook(sandboxes[1], f"orders/{shipment_of(sandboxes, 'C1')['order_id']}/ship", {"with_tracking": True})
    fake.set_state("C1", "Delivered")
    before = requests(sandboxes)

    result = run_update(ctx, "C1")

    assert result.status == RunStatus.ATTENTION, result
    assert "city: IFS 'Seattle', ShipBob 'Chicago'" in result.detail and "SKU" not in result.detail
    assert not any(requests(sandboxes) - before & Counter(dict.fromkeys(EDITS, 1)))


def test_an_order_shipped_as_pushed_is_left_alone_once_ifs_moved_on(ctx, fake, sandboxes):
    fake.add(order("C1"), [line(1, "P1", 1)])
    push(ctx, "C1")
    hook(sandboxes[1], f"orders/{shipment_of(sandboxes, 'C1')['order_id']}/ship", {"with_tracking": True})
    fake.set_state("C1", "Delivered")
    before = requests(sandboxes)

    result = run_update(ctx, "C1")

    assert (result.status, result.detail) == (RunStatus.DONE, "skipped: order is Delivered"), result
    assert requests(sandboxes) == before


def test_a_cancelled_line_of_a_shipped_order_is_not_planned_again(ctx, fake, sandboxes):
    # P9 is unknown at ShipBob: planned again, it would cost a look-up and park the order.
    fake.add(order("C1"), [line(1, "P1", 1), line(2, "P9", 1, state="Cancelled")])
    push(ctx, "C1")
    hook(sandboxes[1], f"orders/{shipment_of(sandboxes, 'C1')['order_id']}/ship", {"with_tracking": True})
    fake.edit("C1", lines=[line(1, "P1", 1, shipped=1, state="Delivered"), line(2, "P9", 1, state="Cancelled")])
    fake.set_state("C1", "Delivered")
    before = requests(sandboxes)

    result = run_update(ctx, "C1")

    assert (result.status, result.detail) == (RunStatus.DONE, "skipped: order is Delivered"), result
    assert requests(sandboxes) == before
