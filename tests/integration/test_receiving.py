"""Flow 4b end to end: stowed WRO quantities become IFS purchase receipts,
over HTTP through both sandboxes, with real PostgreSQL and Redis.

Receipts are matched by purchase order number and SKU, never by WRO id (the
warehouse splits WROs); partial receipts accumulate; IFS never receives more
than was stowed; WROs are marked synced only once IFS has their receipts.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from sqlalchemy import delete, select

from connector import jobs
from connector.db.models import Binding, Flow, Job, JobState, WebhookEvent, utcnow
from connector.errors import TransientError
from connector.flows import replenishment
from connector.flows.replenishment import poll_replenishment
from connector.flows.webhook_router import route_event
from connector.polls import run_poll
from connector.runner import run_job
from tests.helpers import hook, ifs_rows, shipbob_api

# ------------------------------------------------------------------ helpers

def replenish(ctx, sandboxes, lines: list[tuple[str, int]], **header) -> tuple[str, dict[str, int]]:
    """An IFS purchase order sent to ShipBob by the replenishment flow.
    Returns the order number and the inventory id of every SKU."""
    ifs, shipbob = sandboxes
    inventory = hook(shipbob, "seed", {"skus": sorted({p for p, _ in lines})})["inventory_ids"]
    [po] = hook(ifs, "purchase_orders", {"purchase_orders": [
        {**header, "lines": [{"PartNo": p, "BuyQtyDue": q} for p, q in lines]}]})["purchase_orders"]
    [job_id] = poll_replenishment(ctx)
    assert run_job(ctx, job_id).status == "done"
    return po["OrderNo"], inventory


def wros_of(shipbob, po: str) -> list[dict]:
    return sorted((w for w in hook(shipbob, "dump/receiving", method="GET")
                   if (w["purchase_order_number"] or "").split("#")[0] == po), key=lambda w: w["id"])


def receive(shipbob, wro_id: int, stowed: dict[int, int], *, received: dict[int, int] | None = None,
            split: bool = False, complete: bool = False) -> list[dict]:
    items = [{"inventory_id": inv, "stowed": qty,
              **({"received": received[inv]} if received and inv in received else {})}
             for inv, qty in stowed.items()]
    return hook(shipbob, f"receiving/{wro_id}/receive",
                {"items": items, "split_into_new_wro": split, "complete": complete})["wros"]


def poll_and_run(ctx) -> dict[int, object]:
    """One receiving poll, then every receipt job that is due (whether the
    poll or an earlier request woke it), as the worker would."""
    flow, woken = run_poll(ctx, "receiving")
    assert flow == Flow.INBOUND_RECEIPT.value
    with ctx.session() as session:
        due = session.execute(select(Job.id).where(Job.flow == flow, Job.state == JobState.PENDING.value,
                                                   Job.next_run_at <= utcnow())
                              .order_by(Job.id)).scalars().all()
    assert set(woken) <= set(due)
    return {job_id: run_job(ctx, job_id) for job_id in due}


def receipt_job(ctx, po: str) -> int:
    with ctx.session() as session:
        return jobs.request_job(session, Flow.INBOUND_RECEIPT.value, po, ifs_ref=po).job_id


def job_id_for(ctx, key: str) -> int:
    with ctx.session() as session:
        return session.execute(select(Job.id).where(Job.flow == Flow.INBOUND_RECEIPT.value,
                                                    Job.key == key)).scalar_one()


def replay(ctx, job_id: int):
    with ctx.session() as session:
        jobs.replay(session, job_id)
    return run_job(ctx, job_id)


def received_by_line(ifs, po: str) -> dict[str, float]:
    """What IFS's receipts add up to, per PO line."""
    totals: dict[str, float] = defaultdict(float)
    for receipt in ifs_rows(ifs, "PurchaseReceiptSet"):
        if receipt["OrderNo"] == po:
            totals[receipt["LineNo"]] += receipt["QtyArrived"]
    return dict(totals)


