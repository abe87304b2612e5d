"""Flow 3 end to end: ShipBob returns -> IFS goods return vouchers (RMAs), over
HTTP through both sandboxes, with real PostgreSQL and Redis.

Every return is linked through original_shipment_id -> our shipment binding
-> the IFS order and its lines; each test checks IFS itself (RMAs, their
lines, the order lines' QtyReturned and the stock the receipt raised), not
our bookkeeping.
"""

from __future__ import annotations

import json
from collections import defaultdict

from sqlalchemy import delete, select

from connector import jobs
from connector.db.models import Binding, Flow, Job, JobState
from connector.flows import return_voucher
from connector.flows.order_poll import poll_orders
from connector.ifs import odata
from connector.runner import run_job
from tests.helpers import hook, ifs_rows, shipbob_api

ADDRESS = {"Name": "Ada Lovelace", "Address1": "12 Analytical Way", "City": "Chicago",
           "State": "IL", "ZipCode": "60601", "Country": "US"}
FC = 156  # S01 in the default mapping


# ------------------------------------------------------------------ helpers

def seed_skus(shipbob, skus) -> dict[str, int]:
    levels = {sku: {"156": 500, "157": 500} for sku in skus}
    return hook(shipbob, "seed", {"skus": sorted(skus), "levels": levels})["inventory_ids"]


def ship_orders(ctx, sandboxes, specs: dict[str, dict]) -> dict[str, dict]:
    """specs: {OrderNo: {"lines": {sku: qty}, "shipments": [{sku: qty}, ...]?}}.
    Creates the IFS orders, pushes them to ShipBob, ships them (split as
    given) and posts their fulfillment vouchers, all inline. Returns, per
    order, its ShipBob order id, shipment ids in order and the inventory ids."""
    ifs, shipbob = sandboxes
    inventory = seed_skus(shipbob, {sku for spec in specs.values() for sku in spec["lines"]})
    hook(ifs, "orders", {"orders": [
        {"OrderNo": order_no, "Contract": "S01", "ShipViaCode": "UPS-GND", "address": ADDRESS,
         "lines": [{"PartNo": sku, "BuyQtyDue": qty} for sku, qty in spec["lines"].items()]}
        for order_no, spec in specs.items()]})
    pushed = poll_orders(ctx)
    assert {run_job(ctx, j).status for j in pushed} == {"done"}
    by_ref = {o["reference_id"]: o for o in hook(shipbob, "dump/orders", method="GET")}
    out = {}
    for order_no, spec in specs.items():
        order = by_ref[order_no]
        groups = spec.get("shipments") or [spec["lines"]]
        hook(shipbob, f"orders/{order['id']}/ship", {
            "shipments": [[{"sku": s, "quantity": q} for s, q in g.items()] for g in groups],
            "with_tracking": True})
        with ctx.session() as session:
            requested = jobs.request_job(session, Flow.SHIPMENT_VOUCHER.value, str(order["id"]),
                                         shipbob_refs=[str(order["id"])])
        assert run_job(ctx, requested.job_id).status == "done"
        shipments = sorted(s["id"] for s in hook(shipbob, "dump/shipments", method="GET")
                           if s["order_id"] == order["id"])
        out[order_no] = {"order_id": order["id"], "shipments": shipments, "inventory": inventory}
    return out


def create_return(shipbob, reference: str, shipment_id: int | None, items: dict[int, int],
                  requested_action: str = "Default", fc: int = FC) -> int:
    body = {"reference_id": reference, "fulfillment_center": {"id": fc},
            "inventory": [{"id": inv, "quantity": qty, "requested_action": requested_action}
                          for inv, qty in items.items()]}
    if shipment_id is not None:
        body["original_shipment_id"] = shipment_id
    return shipbob_api(shipbob, "POST", "return", body)["id"]


def advance(shipbob, return_id: int, status: str, actions=()) -> dict:
    return hook(shipbob, f"returns/{return_id}/advance", {"status": status, "actions": list(actions)})


def complete(shipbob, return_id: int, actions=()) -> dict:
    return advance(shipbob, return_id, "Completed", actions)


