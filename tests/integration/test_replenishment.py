"""Flow 4a end to end: released IFS purchase orders for ShipBob sites become
ShipBob warehouse receiving orders (WROs), over HTTP through both sandboxes,
with real PostgreSQL and Redis.

Never two WROs for one IFS order (a PO above ShipBob's 10,000-SKU limit is
the one exception: it is sent as chunks `<PO>`, `<PO>#2`, ...); ShipBob is
searched by purchase order number before anything is created.
"""

from __future__ import annotations

import time

from sqlalchemy import delete, select

from connector import jobs
from connector.db.models import Binding, Flow, Job, JobState
from connector.flows.replenishment import WRO_SKU_LIMIT, poll_replenishment
from connector.polls import run_poll
from connector.runner import run_job
from tests.helpers import hook, ifs_rows, seed_world

# ------------------------------------------------------------------ helpers

def wros(shipbob) -> list[dict]:
    return hook(shipbob, "dump/receiving", method="GET")


def wros_by_po(shipbob) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for wro in wros(shipbob):
        found.setdefault(wro["purchase_order_number"], []).append(wro)
    return found


def wro_creates(shipbob) -> int:
    requests = hook(shipbob, "stats", method="GET")["requests"]
    return sum(n for route, n in requests.items() if route.startswith("POST ") and route.endswith("/receiving"))


def create_purchase_orders(ifs, *orders) -> list[str]:
    """orders: dicts of PurchaseOrder fields plus "lines": [(PartNo, qty), ...]."""
    body = [{**{k: v for k, v in o.items() if k != "lines"},
             "lines": [{"PartNo": p, "BuyQtyDue": q} for p, q in o["lines"]]} for o in orders]
    return [po["OrderNo"] for po in hook(ifs, "purchase_orders", {"purchase_orders": body})["purchase_orders"]]


def run_all(ctx, job_ids) -> dict[int, str]:
    return {job_id: run_job(ctx, job_id).status for job_id in job_ids}


def replay_all(ctx, job_ids) -> dict[int, str]:
    with ctx.session() as session:
        for job_id in job_ids:
            jobs.replay(session, job_id)
    return run_all(ctx, job_ids)


def job_for(ctx, po: str) -> Job:
    with ctx.session() as session:
        return session.execute(select(Job).where(Job.flow == Flow.REPLENISHMENT.value,
                                                 Job.key == po)).scalar_one()


def box_items(wro: dict) -> dict[int, int]:
    items: dict[int, int] = {}
    for box in wro["boxes"]:
        for item in box["box_items"]:
            items[item["inventory_id"]] = items.get(item["inventory_id"], 0) + item["quantity"]
    return items


# -------------------------------------------------------------------- tests

def test_released_purchase_orders_for_shipbob_sites_become_one_wro_each(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=0, parts=30, purchase_orders=6)
    inventory = hook(shipbob, "seed", {"count": 30, "seed": 7})["inventory_ids"]
    # not replenishment for ShipBob: a planned PO, and one for an unmapped site
    create_purchase_orders(ifs, {"OrderNo": "PPLANNED", "Objstate": "Planned", "lines": [("P00001", 5)]},
                           {"OrderNo": "POTHER", "Contract": "S99", "lines": [("P00001", 5)]})

    flow, job_ids = run_poll(ctx, "replenishment")
    assert flow == Flow.REPLENISHMENT.value and len(job_ids) == 6
    assert set(run_all(ctx, job_ids).values()) == {"done"}

    pos = {po["OrderNo"]: po for po in ifs_rows(ifs, "PurchaseOrderSet")}
    by_po = wros_by_po(shipbob)
    assert set(by_po) == {no for no, po in pos.items() if no not in ("PPLANNED", "POTHER")}
    for po_no, [wro] in by_po.items():
        po = pos[po_no]
        assert wro["fulfillment_center"]["id"] == ctx.mapping.sites[po["Contract"]]
        assert wro["package_type"] == ctx.mapping.wro_package_type
        assert wro["box_packaging_type"] == ctx.mapping.wro_box_packaging_type
        assert wro["expected_arrival_date"].startswith(po["WantedReceiptDate"])
        assert wro["status"] == "Awaiting"
        names = ctx.names.purchase
        po_lines = list(ctx.ifs.query(names.projection,
                                      f"{names.order_set}(OrderNo='{po_no}')/{names.lines_nav}"))
        assert box_items(wro) == {inventory[l["PartNo"]]: l["BuyQtyDue"] for l in po_lines}

    # a second poll finds nothing new; replays create nothing
    creates = wro_creates(shipbob)
    assert poll_replenishment(ctx) == []
    assert set(replay_all(ctx, job_ids).values()) == {"done"}
    assert wro_creates(shipbob) == creates == 6
    assert all(len(w) == 1 for w in wros_by_po(shipbob).values())