def stowed_by_sku(shipbob, po: str) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for wro in wros_of(shipbob, po):
        for q in wro["inventory_quantities"]:
            if q["stowed_quantity"]:
                totals[q["sku"]] += q["stowed_quantity"]
    return dict(totals)


def po_lines(ctx, po: str) -> dict[str, dict]:
    names = ctx.names.purchase
    rows = ctx.ifs.query(names.projection, f"{names.order_set}(OrderNo='{po}')/{names.lines_nav}")
    return {row["LineNo"]: row for row in rows}


def synced(wro: dict) -> bool:
    return wro["external_sync_timestamp"] is not None


# -------------------------------------------------------------------- tests

def test_partial_receipts_accumulate_to_exactly_what_was_stowed(ctx, sandboxes):
    ifs, shipbob = sandboxes
    # line 3 orders more of line 1's part: stowed units fill line 1 first
    po, inv = replenish(ctx, sandboxes, [("RX-1", 10), ("RX-2", 5), ("RX-1", 3)])
    [wro] = wros_of(shipbob, po)

    # 4 arrive and are stowed; 3 more are received but not yet stowed
    receive(shipbob, wro["id"], {inv["RX-1"]: 4})
    receive(shipbob, wro["id"], {inv["RX-2"]: 0}, received={inv["RX-2"]: 3})
    results = poll_and_run(ctx)
    assert [r.status for r in results.values()] == ["done"]
    assert received_by_line(ifs, po) == {"1": 4}
    [wro] = wros_of(shipbob, po)
    assert wro["status"] == "Processing" and not synced(wro)  # more is coming

    # the same state polled again (a duplicate) posts nothing
    poll_and_run(ctx)
    assert received_by_line(ifs, po) == {"1": 4}

    receive(shipbob, wro["id"], {inv["RX-1"]: 8, inv["RX-2"]: 5}, received={inv["RX-2"]: 2})
    poll_and_run(ctx)
    assert received_by_line(ifs, po) == {"1": 10, "2": 5, "3": 2}
    [wro] = wros_of(shipbob, po)
    assert wro["status"] == "Processing" and not synced(wro)

    receive(shipbob, wro["id"], {inv["RX-1"]: 1})
    poll_and_run(ctx)
    assert received_by_line(ifs, po) == {"1": 10, "2": 5, "3": 3}
    [wro] = wros_of(shipbob, po)
    assert wro["status"] == "Completed" and synced(wro)
    lines = po_lines(ctx, po)
    assert {no: l["QtyArrived"] for no, l in lines.items()} == {"1": 10, "2": 5, "3": 3}
    assert ifs_rows(ifs, "PurchaseOrderSet")[0]["Objstate"] == "Received"

    # synced: the next poll has nothing to do
    assert poll_and_run(ctx) == {}
    assert len(ifs_rows(ifs, "PurchaseReceiptSet")) == 5


def test_a_wro_split_by_the_warehouse_is_matched_by_po_and_sku(ctx, sandboxes):
    ifs, shipbob = sandboxes
    po, inv = replenish(ctx, sandboxes, [("RY-1", 10), ("RY-2", 6), ("RY-3", 2)])
    [original] = wros_of(shipbob, po)
    # staff move the first 4 of RY-1 and 2 of RY-2 into a new, unlinked WRO
    touched = receive(shipbob, original["id"], {inv["RY-1"]: 3, inv["RY-2"]: 2},
                      received={inv["RY-1"]: 4, inv["RY-2"]: 2}, split=True)
    split = next(w for w in touched if w["id"] != original["id"])
    assert split["purchase_order_number"] == po
    poll_and_run(ctx)
    assert received_by_line(ifs, po) == {"1": 3, "2": 2}

    receive(shipbob, split["id"], {inv["RY-1"]: 1}, received={inv["RY-1"]: 0})  # the split WRO completes
    receive(shipbob, original["id"], {inv["RY-1"]: 6, inv["RY-2"]: 4})
    poll_and_run(ctx)
    by_id = {w["id"]: w for w in wros_of(shipbob, po)}
    assert by_id[split["id"]]["status"] == "Completed" and synced(by_id[split["id"]])
    assert by_id[original["id"]]["status"] == "Processing" and not synced(by_id[original["id"]])
    assert received_by_line(ifs, po) == {"1": 10, "2": 6}

    # the warehouse closes the original with RY-3 short by one
    receive(shipbob, original["id"], {inv["RY-3"]: 1}, complete=True)
    poll_and_run(ctx)
    assert all(synced(w) for w in wros_of(shipbob, po))
    assert received_by_line(ifs, po) == {"1": 10, "2": 6, "3": 1}
    assert stowed_by_sku(shipbob, po) == {"RY-1": 10, "RY-2": 6, "RY-3": 1}