def request_return_job(ctx, return_id: int) -> int:
    with ctx.session() as session:
        return jobs.request_job(session, Flow.RETURN_VOUCHER.value, str(return_id),
                                shipbob_refs=[str(return_id)]).job_id


def run_return(ctx, return_id: int):
    return run_job(ctx, request_return_job(ctx, return_id))


def replay(ctx, job_id: int):
    with ctx.session() as session:
        jobs.replay(session, job_id)
    return run_job(ctx, job_id)


def rmas_by_return(ifs) -> dict[str, list[dict]]:
    found = defaultdict(list)
    for rma in ifs_rows(ifs, "ReturnMaterialSet"):
        found[rma["ExternalRef"]].append(rma)
    return dict(found)


def rma_lines(ctx, rma_no) -> list[dict]:
    names = ctx.names.returns
    path = odata.key_path(names.rma_set, **{names.rma_key: rma_no})
    return list(ctx.ifs.query(names.projection, f"{path}/{names.lines_nav}"))


def the_rma(ctx, ifs, return_id: int) -> tuple[dict, list[dict]]:
    """The one RMA IFS has for this return (fails on none or several)."""
    found = rmas_by_return(ifs).get(str(return_id), [])
    assert len(found) == 1, f"return {return_id}: {len(found)} RMAs in IFS"
    return found[0], rma_lines(ctx, found[0]["RmaNo"])


def returned_by_line(ifs, order_no: str) -> dict[str, float]:
    return {l["PartNo"]: l["QtyReturned"] for l in ifs_rows(ifs, "CustomerOrderLineSet")
            if l["OrderNo"] == order_no}


def stock_at(ifs, location: str, site: str = "S01") -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for row in ifs_rows(ifs, "InventoryPartInStockSet"):
        if row["LocationNo"] == location and row["Contract"] == site:
            totals[row["PartNo"]] += row["QtyOnhand"]
    return dict(totals)


def job_of(ctx, job_id: int) -> Job:
    with ctx.session() as session:
        return session.get(Job, job_id)


def summary(lines: list[dict]) -> list[tuple]:
    return sorted((l["PartNo"], l["ReturnAction"], l["QtyToReturn"], l["QtyReceived"]) for l in lines)


# -------------------------------------------------------------------- tests

def test_a_completed_return_becomes_one_received_rma_on_the_original_order(ctx, sandboxes):
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C5001": {"lines": {"RA-1": 2, "RA-2": 1}}})
    inv = world["C5001"]["inventory"]
    [shipment] = world["C5001"]["shipments"]
    return_id = create_return(shipbob, "RMA-5001", shipment, {inv["RA-1"]: 2, inv["RA-2"]: 1})
    job_id = request_return_job(ctx, return_id)

    # every state on the way is recorded, nothing reaches IFS before completion
    for status in ("AwaitingArrival", "Arrived", "Processing"):
        if status != "AwaitingArrival":
            advance(shipbob, return_id, status)
            request_return_job(ctx, return_id)
        result = run_job(ctx, job_id)
        assert result.status == "done" and "waiting" in result.detail, result
        assert rmas_by_return(ifs) == {}
    complete(shipbob, return_id)
    request_return_job(ctx, return_id)
    result = run_job(ctx, job_id)
    assert result.status == "done", result
    assert [s["status"] for s in job_of(ctx, job_id).payload["states"]] == [
        "AwaitingArrival", "Arrived", "Processing", "Completed"]

    rma, lines = the_rma(ctx, ifs, return_id)
    assert rma["OrderNo"] == "C5001" and rma["Objstate"] == "Received" and rma["Contract"] == "S01"
    assert "RMA-5001" in rma["Notes"]
    # unprocessed units follow the requested action (Default = Restock)
    assert summary(lines) == [("RA-1", "Restock", 2, 2), ("RA-2", "Restock", 1, 1)]
    assert {(l["OrderNo"], l["LineNo"]) for l in lines} == {("C5001", "1"), ("C5001", "2")}
    assert returned_by_line(ifs, "C5001") == {"RA-1": 2, "RA-2": 1}
    assert stock_at(ifs, "RETURNS") == {"RA-1": 2, "RA-2": 1}
    with ctx.session() as session:
        binding = session.execute(select(Binding).where(Binding.kind == "return")).scalar_one()
    assert (binding.shipbob_id, binding.ifs_key) == (str(return_id), str(rma["RmaNo"]))