def test_a_lost_binding_adopts_the_wro_shipbob_already_has(ctx, sandboxes):
    ifs, shipbob = sandboxes
    hook(shipbob, "seed", {"skus": ["RP-1", "RP-2"]})
    [po] = create_purchase_orders(ifs, {"lines": [("RP-1", 10), ("RP-2", 4)]})
    [job_id] = poll_replenishment(ctx)
    assert run_job(ctx, job_id).status == "done"
    # the WRO was created, then our bookkeeping was lost (a crash before commit)
    with ctx.session() as session:
        session.execute(delete(Binding).where(Binding.kind == "wro"))
    assert set(replay_all(ctx, [job_id]).values()) == {"done"}
    assert wro_creates(shipbob) == 1
    [wro] = wros_by_po(shipbob)[po]
    with ctx.session() as session:
        binding = session.execute(select(Binding).where(Binding.kind == "wro")).scalar_one()
    assert (binding.ifs_key, binding.shipbob_id) == (po, str(wro["id"]))


def test_an_unknown_sku_parks_its_line_and_is_sent_after_the_fix(ctx, sandboxes):
    ifs, shipbob = sandboxes
    inventory = hook(shipbob, "seed", {"skus": ["RQ-1", "RQ-2"]})["inventory_ids"]
    [po] = create_purchase_orders(ifs, {"lines": [("RQ-1", 6), ("RQ-NEW", 3), ("RQ-2", 2)]})
    [job_id] = poll_replenishment(ctx)
    result = run_job(ctx, job_id)
    assert result.status == "attention"
    assert "line 2/1 part RQ-NEW" in result.detail
    # the lines ShipBob knows are not held back
    [wro] = wros_by_po(shipbob)[po]
    assert box_items(wro) == {inventory["RQ-1"]: 6, inventory["RQ-2"]: 2}
    # replayed before the fix: parked again, nothing new
    assert replay_all(ctx, [job_id]) == {job_id: "attention"}
    assert wro_creates(shipbob) == 1

    new = hook(shipbob, "seed", {"skus": ["RQ-NEW"]})["inventory_ids"]["RQ-NEW"]
    ctx.coordinator.cache_delete("sku:RQ-NEW")  # the cached "unknown" answer expires
    assert replay_all(ctx, [job_id]) == {job_id: "done"}
    by_po = wros_by_po(shipbob)
    assert box_items(by_po[f"{po}#2"][0]) == {new: 3}
    assert replay_all(ctx, [job_id]) == {job_id: "done"}
    assert wro_creates(shipbob) == 2
    assert job_for(ctx, po).state == JobState.DONE.value


def test_an_unmapped_site_parks_the_purchase_order(ctx, sandboxes):
    ifs, shipbob = sandboxes
    hook(shipbob, "seed", {"skus": ["RS-1"]})
    [po] = create_purchase_orders(ifs, {"Contract": "S99", "lines": [("RS-1", 1)]})
    with ctx.session() as session:
        job_id = jobs.request_job(session, Flow.REPLENISHMENT.value, po, ifs_ref=po).job_id
    result = run_job(ctx, job_id)
    assert result.status == "attention" and "'S99'" in result.detail
    assert wros(shipbob) == []