def test_a_crash_before_set_external_sync_and_replays_post_nothing_twice(ctx, sandboxes, monkeypatch):
    ifs, shipbob = sandboxes
    po, inv = replenish(ctx, sandboxes, [("RZ-1", 7), ("RZ-2", 3)])
    [wro] = wros_of(shipbob, po)
    receive(shipbob, wro["id"], {inv["RZ-1"]: 7, inv["RZ-2"]: 3})

    def down(*_args, **_kwargs):
        raise TransientError("ShipBob went away after IFS took the receipts")

    monkeypatch.setattr(ctx.shipbob, "set_external_sync", down)
    [result] = poll_and_run(ctx).values()
    assert result.status == "retry"
    assert received_by_line(ifs, po) == {"1": 7, "2": 3}
    assert not synced(wros_of(shipbob, po)[0])
    monkeypatch.undo()

    job_id = receipt_job(ctx, po)
    for _ in range(3):  # the retry, a duplicate poll, a replay
        assert replay(ctx, job_id).status == "done"
        poll_and_run(ctx)
    assert received_by_line(ifs, po) == {"1": 7, "2": 3}
    assert len(ifs_rows(ifs, "PurchaseReceiptSet")) == 2
    assert synced(wros_of(shipbob, po)[0])


def test_a_lost_response_on_a_receipt_is_not_doubled(ctx, sandboxes):
    ifs, shipbob = sandboxes
    po, inv = replenish(ctx, sandboxes, [("RL-1", 5), ("RL-2", 5)])
    [wro] = wros_of(shipbob, po)
    receive(shipbob, wro["id"], {inv["RL-1"]: 5, inv["RL-2"]: 5})
    hook(ifs, "faults", {"lost_response": 2, "mi_modified": 1})
    [result] = poll_and_run(ctx).values()
    assert result.status == "retry"
    job_id = receipt_job(ctx, po)
    statuses = [replay(ctx, job_id).status for _ in range(3)]
    assert statuses[-1] == "done", statuses
    assert hook(ifs, "stats", method="GET")["faults_served"]["lost_response"] == 2
    assert received_by_line(ifs, po) == {"1": 5, "2": 5}
    assert len(ifs_rows(ifs, "PurchaseReceiptSet")) == 2
    assert synced(wros_of(shipbob, po)[0])


def test_more_stowed_than_ordered_is_received_up_to_the_order_and_parked(ctx, sandboxes):
    ifs, shipbob = sandboxes
    po, inv = replenish(ctx, sandboxes, [("RO-1", 5)])
    # someone adds a second WRO for the same PO by hand, with more than was ordered
    extra = shipbob_api(shipbob, "POST", "receiving", {
        "fulfillment_center": {"id": 156}, "purchase_order_number": po, "package_type": "Package",
        "box_packaging_type": "EverythingInOneBox", "expected_arrival_date": "2030-01-01T00:00:00Z",
        "boxes": [{"tracking_number": None, "box_items": [{"inventory_id": inv["RO-1"], "quantity": 3}]}]})
    [wro, _] = wros_of(shipbob, po)
    receive(shipbob, wro["id"], {inv["RO-1"]: 5})
    receive(shipbob, extra["id"], {inv["RO-1"]: 3})
    [result] = poll_and_run(ctx).values()
    assert result.status == "attention"
    assert "3 of RO-1 stowed beyond" in result.detail
    assert received_by_line(ifs, po) == {"1": 5}
    # a replay parks again and receives nothing more
    assert replay(ctx, receipt_job(ctx, po)).status == "attention"
    assert received_by_line(ifs, po) == {"1": 5}