def test_each_action_taken_is_posted_with_its_quantity(ctx, sandboxes):
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C5101": {"lines": {"RB-1": 3, "RB-2": 1, "RB-3": 2}}})
    inv = world["C5101"]["inventory"]
    [shipment] = world["C5101"]["shipments"]
    return_id = create_return(shipbob, "RMA-5101", shipment,
                              {inv["RB-1"]: 3, inv["RB-2"]: 1, inv["RB-3"]: 2})
    advance(shipbob, return_id, "Arrived")
    complete(shipbob, return_id, [
        {"inventory_id": inv["RB-1"], "action": "Restock", "quantity_processed": 1},
        {"inventory_id": inv["RB-1"], "action": "Quarantine", "quantity_processed": 1},
        {"inventory_id": inv["RB-1"], "action": "Dispose", "quantity_processed": 1,
         "action_reason": "Damaged"},
        {"inventory_id": inv["RB-2"], "action": "Quarantine", "quantity_processed": 1},
        {"inventory_id": inv["RB-3"], "action": "Dispose", "quantity_processed": 2},
    ])
    assert run_return(ctx, return_id).status == "done"
    rma, lines = the_rma(ctx, ifs, return_id)
    assert summary(lines) == [
        ("RB-1", "Dispose", 1, 1), ("RB-1", "Quarantine", 1, 1), ("RB-1", "Restock", 1, 1),
        ("RB-2", "Quarantine", 1, 1), ("RB-3", "Dispose", 2, 2)]
    assert returned_by_line(ifs, "C5101") == {"RB-1": 3, "RB-2": 1, "RB-3": 2}
    # IFS books each action where it belongs: restock and quarantine raise
    # stock on their locations, disposed units raise none
    assert stock_at(ifs, "RETURNS") == {"RB-1": 1}
    assert stock_at(ifs, "QUARANTINE") == {"RB-1": 1, "RB-2": 1}


def test_partial_returns_accumulate_and_never_exceed_what_shipped(ctx, sandboxes):
    ifs, shipbob = sandboxes
    # the order is shipped in two shipments; returns name the shipment they came from
    world = ship_orders(ctx, sandboxes, {"C5201": {"lines": {"RC-1": 3, "RC-2": 2},
                                                   "shipments": [{"RC-1": 3}, {"RC-2": 2}]}})
    inv = world["C5201"]["inventory"]
    first, second = world["C5201"]["shipments"]
    r1 = create_return(shipbob, "RMA-5201-A", first, {inv["RC-1"]: 1}, "Restock")
    complete(shipbob, r1)
    r2 = create_return(shipbob, "RMA-5201-B", second, {inv["RC-2"]: 1}, "Quarantine")
    complete(shipbob, r2)
    assert run_return(ctx, r1).status == "done"
    assert run_return(ctx, r2).status == "done"
    assert returned_by_line(ifs, "C5201") == {"RC-1": 1, "RC-2": 1}
    r3 = create_return(shipbob, "RMA-5201-C", first, {inv["RC-1"]: 2}, "Restock")
    complete(shipbob, r3)
    assert run_return(ctx, r3).status == "done"
    assert returned_by_line(ifs, "C5201") == {"RC-1": 3, "RC-2": 1}
    assert summary(the_rma(ctx, ifs, r3)[1]) == [("RC-1", "Restock", 2, 2)]

    # one more unit of RC-1 than ever shipped: parked with the reason, IFS untouched
    r4 = create_return(shipbob, "RMA-5201-D", first, {inv["RC-1"]: 1})
    complete(shipbob, r4)
    result = run_return(ctx, r4)
    assert result.status == "attention"
    assert "RC-1" in result.detail and "exceed" in result.detail
    assert str(r4) not in rmas_by_return(ifs)
    assert returned_by_line(ifs, "C5201") == {"RC-1": 3, "RC-2": 1}
    assert len(rmas_by_return(ifs)) == 3