def test_a_purchase_order_above_the_wro_sku_limit_becomes_two_wros_received_as_one_order(ctx, sandboxes):
    ifs, shipbob = sandboxes
    n = WRO_SKU_LIMIT + 50
    inventory = hook(shipbob, "seed", {"count": n, "seed": 3})["inventory_ids"]
    assert len(inventory) == n
    [po] = create_purchase_orders(ifs, {"lines": [(f"P{i:05d}", 1 + i % 7) for i in range(1, n + 1)]})
    [job_id] = poll_replenishment(ctx)
    started = time.monotonic()
    assert run_job(ctx, job_id).status == "done"
    elapsed = time.monotonic() - started

    by_po = wros_by_po(shipbob)
    assert sorted(by_po) == [po, f"{po}#2"]
    first, second = by_po[po], by_po[f"{po}#2"]
    assert len(first) == len(second) == 1
    a, b = box_items(first[0]), box_items(second[0])
    assert len(a) == WRO_SKU_LIMIT and len(b) == 50
    assert not set(a) & set(b)
    # every line of the IFS order, once, with its quantity: the line read paged through all of them
    expected = {inventory[f"P{i:05d}"]: 1 + i % 7 for i in range(1, n + 1)}
    assert {**a, **b} == expected

    # a rerun, and a rerun after losing the bookkeeping of the second chunk, create nothing
    assert replay_all(ctx, [job_id]) == {job_id: "done"}
    with ctx.session() as session:
        session.execute(delete(Binding).where(Binding.kind == "wro", Binding.ifs_key == f"{po}#2"))
    assert replay_all(ctx, [job_id]) == {job_id: "done"}
    assert wro_creates(shipbob) == 2
    assert len(wros(shipbob)) == 2
    assert elapsed < 60, f"10,050 lines took {elapsed:.1f}s"

    # the warehouse stows all of the second chunk and a part of the first:
    # receipts for both chunks land on the one IFS order
    hook(shipbob, f"receiving/{second[0]['id']}/receive",
         {"items": [{"inventory_id": i, "stowed": q} for i, q in b.items()]})
    part = dict(sorted(a.items())[:100])
    hook(shipbob, f"receiving/{first[0]['id']}/receive",
         {"items": [{"inventory_id": i, "stowed": q} for i, q in part.items()]})
    flow, receipt_jobs = run_poll(ctx, "receiving")
    assert len(receipt_jobs) == 1
    assert run_job(ctx, receipt_jobs[0]).status == "done"
    part_of = {v: k for k, v in inventory.items()}
    receipts = [r for r in ifs_rows(ifs, "PurchaseReceiptSet") if r["OrderNo"] == po]
    assert sorted((r["PartNo"], r["QtyArrived"]) for r in receipts) == sorted(
        (part_of[i], q) for i, q in {**b, **part}.items())
    synced = {w["purchase_order_number"]: w["external_sync_timestamp"] is not None for w in wros(shipbob)}
    assert synced == {po: False, f"{po}#2": True}


def test_a_line_fixed_after_a_lost_binding_is_still_sent(ctx, sandboxes):
    """What was sent is what ShipBob has under the PO's numbers, not what our
    bookkeeping remembers: after a crash lost the binding, a line that was
    parked (unknown SKU) and has since been fixed must still go out."""
    ifs, shipbob = sandboxes
    inventory = hook(shipbob, "seed", {"skus": ["RT-1"]})["inventory_ids"]
    [po] = create_purchase_orders(ifs, {"lines": [("RT-1", 6), ("RT-NEW", 3)]})
    [job_id] = poll_replenishment(ctx)
    assert run_job(ctx, job_id).status == "attention"
    with ctx.session() as session:
        session.execute(delete(Binding).where(Binding.kind == "wro"))
    new = hook(shipbob, "seed", {"skus": ["RT-NEW"]})["inventory_ids"]["RT-NEW"]
    ctx.coordinator.cache_delete("sku:RT-NEW")
    assert replay_all(ctx, [job_id]) == {job_id: "done"}
    by_po = wros_by_po(shipbob)
    assert {name: box_items(ws[0]) for name, ws in by_po.items()} == {
        po: {inventory["RT-1"]: 6}, f"{po}#2": {new: 3}}
    # and the bookkeeping is whole again
    with ctx.session() as session:
        bound = dict(session.execute(select(Binding.ifs_key, Binding.shipbob_id)
                                     .where(Binding.kind == "wro")).all())
    assert bound == {name: str(ws[0]["id"]) for name, ws in by_po.items()}


def test_a_quantity_that_is_not_whole_is_parked_not_rounded(ctx, sandboxes):
    """ShipBob counts units; 2.5 of something is a unit-of-measure question
    for a person, not 2 units."""
    ifs, shipbob = sandboxes
    inventory = hook(shipbob, "seed", {"skus": ["RU-1", "RU-2"]})["inventory_ids"]
    [po] = create_purchase_orders(ifs, {"lines": [("RU-1", 4), ("RU-2", 2.5)]})
    [job_id] = poll_replenishment(ctx)
    result = run_job(ctx, job_id)
    assert result.status == "attention", result
    assert "line 2/1 part RU-2" in result.detail and "2.5" in result.detail
    assert {po: box_items(ws[0]) for po, ws in wros_by_po(shipbob).items()} == {po: {inventory["RU-1"]: 4}}