def test_a_receipt_booked_by_hand_in_ifs_is_not_received_again(ctx, sandboxes):
    """Someone registered part of the arrival in IFS themselves. IFS cannot take
    more than the line has open: receive what fits, park the rest with the
    reason, and do not fail the job on IFS's refusal."""
    ifs, shipbob = sandboxes
    po, inv = replenish(ctx, sandboxes, [("RH-1", 10), ("RH-2", 2)])
    names = ctx.names.purchase
    ctx.ifs.create(names.receipt_projection, names.receipt_set,
                   {"OrderNo": po, "LineNo": "1", "ReleaseNo": "1", "QtyArrived": 4})
    [wro] = wros_of(shipbob, po)
    receive(shipbob, wro["id"], {inv["RH-1"]: 10, inv["RH-2"]: 2})
    [result] = poll_and_run(ctx).values()
    assert result.status == "attention", result
    assert "4 of RH-1" in result.detail
    assert {no: l["QtyArrived"] for no, l in po_lines(ctx, po).items()} == {"1": 10, "2": 2}
    assert received_by_line(ifs, po) == {"1": 10, "2": 2}  # 4 by hand + 6 from ShipBob
    assert replay(ctx, receipt_job(ctx, po)).status == "attention"
    assert received_by_line(ifs, po) == {"1": 10, "2": 2}


def test_chunked_wros_are_received_even_when_our_bindings_are_lost(ctx, sandboxes, monkeypatch):
    """A PO sent as <PO> and <PO>#2: the second chunk's stowed units count for
    the same IFS order, found at ShipBob by purchase order number - not only
    through our own bookkeeping."""
    ifs, shipbob = sandboxes
    monkeypatch.setattr(replenishment, "WRO_SKU_LIMIT", 3)
    lines = [(f"RC-{i}", i) for i in range(1, 6)]
    po, inv = replenish(ctx, sandboxes, lines)
    wros = wros_of(shipbob, po)
    assert [w["purchase_order_number"] for w in wros] == [po, f"{po}#2"]
    with ctx.session() as session:
        session.execute(delete(Binding).where(Binding.kind == "wro"))
    for wro in wros:
        receive(shipbob, wro["id"], {q["inventory_id"]: q["expected_quantity"]
                                     for q in wro["inventory_quantities"]})
    results = poll_and_run(ctx)
    assert {r.status for r in results.values()} == {"done"}
    assert received_by_line(ifs, po) == {str(i): i for i in range(1, 6)}
    assert all(synced(w) for w in wros_of(shipbob, po))
    with ctx.session() as session:
        assert session.execute(select(Job.state).where(Job.flow == Flow.INBOUND_RECEIPT.value)
                               ).scalars().all() == [JobState.DONE.value]


@pytest.mark.parametrize("po_number, outcome", [
    ("NOT-AN-IFS-PO", "ignored"),
    # the inventory sync's own WROs refill stock IFS already counts
    ("INVSYNC-20260101-156", "inventory sync WRO"),
])
def test_a_wro_that_is_not_for_an_ifs_purchase_order_is_not_received(ctx, sandboxes, po_number, outcome):
    ifs, shipbob = sandboxes
    inv = hook(shipbob, "seed", {"skus": ["RN-1"]})["inventory_ids"]
    wro = shipbob_api(shipbob, "POST", "receiving", {
        "fulfillment_center": {"id": 156}, "purchase_order_number": po_number,
        "package_type": "Package", "box_packaging_type": "EverythingInOneBox",
        "expected_arrival_date": "2030-01-01T00:00:00Z",
        "boxes": [{"tracking_number": None, "box_items": [{"inventory_id": inv["RN-1"], "quantity": 2}]}]})
    receive(shipbob, wro["id"], {inv["RN-1"]: 2})
    [result] = poll_and_run(ctx).values()
    assert result.status == "done" and result.detail.startswith(outcome)
    assert ifs_rows(ifs, "PurchaseReceiptSet") == []
    assert synced(wros_of(shipbob, po_number)[0]) == (outcome != "ignored")