def test_a_return_whose_shipment_we_do_not_know_is_parked_and_nothing_is_guessed(ctx, sandboxes):
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C5301": {"lines": {"RD-1": 1}}})
    inv = world["C5301"]["inventory"]
    # an order placed at ShipBob directly (not from IFS), shipped
    foreign = shipbob_api(shipbob, "POST", "order", {
        "reference_id": "WEBSHOP-1", "type": "DTC", "shipping_method": "Standard", "location_id": FC,
        "recipient": {"name": "X", "address": {"address1": "1 St", "city": "Chicago", "state": "IL",
                                               "zip_code": "60601", "country": "US"}},
        "products": [{"reference_id": "RD-1", "quantity": 1, "name": "RD-1"}]})
    hook(shipbob, f"orders/{foreign['id']}/ship", {"with_tracking": True})
    foreign_shipment = foreign["shipments"][0]["id"]

    no_shipment = create_return(shipbob, "RMA-5301-A", None, {inv["RD-1"]: 1})
    not_ours = create_return(shipbob, "RMA-5301-B", foreign_shipment, {inv["RD-1"]: 1})
    reasons = {}
    for return_id in (no_shipment, not_ours):
        complete(shipbob, return_id)
        result = run_return(ctx, return_id)
        assert result.status == "attention", result
        reasons[return_id] = result.detail
    assert "no original shipment" in reasons[no_shipment]
    assert f"original shipment {foreign_shipment}" in reasons[not_ours]
    # a replay changes nothing: still parked, still no RMA
    for return_id in (no_shipment, not_ours):
        job_id = request_return_job(ctx, return_id)
        assert run_job(ctx, job_id).status == "attention"
    assert rmas_by_return(ifs) == {}
    assert returned_by_line(ifs, "C5301") == {"RD-1": 0}


def test_a_return_for_an_order_our_push_has_not_bound_yet_waits_instead_of_parking(ctx, sandboxes):
    """The push created the ShipBob order but its run stalled before binding
    it; the order ships and comes back meanwhile. The return is ours: it
    waits for the shipment's voucher (which waits for the push)."""
    ifs, shipbob = sandboxes
    inv = seed_skus(shipbob, {"RW-1"})
    hook(ifs, "orders", {"orders": [{"OrderNo": "C5351", "Contract": "S01", "ShipViaCode": "UPS-GND",
                                     "address": ADDRESS, "lines": [{"PartNo": "RW-1", "BuyQtyDue": 1}]}]})
    [push] = poll_orders(ctx)
    assert run_job(ctx, push).status == "done"
    with ctx.session() as session:
        session.execute(delete(Binding).where(Binding.kind == "order"))
    order = next(o for o in hook(shipbob, "dump/orders", method="GET") if o["reference_id"] == "C5351")
    hook(shipbob, f"orders/{order['id']}/ship", {"with_tracking": True})
    [shipment] = [s["id"] for s in hook(shipbob, "dump/shipments", method="GET") if s["order_id"] == order["id"]]
    return_id = create_return(shipbob, "RMA-5351", shipment, {inv["RW-1"]: 1})
    complete(shipbob, return_id, [{"inventory_id": inv["RW-1"], "action": "Restock", "quantity_processed": 1}])

    result = run_return(ctx, return_id)

    assert result.status == "retry", result
    assert "is not in IFS yet" in result.detail
    assert rmas_by_return(ifs) == {}


def test_items_that_are_not_on_the_original_order_are_parked(ctx, sandboxes):
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C5401": {"lines": {"RE-1": 2}}})
    other = seed_skus(shipbob, {"RE-OTHER"})
    inv = world["C5401"]["inventory"]
    [shipment] = world["C5401"]["shipments"]
    return_id = create_return(shipbob, "RMA-5401", shipment, {inv["RE-1"]: 1, other["RE-OTHER"]: 1})
    complete(shipbob, return_id)
    result = run_return(ctx, return_id)
    assert result.status == "attention"
    assert f"inventory item {other['RE-OTHER']}" in result.detail
    assert "not a product of the original order" in result.detail
    assert rmas_by_return(ifs) == {}


