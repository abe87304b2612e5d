"""Shortages are never silent (issue 13): an order needing more than ShipBob can
fulfil at its fulfillment center is flagged after its push, or held unpushed until
stock arrives, per the mapping's `shortage`. Both sandboxes over HTTP, real
PostgreSQL and Redis; jobs run as a worker runs them (connector.runner).

Default mapping: S01 -> FC 156, parts map to themselves.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from connector import jobs
from connector.context import Context
from connector.db.models import Job, JobState
from connector.flows.inventory_sync import request_daily_sync
from connector.flows.order_poll import poll_orders
from connector.items import find_items
from connector.mapping import load_mapping
from connector.runner import run_job
from tests.helpers import hook, ifs_rows

LEVELS_CALL = "GET /2026-01/inventory-level/locations"
FC = 156
PUSH, SHORTAGE = "order_push", "stock_shortage"  # flows, by name: the test must run on old code
HOLD = "stock:arrival"


def seed(sandboxes, levels: dict[str, int]) -> None:
    """IFS parts P00001.. and customers; ShipBob the same SKUs, holding `levels`
    at FC 156 (and plenty of the others)."""
    ifs, shipbob = sandboxes
    hook(ifs, "seed", {"orders": 0, "parts": 5, "seed": 7, "sites": ["S01"], "split_ratio": 0,
                       "purchase_orders": 0})
    hook(shipbob, "seed", {"count": 5, "seed": 7, "level_range": [500, 1000],
                           "levels": {sku: {str(FC): qty} for sku, qty in levels.items()}})


def release(ifs, *orders: dict[str, int]) -> list[str]:
    """One released IFS order at S01 per {part: quantity}; their order numbers."""
    created = hook(ifs, "orders", {"orders": [
        {"Contract": "S01", "CustomerNo": "CU1001", "ShipViaCode": "UPS-GND",
         "lines": [{"PartNo": part, "BuyQtyDue": qty} for part, qty in lines.items()]}
        for lines in orders]})["orders"]
    return [o["OrderNo"] for o in created]


def with_policy(ctx: Context, tmp_path, policy: str) -> Context:
    return with_mapping(ctx, tmp_path, shortage=policy)


def with_mapping(ctx: Context, tmp_path, **changes) -> Context:
    """The same context with these mapping keys changed."""
    data = {**load_mapping(None).model_dump(mode="json"), **changes}
    path = tmp_path / f"mapping-{len(list(tmp_path.glob('mapping-*')))}.json"
    path.write_text(json.dumps(data))
    settings = ctx.settings.model_copy(update={"mapping_file": path})
    settings.__dict__.pop("mapping", None)  # the copy loads its own mapping
    return Context(settings)


def job(ctx, flow: str, key: str) -> Job | None:
    with ctx.session() as session:
        return session.execute(select(Job).where(Job.flow == flow, Job.key == key)).scalar_one_or_none()


def shipbob_quantities(shipbob) -> dict[str, dict[str, int]]:
    """reference_id -> {sku: quantity} of every ShipBob order."""
    return {o["reference_id"]: {p["reference_id"]: p["quantity"] for p in o["products"]}
            for o in hook(shipbob, "dump/orders", method="GET")}


def levels_calls(shipbob) -> int:
    return hook(shipbob, "stats", method="GET")["requests"].get(LEVELS_CALL, 0)


def shipbob_id_in_ifs(ifs, order_no: str) -> str | None:
    return next(o.get("Cf_Shipbob_Order_Id") for o in ifs_rows(ifs, "CustomerOrderSet")
                if o["OrderNo"] == order_no)


def add_stock(shipbob, sku: str, units: int) -> None:
    hook(shipbob, "inventory/adjust", {"sku": sku, "fulfillment_center_id": FC, "quantity_change": units})


def run_inventory_sync(ctx) -> None:
    """The daily sync, as the beat requests it and a worker runs it."""
    [sync_id] = request_daily_sync(ctx)
    assert run_job(ctx, sync_id).status == "done"


def due(ctx, flow: str) -> list[int]:
    with ctx.session() as session:
        return list(session.execute(select(Job.id).where(
            Job.flow == flow, Job.state == JobState.PENDING.value).order_by(Job.id)).scalars())


# ---------------------------------------------------------------------- flag

def test_flag_pushes_the_short_order_and_raises_an_item_naming_sku_need_and_available(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed(sandboxes, {"P00001": 2})
    [order_no] = release(ifs, {"P00001": 5, "P00002": 1})

    [push] = poll_orders(ctx)
    assert run_job(ctx, push).status == "done"

    # the order is pushed, whole, and its id written back: the push is not lost
    assert shipbob_quantities(shipbob)[order_no] == {"P00001": 5, "P00002": 1}
    pushed = job(ctx, PUSH, order_no)
    assert pushed.state == JobState.DONE.value and shipbob_id_in_ifs(ifs, order_no) == pushed.shipbob_refs[0]
    # and a shortage item of its own names SKU, center, need and available
    short = job(ctx, SHORTAGE, order_no)
    assert short is not None and short.state == JobState.ATTENTION.value
    assert short.reason == (f"order {order_no} was pushed short at ShipBob: SKU 'P00001' at "
                            f"fulfillment center {FC} (site S01): need 5, available 2")
    assert short.ifs_ref == order_no and short.shipbob_refs == pushed.shipbob_refs
    # found by what an operator has at hand: the IFS order or the ShipBob order
    with ctx.session() as session:
        assert {j.flow for j in find_items(session, order_no)} == {"order_push", "stock_shortage"}
        assert {j.flow for j in find_items(session, pushed.shipbob_refs[0])} == {"order_push",
                                                                                  "stock_shortage"}

    # a replay while still short parks it again with ShipBob's numbers now
    with ctx.session() as session:
        jobs.replay(session, short.id)
    assert run_job(ctx, short.id).status == "attention"
    assert "now on hand 2, committed 5" in job(ctx, SHORTAGE, order_no).reason

    # once stock arrives and the inventory sync ends, the item re-checks and is done
    add_stock(shipbob, "P00001", 3)
    run_inventory_sync(ctx)
    assert due(ctx, SHORTAGE) == [short.id]
    assert run_job(ctx, short.id).status == "done"
    assert job(ctx, SHORTAGE, order_no).state == JobState.DONE.value


def test_an_order_with_enough_stock_raises_nothing(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed(sandboxes, {"P00001": 5})
    [order_no] = release(ifs, {"P00001": 5})
    [push] = poll_orders(ctx)
    assert run_job(ctx, push).status == "done"
    assert job(ctx, SHORTAGE, order_no) is None


def test_orders_of_one_batch_compete_for_the_last_units_with_one_stock_read(ctx, sandboxes):
    """ShipBob holds 2; three orders of one poll want 2, 1 and 1: the first takes
    both, the others are short, though the snapshot read for the batch still says 2.
    The poll reads the batch's stock once; no push reads it again."""
    ifs, shipbob = sandboxes
    seed(sandboxes, {"P00003": 2})
    first, second, third = release(ifs, {"P00003": 2}, {"P00003": 1, "P00004": 1}, {"P00003": 1})
    before = levels_calls(shipbob)

    pushes = poll_orders(ctx)
    assert levels_calls(shipbob) == before + 1
    assert [run_job(ctx, job_id).status for job_id in pushes] == ["done"] * 3
    assert levels_calls(shipbob) == before + 1

    assert set(shipbob_quantities(shipbob)) == {first, second, third}
    assert job(ctx, SHORTAGE, first) is None
    for order_no in (second, third):
        assert job(ctx, SHORTAGE, order_no).reason.endswith(
            f"SKU 'P00003' at fulfillment center {FC} (site S01): need 1, available 0")