@pytest.mark.parametrize("splits", [2])
def test_receipts_add_up_across_many_partial_and_split_deliveries(ctx, sandboxes, splits):
    """Several POs, each delivered in rounds - some into split-off WROs - with
    a poll after every round (and duplicates): per PO line, IFS's receipts
    equal ShipBob's stowed total at every point."""
    ifs, shipbob = sandboxes
    pos = {}
    for n in range(3):
        po, inv = replenish(ctx, sandboxes, [(f"RM{n}-{i}", 6 + i) for i in range(4)])
        pos[po] = inv
    for round_no in range(3):
        for po in pos:
            for wro in wros_of(shipbob, po):
                if wro["status"] in ("Completed", "Cancelled"):
                    continue
                todo = {q["inventory_id"]: q["expected_quantity"] - q["received_quantity"]
                        for q in wro["inventory_quantities"]}
                step = {i: (q if round_no == 2 else min(q, 2)) for i, q in todo.items() if q > 0}
                if step:
                    receive(shipbob, wro["id"], step, split=(round_no < splits and len(step) > 1))
        poll_and_run(ctx)
        poll_and_run(ctx)  # a duplicate poll
        for po in pos:
            sku_of_line = {no: l["PartNo"] for no, l in po_lines(ctx, po).items()}
            stowed = stowed_by_sku(shipbob, po)
            assert {sku_of_line[no]: q for no, q in received_by_line(ifs, po).items()} == stowed
    for po in pos:
        assert all(w["status"] == "Completed" and synced(w) for w in wros_of(shipbob, po)
                   if w["inventory_quantities"])
        assert {no: l["QtyArrived"] - l["BuyQtyDue"] for no, l in po_lines(ctx, po).items()} == {
            str(i + 1): 0 for i in range(4)}


def test_wro_webhooks_where_the_api_has_them_lead_to_the_same_receipts(ctx, sandboxes, monkeypatch):
    """wro.* events (third-party material only; not in 2026-01) are routed to
    the PO's receipt job - a chunk's event by way of its PO - and converge
    with the poll on the same receipts."""
    ifs, shipbob = sandboxes
    monkeypatch.setattr(replenishment, "WRO_SKU_LIMIT", 1)
    po, inv = replenish(ctx, sandboxes, [("RV-1", 3), ("RV-2", 2)])
    first, second = wros_of(shipbob, po)
    receive(shipbob, first["id"], {inv["RV-1"]: 3})
    receive(shipbob, second["id"], {inv["RV-2"]: 2})

    def deliver(n: int, wro: dict):
        with ctx.session() as session:
            event = WebhookEvent(webhook_id=f"msg_wro_{n}", topic="wro.completed",
                                 body=json.dumps({"id": wro["id"]}))
            session.add(event)
            session.flush()
            event_id = event.id
        route_event(ctx, event_id)

    deliver(1, second)                         # names "<PO>#2": routed to the PO's job
    deliver(2, first)                          # names the PO itself: the same job
    with ctx.session() as session:
        keys = session.execute(select(Job.key).where(Job.flow == Flow.INBOUND_RECEIPT.value)).scalars().all()
    assert keys == [po]
    assert run_job(ctx, job_id_for(ctx, po)).status == "done"
    assert received_by_line(ifs, po) == {"1": 3, "2": 2}
    assert all(synced(w) for w in wros_of(shipbob, po))
    assert poll_and_run(ctx) == {}             # the poll finds nothing left
    assert len(ifs_rows(ifs, "PurchaseReceiptSet")) == 2