def test_a_cancelled_return_posts_nothing(ctx, sandboxes):
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C5501": {"lines": {"RF-1": 1}}})
    [shipment] = world["C5501"]["shipments"]
    return_id = create_return(shipbob, "RMA-5501", shipment, {world["C5501"]["inventory"]["RF-1"]: 1})
    job_id = request_return_job(ctx, return_id)
    assert run_job(ctx, job_id).status == "done"
    shipbob_api(shipbob, "POST", f"return/{return_id}:cancel")
    for _ in range(2):  # duplicates of the cancellation event
        request_return_job(ctx, return_id)
        result = run_job(ctx, job_id)
        assert result.status == "done" and "cancelled" in result.detail
    assert [s["status"] for s in job_of(ctx, job_id).payload["states"]] == ["AwaitingArrival", "Cancelled"]
    assert rmas_by_return(ifs) == {}
    assert returned_by_line(ifs, "C5501") == {"RF-1": 0}


def test_duplicate_requests_and_replays_post_exactly_one_rma(ctx, sandboxes):
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C5601": {"lines": {"RG-1": 2}}})
    [shipment] = world["C5601"]["shipments"]
    return_id = create_return(shipbob, "RMA-5601", shipment, {world["C5601"]["inventory"]["RG-1"]: 2})
    complete(shipbob, return_id)
    job_id = request_return_job(ctx, return_id)
    for _ in range(3):
        request_return_job(ctx, return_id)  # created, updated, completed - all at once
    assert run_job(ctx, job_id).status == "done"
    assert run_job(ctx, job_id).status == "skipped"  # nothing new was asked for
    for _ in range(3):
        assert run_return(ctx, return_id).status == "done"
        assert replay(ctx, job_id).status == "done"
    assert len(rmas_by_return(ifs)[str(return_id)]) == 1
    assert returned_by_line(ifs, "C5601") == {"RG-1": 2}
    assert stock_at(ifs, "RETURNS") == {"RG-1": 2}


def test_a_crash_between_the_ifs_write_and_our_bookkeeping_posts_nothing_twice(ctx, sandboxes):
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C5701": {"lines": {"RH-1": 2, "RH-2": 2}}})
    inv = world["C5701"]["inventory"]
    [shipment] = world["C5701"]["shipments"]

    # 1. the RMA was created and received, then the binding was lost
    r1 = create_return(shipbob, "RMA-5701-A", shipment, {inv["RH-1"]: 1})
    complete(shipbob, r1)
    job_id = request_return_job(ctx, r1)
    assert run_job(ctx, job_id).status == "done"
    with ctx.session() as session:
        session.execute(delete(Binding).where(Binding.kind == "return"))
    assert replay(ctx, job_id).status == "done"
    assert len(rmas_by_return(ifs)[str(r1)]) == 1
    with ctx.session() as session:
        assert session.execute(select(Binding).where(Binding.kind == "return")).scalar_one()

    # 2. a worker died after IFS created the RMA and before it was received:
    #    its claim is still on the job until the lease runs out
    r2 = create_return(shipbob, "RMA-5701-B", shipment, {inv["RH-1"]: 1, inv["RH-2"]: 2})
    complete(shipbob, r2)
    job_id = request_return_job(ctx, r2)
    with ctx.session() as session:
        assert jobs.claim(session, job_id, lease_seconds=0) is not None
    return_voucher._create_rma(ctx, ctx.shipbob.get_return(r2))  # ... and then it died
    assert rmas_by_return(ifs)[str(r2)][0]["Objstate"] == "Planned"
    assert run_job(ctx, job_id).status == "done"  # the lease ran out: taken over
    rma, lines = the_rma(ctx, ifs, r2)
    assert rma["Objstate"] == "Received"
    assert summary(lines) == [("RH-1", "Restock", 1, 1), ("RH-2", "Restock", 2, 2)]
    assert returned_by_line(ifs, "C5701") == {"RH-1": 2, "RH-2": 2}
    assert stock_at(ifs, "RETURNS") == {"RH-1": 2, "RH-2": 2}