# ---------------------------------------------------------------------- hold

def test_hold_parks_the_order_unpushed_and_the_inventory_sync_wakes_it(ctx, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    held = with_policy(ctx, tmp_path, "hold")
    seed(sandboxes, {"P00001": 2})
    [order_no] = release(ifs, {"P00001": 5})

    [push] = poll_orders(held)
    assert run_job(held, push).status == "attention"

    # nothing reached ShipBob or IFS; the item says why and waits for stock
    assert shipbob_quantities(shipbob) == {}
    assert not shipbob_id_in_ifs(ifs, order_no)
    parked = job(held, PUSH, order_no)
    assert parked.waits_for == HOLD
    assert parked.reason.startswith(
        f"order {order_no} held for stock (mapping shortage: hold), not pushed: SKU 'P00001' at "
        f"fulfillment center {FC} (site S01): need 5, available 2;")
    assert job(held, SHORTAGE, order_no) is None
    # the poll seeing it again does not push it
    assert poll_orders(held) == []

    # more stock, but still too little: the sync wakes it, it is held again
    add_stock(shipbob, "P00001", 2)
    run_inventory_sync(held)
    assert due(held, PUSH) == [push]
    assert run_job(held, push).status == "attention"
    assert "need 5, available 4" in job(held, PUSH, order_no).reason
    assert shipbob_quantities(shipbob) == {}

    # enough: woken by the sync, pushed, no longer waiting
    add_stock(shipbob, "P00001", 1)
    run_inventory_sync(held)
    assert run_job(held, push).status == "done"
    assert shipbob_quantities(shipbob) == {order_no: {"P00001": 5}}
    pushed = job(held, PUSH, order_no)
    assert pushed.waits_for is None and "stock_hold" not in pushed.payload
    assert shipbob_id_in_ifs(ifs, order_no) == pushed.shipbob_refs[0]


def test_held_orders_compete_for_the_stock_that_arrives(ctx, sandboxes, tmp_path):
    """ShipBob holds 1; three orders want 2, 3 and 1: the third fits, the first two
    are held. 4 more arrive: once woken the first takes 2 and is pushed, the second
    finds the 2 left too few for its 3 and waits again."""
    ifs, shipbob = sandboxes
    held = with_policy(ctx, tmp_path, "hold")
    seed(sandboxes, {"P00002": 1})
    two, three, one = release(ifs, {"P00002": 2}, {"P00002": 3}, {"P00002": 1})
    pushes = poll_orders(held)
    assert [run_job(held, job_id).status for job_id in pushes] == ["attention", "attention", "done"]
    assert set(shipbob_quantities(shipbob)) == {one}

    add_stock(shipbob, "P00002", 4)  # on hand 5, committed 1: 4 fulfillable
    run_inventory_sync(held)
    woken = due(held, PUSH)
    assert woken == pushes[:2]
    assert [run_job(held, job_id).status for job_id in woken] == ["done", "attention"]
    assert set(shipbob_quantities(shipbob)) == {one, two}
    assert (f"not pushed: SKU 'P00002' at fulfillment center {FC} (site S01): need 3, available 2;"
            in job(held, PUSH, three).reason)


def test_a_resolved_held_order_is_not_woken(ctx, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    held = with_policy(ctx, tmp_path, "hold")
    seed(sandboxes, {"P00001": 0})
    [order_no] = release(ifs, {"P00001": 1})
    [push] = poll_orders(held)
    assert run_job(held, push).status == "attention"
    with held.session() as session:
        assert jobs.close(session, push, JobState.IGNORED, "ops", "cancelled by phone")
    add_stock(shipbob, "P00001", 5)
    run_inventory_sync(held)
    assert due(held, PUSH) == []
    assert shipbob_quantities(shipbob) == {}


def test_off_skips_the_check_and_its_stock_reads(ctx, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    unchecked = with_policy(ctx, tmp_path, "off")
    seed(sandboxes, {"P00001": 0})
    [order_no] = release(ifs, {"P00001": 3})
    [push] = poll_orders(unchecked)
    assert run_job(unchecked, push).status == "done"
    assert levels_calls(shipbob) == 0
    assert job(unchecked, SHORTAGE, order_no) is None


def test_a_push_that_fails_after_creating_a_short_order_flags_it_on_its_next_try(ctx, sandboxes, tmp_path):
    """A split order: its S01 part is short and is created; its S02 part is refused
    (the mapping sends it to a center ShipBob does not have). The retry, once the
    mapping is fixed, creates the rest and still flags the S01 shortage."""
    ifs, shipbob = sandboxes
    seed(sandboxes, {"P00001": 2})
    broken = with_mapping(ctx, tmp_path, sites={"S01": FC, "S02": 999})
    [created] = hook(ifs, "orders", {"orders": [
        {"Contract": "S01", "CustomerNo": "CU1001", "ShipViaCode": "UPS-GND",
         "lines": [{"PartNo": "P00001", "BuyQtyDue": 5},
                   {"PartNo": "P00002", "BuyQtyDue": 1, "Contract": "S02"}]}]})["orders"]
    order_no = created["OrderNo"]

    [push] = poll_orders(broken)
    assert run_job(broken, push).status == "failed"  # ShipBob: Location 999 does not exist
    assert set(shipbob_quantities(shipbob)) == {order_no}
    assert job(ctx, SHORTAGE, order_no) is None

    fixed = with_mapping(ctx, tmp_path, sites={"S01": FC, "S02": 157})
    with fixed.session() as session:
        jobs.replay(session, push)
    assert run_job(fixed, push).status == "done"
    assert set(shipbob_quantities(shipbob)) == {order_no, f"{order_no}-S02"}
    assert job(ctx, SHORTAGE, order_no).reason == (
        f"order {order_no} was pushed short at ShipBob: SKU 'P00001' at fulfillment center {FC} "
        "(site S01): need 5, available 2")
    assert "stock_short" not in job(ctx, PUSH, order_no).payload
