"""Order push end to end: IFS sandbox -> our flow -> ShipBob sandbox, over HTTP,
with real PostgreSQL and Redis."""

from __future__ import annotations

from sqlalchemy import delete, select

from connector import jobs
from connector.db.models import Binding, Job, JobState
from connector.flows.order_poll import poll_orders
from connector.runner import run_job
from tests.helpers import hook, ifs_rows, seed_world


def shipbob_orders(server):
    return hook(server, "dump/orders", method="GET")


def drain(ctx, job_ids):
    return {job_id: run_job(ctx, job_id).status for job_id in job_ids}


def test_released_orders_become_shipbob_orders_exactly_once(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed_world(sandboxes)
    # when the poll runs and every job is worked
    created = poll_orders(ctx)
    assert created
    results = drain(ctx, created)
    # then every order is pushed, one ShipBob order per (IFS order, site)
    assert set(results.values()) == {"done"}, results
    orders = ifs_rows(ifs, "CustomerOrderSet")
    released = [o for o in orders if o["Objstate"] == "Released"]
    lines = ifs_rows(ifs, "CustomerOrderLineSet")
    groups = {(l["OrderNo"], l["Contract"]) for l in lines if any(o["OrderNo"] == l["OrderNo"] for o in released)}
    pushed = shipbob_orders(shipbob)
    refs = [o["reference_id"] for o in pushed]
    assert len(refs) == len(set(refs)) == len(groups)
    assert any("-" in r for r in refs), "the seed has orders split across sites"
    # and the ShipBob ids are written back onto every IFS order under its ETag
    by_ref = {o["reference_id"]: o["id"] for o in pushed}
    for order in released:
        ids = {int(i) for i in order["Cf_Shipbob_Order_Id"].split(",")}
        assert ids == {by_ref[r] for r in refs if r.split("-")[0] == order["OrderNo"]}
    # and products carry the SKU and the open quantity
    sample = next(o for o in pushed if o["reference_id"] in {x["OrderNo"] for x in released})
    ifs_lines = [l for l in lines if l["OrderNo"] == sample["reference_id"] and l["Contract"] ==
                 next(o for o in released if o["OrderNo"] == sample["reference_id"])["Contract"]]
    assert sorted((p["reference_id"], p["quantity"]) for p in sample["products"]) == sorted(
        (l["PartNo"], int(l["BuyQtyDue"])) for l in ifs_lines)

    # a second poll finds nothing new and a replay of everything creates nothing
    assert poll_orders(ctx) == []
    with ctx.session() as session:
        for job_id in created:
            jobs.replay(session, job_id)
    assert set(drain(ctx, created).values()) == {"done"}
    assert len(shipbob_orders(shipbob)) == len(groups)


def test_a_lost_binding_is_recovered_through_the_duplicate_reference(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=3, split_ratio=0)
    created = poll_orders(ctx)
    drain(ctx, created)
    before = len(shipbob_orders(shipbob))
    # given our bookkeeping was lost after ShipBob created the orders
    with ctx.session() as session:
        session.execute(delete(Binding))
        for job_id in created:
            jobs.replay(session, job_id)
    # when the jobs run again, ShipBob answers 422 and the order is adopted
    assert set(drain(ctx, created).values()) == {"done"}
    assert len(shipbob_orders(shipbob)) == before
    statuses = hook(shipbob, "stats", method="GET")["statuses"]
    assert statuses.get("422", 0) >= len(created), statuses
    with ctx.session() as session:
        assert session.execute(select(Binding).where(Binding.kind == "order")).scalars().all()


def test_unknown_sku_parks_the_order_and_replays_cleanly_after_the_fix(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=0)
    hook(ifs, "orders", {"orders": [{
        "OrderNo": "C9001", "Contract": "S01", "ShipViaCode": "UPS-GND",
        "lines": [{"PartNo": "P00001", "BuyQtyDue": 1}, {"PartNo": "NEW-SKU", "BuyQtyDue": 2}],
        "address": {"Name": "Grace Hopper", "Address1": "1 Navy Way", "City": "Arlington",
                    "State": "VA", "ZipCode": "22202", "Country": "US"},
    }]})
    [job_id] = poll_orders(ctx)
    result = run_job(ctx, job_id)
    assert result.status == "attention"
    assert "NEW-SKU" in result.detail
    assert shipbob_orders(shipbob) == []
    # the product is created at ShipBob, then the item is replayed
    hook(shipbob, "seed", {"skus": ["NEW-SKU"]})
    with ctx.session() as session:
        jobs.replay(session, job_id)
    assert run_job(ctx, job_id).status == "done"
    assert [o["reference_id"] for o in shipbob_orders(shipbob)] == ["C9001"]


def test_unmapped_ship_via_and_missing_address_are_parked_with_reasons(ctx, sandboxes):
    ifs, _ = sandboxes
    seed_world(sandboxes, orders=0)
    hook(ifs, "orders", {"orders": [
        {"OrderNo": "C9101", "Contract": "S01", "ShipViaCode": "CAMEL",
         "lines": [{"PartNo": "P00001", "BuyQtyDue": 1}],
         "address": {"Name": "A", "Address1": "1 St", "City": "X", "Country": "US"}},
        {"OrderNo": "C9102", "Contract": "S01", "ShipViaCode": "UPS-GND",
         "lines": [{"PartNo": "P00001", "BuyQtyDue": 1}]},
    ]})
    results = {run_job(ctx, j).detail for j in poll_orders(ctx)}
    assert any("ship-via 'CAMEL'" in r for r in results)
    assert any("no delivery address" in r for r in results)
    with ctx.session() as session:
        states = session.execute(select(Job.state)).scalars().all()
    assert states == [JobState.ATTENTION.value] * 2


def test_rate_limits_stale_etags_and_metadata_errors_are_survived(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=4, split_ratio=0)
    hook(shipbob, "faults", {"too_many": 2, "retry_after": 1})
    hook(ifs, "faults", {"stale_etag": 2, "mi_modified": 1})
    created = poll_orders(ctx)
    results = drain(ctx, created)
    # a job may need a retry, never more than that; none is lost
    for _ in range(3):
        pending = [j for j, s in results.items() if s == "retry"]
        if not pending:
            break
        with ctx.session() as session:
            for job_id in pending:
                jobs.replay(session, job_id)
        results.update(drain(ctx, pending))
    assert set(results.values()) == {"done"}, results
    assert len(shipbob_orders(shipbob)) == 4


def test_an_order_cancelled_in_ifs_is_cancelled_at_shipbob_unless_already_shipped(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=2, split_ratio=0)
    created = poll_orders(ctx)
    assert set(drain(ctx, created).values()) == {"done"}
    first, second = sorted(shipbob_orders(shipbob), key=lambda o: o["reference_id"])
    # the warehouse ships the second one before IFS cancels both
    hook(shipbob, f"orders/{second['id']}/ship", {"with_tracking": True})
    for order in (first, second):
        hook(ifs, "bump", {"set": "CustomerOrderSet", "key": {"OrderNo": order["reference_id"]},
                           "changes": {"Objstate": "Cancelled"}})
    from connector.polls import run_poll

    _, woken = run_poll(ctx, "orders")
    results = {job_id: run_job(ctx, job_id) for job_id in woken}
    by_status = {r.status: r for r in results.values()}
    assert set(by_status) == {"done", "attention"}
    assert "already picked or shipped" in by_status["attention"].detail
    statuses = {o["reference_id"]: o["status"] for o in shipbob_orders(shipbob)}
    assert statuses[first["reference_id"]] == "Cancelled"
    assert statuses[second["reference_id"]] != "Cancelled"
    # handled: the next poll does not ask again
    assert run_poll(ctx, "orders")[1] == []


def test_an_order_released_long_after_it_was_entered_is_found_by_the_catch_up_poll(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=0)
    hook(ifs, "orders", {"orders": [{
        "OrderNo": "C8001", "Contract": "S01", "ShipViaCode": "UPS-GND",
        "DateEntered": "2025-01-02T09:00:00Z",  # far behind the date cursor
        "lines": [{"PartNo": "P00001", "BuyQtyDue": 1}],
        "address": {"Name": "A", "Address1": "1 St", "City": "X", "Country": "US"}}]})
    assert poll_orders(ctx) == []
    from connector.polls import run_poll

    _, woken = run_poll(ctx, "unpushed")
    assert [run_job(ctx, j).status for j in woken] == ["done"]
    assert [o["reference_id"] for o in shipbob_orders(shipbob)] == ["C8001"]
    assert run_poll(ctx, "unpushed")[1] == []


def test_a_cancellation_reaches_shipbob_even_when_the_push_failed_before_its_write_back(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=1, split_ratio=0)
    [job_id] = poll_orders(ctx)
    assert run_job(ctx, job_id).status == "done"
    # as if the write-back had failed for good: ShipBob has the order, IFS has no id
    [order] = shipbob_orders(shipbob)
    with ctx.session() as session:
        session.execute(Job.__table__.update().where(Job.id == job_id).values(state=JobState.FAILED.value))
    hook(ifs, "bump", {"set": "CustomerOrderSet", "key": {"OrderNo": order["reference_id"]},
                       "changes": {"Objstate": "Cancelled", "Cf_Shipbob_Order_Id": None}})
    from connector.polls import run_poll

    _, woken = run_poll(ctx, "orders")
    assert [run_job(ctx, j).status for j in woken] == ["done"]
    assert shipbob_orders(shipbob)[0]["status"] == "Cancelled"