def test_a_lost_response_on_create_or_receive_is_not_doubled(ctx, sandboxes):
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C5801": {"lines": {"RI-1": 4}}})
    inv = world["C5801"]["inventory"]
    [shipment] = world["C5801"]["shipments"]

    # the create is applied but the client sees 504
    r1 = create_return(shipbob, "RMA-5801-A", shipment, {inv["RI-1"]: 1})
    complete(shipbob, r1)
    hook(ifs, "faults", {"lost_response": 1})
    job_id = request_return_job(ctx, r1)
    assert run_job(ctx, job_id).status == "retry"
    assert len(rmas_by_return(ifs)[str(r1)]) == 1
    assert replay(ctx, job_id).status == "done"

    # both the create and the receive lose their answers
    r2 = create_return(shipbob, "RMA-5801-B", shipment, {inv["RI-1"]: 2})
    complete(shipbob, r2)
    hook(ifs, "faults", {"lost_response": 2})
    job_id = request_return_job(ctx, r2)
    assert run_job(ctx, job_id).status == "retry"
    assert replay(ctx, job_id).status == "retry"
    assert replay(ctx, job_id).status == "done"

    assert hook(ifs, "stats", method="GET")["faults_served"]["lost_response"] == 3
    for return_id, qty in ((r1, 1), (r2, 2)):
        rma, lines = the_rma(ctx, ifs, return_id)
        assert rma["Objstate"] == "Received"
        assert summary(lines) == [("RI-1", "Restock", qty, qty)]
    assert len(rmas_by_return(ifs)) == 2
    assert returned_by_line(ifs, "C5801") == {"RI-1": 3}
    assert stock_at(ifs, "RETURNS") == {"RI-1": 3}


def test_stale_etags_on_the_receive_action_are_survived(ctx, sandboxes):
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C5901": {"lines": {"RJ-1": 2}}})
    [shipment] = world["C5901"]["shipments"]
    return_id = create_return(shipbob, "RMA-5901", shipment, {world["C5901"]["inventory"]["RJ-1"]: 2})
    complete(shipbob, return_id)
    hook(ifs, "faults", {"stale_etag": 2, "mi_modified": 1})
    assert run_return(ctx, return_id).status == "done"
    assert hook(ifs, "stats", method="GET")["faults_served"]["stale_etag"] == 2
    rma, lines = the_rma(ctx, ifs, return_id)
    assert rma["Objstate"] == "Received"
    assert returned_by_line(ifs, "C5901") == {"RJ-1": 2}
    assert stock_at(ifs, "RETURNS") == {"RJ-1": 2}


def test_a_return_completed_before_its_shipment_voucher_waits_for_it(ctx, sandboxes):
    """The return's events may be worked before order.shipped's: the shipment
    is ours (its order came from IFS) but IFS has no voucher yet. That is a
    wait, not a reason to park the return for a person."""
    ifs, shipbob = sandboxes
    inv = seed_skus(shipbob, {"RK-1"})
    hook(ifs, "orders", {"orders": [{"OrderNo": "C6001", "Contract": "S01", "ShipViaCode": "UPS-GND",
                                     "address": ADDRESS, "lines": [{"PartNo": "RK-1", "BuyQtyDue": 2}]}]})
    assert {run_job(ctx, j).status for j in poll_orders(ctx)} == {"done"}
    [order] = hook(shipbob, "dump/orders", method="GET")
    hook(shipbob, f"orders/{order['id']}/ship", {"with_tracking": True})
    [shipment] = [s["id"] for s in hook(shipbob, "dump/shipments", method="GET")]
    return_id = create_return(shipbob, "RMA-6001", shipment, {inv["RK-1"]: 1})
    complete(shipbob, return_id)

    job_id = request_return_job(ctx, return_id)
    result = run_job(ctx, job_id)
    assert result.status == "retry", result
    assert rmas_by_return(ifs) == {}
    # the voucher is posted; the retry (the sweeper's, here a replay) finishes it
    with ctx.session() as session:
        voucher_job = jobs.request_job(session, Flow.SHIPMENT_VOUCHER.value, str(order["id"])).job_id
    assert run_job(ctx, voucher_job).status == "done"
    assert replay(ctx, job_id).status == "done"
    assert the_rma(ctx, ifs, return_id)[0]["OrderNo"] == "C6001"
    assert job_of(ctx, job_id).state == JobState.DONE.value


def test_ifs_refusing_the_rma_parks_the_return_with_the_ifs_reason(ctx, sandboxes):
    """Someone raised an RMA for the same units by hand in IFS: IFS's own rule
    (no more on open RMAs than was delivered) refuses ours. That is data for a
    person to sort out - parked and replayable, not a dead job."""
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C6101": {"lines": {"RL-1": 2}}})
    [shipment] = world["C6101"]["shipments"]
    names = ctx.names.returns
    manual = ctx.ifs.create(names.projection, names.rma_set, {
        "OrderNo": "C6101", "Contract": "S01", "Notes": "raised by hand",
        names.lines_nav: [{"LineNo": "1", "RelNo": "1", "LineItemNo": 0, "QtyToReturn": 2}]})
    return_id = create_return(shipbob, "RMA-6101", shipment, {world["C6101"]["inventory"]["RL-1"]: 1})
    complete(shipbob, return_id)
    job_id = request_return_job(ctx, return_id)
    result = run_job(ctx, job_id)
    assert result.status == "attention", result
    assert "QTYRETURNEXCEEDED" in result.detail or "exceeds the returnable" in result.detail
    assert str(return_id) not in rmas_by_return(ifs)
    # until a person deals with the manual RMA a replay parks again, posting nothing
    assert replay(ctx, job_id).status == "attention"
    assert [r["RmaNo"] for r in ifs_rows(ifs, "ReturnMaterialSet")] == [manual["RmaNo"]]


def test_a_return_to_another_warehouse_is_received_at_that_warehouse_s_site(ctx, sandboxes):
    """The order shipped from Cicero (S01); the customer sent it back to Moreno
    Valley (FC 157 = S02). ShipBob restocks it at 157, so IFS must receive it
    at S02 - else IFS and ShipBob disagree on where the stock is."""
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C6201": {"lines": {"RM-1": 2}}})
    [shipment] = world["C6201"]["shipments"]
    inv = world["C6201"]["inventory"]
    return_id = create_return(shipbob, "RMA-6201", shipment, {inv["RM-1"]: 2}, fc=157)
    complete(shipbob, return_id)
    assert run_return(ctx, return_id).status == "done"
    rma, lines = the_rma(ctx, ifs, return_id)
    assert (rma["OrderNo"], rma["Contract"]) == ("C6201", "S02")
    assert {l["Contract"] for l in lines} == {"S02"}
    assert stock_at(ifs, "RETURNS", "S02") == {"RM-1": 2}
    assert stock_at(ifs, "RETURNS", "S01") == {}
    assert returned_by_line(ifs, "C6201") == {"RM-1": 2}

    # a warehouse the mapping does not know: parked, nothing guessed
    other = create_return(shipbob, "RMA-6201-B", shipment, {inv["RM-1"]: 1}, fc=157)
    complete(shipbob, other)
    ctx.settings.mapping.sites.pop("S02")
    try:
        result = run_return(ctx, other)
    finally:
        ctx.settings.mapping.sites["S02"] = 157
    assert result.status == "attention"
    assert "fulfillment center 157" in result.detail
    assert str(other) not in rmas_by_return(ifs)


def test_the_returns_poll_recovers_completions_whose_webhook_was_lost(ctx, sandboxes):
    """return.completed is a return's last event: if ShipBob never delivers it,
    the poll (GET /return?Status=Completed) runs the job. Returns already
    posted, parked or cancelled are left alone."""
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C6301": {"lines": {"RN-1": 3}}})
    [shipment] = world["C6301"]["shipments"]
    inv = world["C6301"]["inventory"]
    never_heard = create_return(shipbob, "RMA-6301-A", shipment, {inv["RN-1"]: 1})
    heard_early = create_return(shipbob, "RMA-6301-B", shipment, {inv["RN-1"]: 1})
    posted = create_return(shipbob, "RMA-6301-C", shipment, {inv["RN-1"]: 1})
    parked = create_return(shipbob, "RMA-6301-D", None, {inv["RN-1"]: 1})
    cancelled = create_return(shipbob, "RMA-6301-E", shipment, {inv["RN-1"]: 1})
    assert run_return(ctx, heard_early).status == "done"   # seen awaiting arrival only
    shipbob_api(shipbob, "POST", f"return/{cancelled}:cancel")
    for return_id in (never_heard, heard_early, posted, parked):
        complete(shipbob, return_id)
    assert run_return(ctx, posted).status == "done"
    assert run_return(ctx, parked).status == "attention"

    woken = return_voucher.poll_completed_returns(ctx)
    with ctx.session() as session:
        keys = {session.get(Job, j).key for j in woken}
    assert keys == {str(never_heard), str(heard_early)}
    assert {run_job(ctx, j).status for j in woken} == {"done"}
    assert set(rmas_by_return(ifs)) == {str(never_heard), str(heard_early), str(posted)}
    assert return_voucher.poll_completed_returns(ctx) == []
    assert returned_by_line(ifs, "C6301") == {"RN-1": 3}


def ctx_with_ifs_names(ctx, tmp_path, **sections):
    """The same context with the mapping's `ifs:` sections overridden."""
    from connector.context import Context
    from connector.mapping import load_mapping

    data = load_mapping(None).model_dump(mode="json")
    for section, names in sections.items():
        data["ifs"][section].update(names)
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(data))
    settings = ctx.settings.model_copy(update={"mapping_file": path})
    settings.__dict__.pop("mapping", None)  # the copy must load its own mapping
    return Context(settings)


def rma_actions(ifs) -> dict[str, int]:
    actions = hook(ifs, "stats", method="GET")["actions"]
    return {name.rsplit(".", 1)[-1]: count for name, count in actions.items() if "ReturnMaterial_" in name}


def test_the_rma_is_released_before_it_is_received(ctx, sandboxes):
    """IFS receives only a released RMA (ifs-cloud.md §6): the flow releases
    the RMA it created, then receives it."""
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C6301": {"lines": {"RN-1": 2}}})
    [shipment] = world["C6301"]["shipments"]
    return_id = create_return(shipbob, "RMA-6301", shipment, {world["C6301"]["inventory"]["RN-1"]: 2})
    complete(shipbob, return_id)

    result = run_return(ctx, return_id)

    assert result.status == "done", result
    rma, lines = the_rma(ctx, ifs, return_id)
    assert rma["Objstate"] == "Received" and summary(lines) == [("RN-1", "Restock", 2, 2)]
    assert rma_actions(ifs) == {"ReturnMaterial_Release": 1, "ReturnMaterial_Receive": 1}
    assert stock_at(ifs, "RETURNS") == {"RN-1": 2}


def test_the_release_step_can_be_turned_off_and_is_skipped_for_a_released_rma(ctx, sandboxes, tmp_path):
    """A tenant that releases RMAs another way turns the step off
    (`release_action: null`); the receive then waits for that release. A
    replay of an RMA released meanwhile does not release it again."""
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C6401": {"lines": {"RO-1": 1}}})
    [shipment] = world["C6401"]["shipments"]
    return_id = create_return(shipbob, "RMA-6401", shipment, {world["C6401"]["inventory"]["RO-1"]: 1})
    complete(shipbob, return_id)
    no_release = ctx_with_ifs_names(ctx, tmp_path, returns={"release_action": None})

    job_id = request_return_job(no_release, return_id)
    parked = run_job(no_release, job_id)

    assert parked.status == "attention" and "released before receipt" in parked.detail, parked
    rma, _ = the_rma(ctx, ifs, return_id)
    assert rma["Objstate"] == "Planned" and rma_actions(ifs) == {}
    # someone releases it in IFS; the replay (default mapping) only receives it
    names = ctx.names.returns
    ctx.ifs.bound_action(names.projection, odata.key_path(names.rma_set, RmaNo=rma["RmaNo"]),
                         "ReturnMaterial_Release", {})
    assert replay(ctx, job_id).status == "done"
    assert rma_actions(ifs) == {"ReturnMaterial_Release": 1, "ReturnMaterial_Receive": 1}
    assert the_rma(ctx, ifs, return_id)[0]["Objstate"] == "Received"
