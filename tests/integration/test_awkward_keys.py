"""Any IFS key works in every ShipBob look-up: commas, spaces, quotes,
unicode. ShipBob splits list filters (`ReferenceIds`, `PurchaseOrderNumbers`)
at every comma, so `K,123` asked as a list is `K` and `123`: the flows must
still adopt the one ShipBob object whose key is exactly theirs.

Real PostgreSQL, Redis and both sandboxes over HTTP; decoy ShipBob objects
keyed `K` and `123` are what a split look-up would find instead.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import delete, select

from connector import jobs
from connector.db.models import Binding, Flow, Job
from connector.flows.order_poll import poll_orders
from connector.flows.replenishment import poll_replenishment
from connector.runner import run_job
from tests.helpers import hook, shipbob_api

KEYS = ["K,123", "A B", "O'Brien", "Ünï"]
DECOYS = ["K", "123"]
SKU = "AK,1 ü"  # part numbers are IFS keys too: the SKU look-up must cope
ADDRESS = {"Name": "Ann Smith", "Address1": "1 Main St", "City": "Chicago", "ZipCode": "60607",
           "State": "IL", "Country": "US"}


def decoy_order(ref: str) -> dict:
    return {"reference_id": ref, "shipping_method": "Standard", "type": "DTC",
            "recipient": {"name": "Decoy", "address": {"address1": "2 Side St", "city": "Chicago",
                                                       "state": "IL", "country": "US", "zip_code": "60607"}},
            "products": [{"reference_id": SKU, "sku": SKU, "name": SKU, "quantity": 1}]}


def lose_bindings_and_replay(ctx, kind: str, job_ids: list[int]) -> dict[int, str]:
    """Our record of the create is gone (its answer lost with a crashed
    worker): the next run meets ShipBob's copy and must adopt it."""
    with ctx.session() as session:
        session.execute(delete(Binding).where(Binding.kind == kind))
        for job_id in job_ids:
            jobs.replay(session, job_id)
    return {job_id: run_job(ctx, job_id).status for job_id in job_ids}


def bound(ctx, kind: str) -> dict[str, str]:
    with ctx.session() as session:
        return {b.ifs_key: b.shipbob_id for b in session.execute(
            select(Binding).where(Binding.kind == kind)).scalars()}


def test_order_push_adopts_the_exact_order_after_a_lost_create(ctx, sandboxes):
    ifs, shipbob = sandboxes
    hook(shipbob, "seed", {"skus": [SKU]})
    hook(ifs, "orders", {"orders": [{"OrderNo": key, "Contract": "S01", "ShipViaCode": "UPS-GND",
                                     "lines": [{"PartNo": SKU, "BuyQtyDue": 1}], "address": ADDRESS}
                                    for key in KEYS]})
    for ref in DECOYS:
        shipbob_api(shipbob, "POST", "/order", decoy_order(ref))
    job_ids = poll_orders(ctx)
    assert len(job_ids) == len(KEYS)
    assert {run_job(ctx, job_id).status for job_id in job_ids} == {"done"}
    first = bound(ctx, "order")
    assert sorted(first) == sorted(KEYS)

    replayed = lose_bindings_and_replay(ctx, "order", job_ids)

    assert set(replayed.values()) == {"done"}, replayed
    statuses = hook(shipbob, "stats", method="GET")["statuses"]
    assert statuses.get("422", 0) >= len(KEYS)  # every replay met the duplicate reference
    assert bound(ctx, "order") == first  # and adopted the very order it had created
    per_ref = Counter(o["reference_id"] for o in hook(shipbob, "dump/orders", method="GET"))
    assert per_ref == Counter(KEYS + DECOYS)
    with ctx.session() as session:
        refs = {j.key: j.shipbob_ref for j in session.execute(
            select(Job).where(Job.flow == Flow.ORDER_PUSH.value)).scalars()}
    assert refs == first


def test_replenishment_finds_the_exact_wro_after_a_lost_create(ctx, sandboxes):
    ifs, shipbob = sandboxes
    hook(shipbob, "seed", {"skus": [SKU]})
    hook(ifs, "purchase_orders", {"purchase_orders": [
        {"OrderNo": key, "lines": [{"PartNo": SKU, "BuyQtyDue": 5}]} for key in KEYS]})
    job_ids = poll_replenishment(ctx)
    assert len(job_ids) == len(KEYS)
    assert {run_job(ctx, job_id).status for job_id in job_ids} == {"done"}
    first = bound(ctx, "wro")

    replayed = lose_bindings_and_replay(ctx, "wro", job_ids)

    assert set(replayed.values()) == {"done"}, replayed
    per_po = Counter(w["purchase_order_number"] for w in hook(shipbob, "dump/receiving", method="GET"))
    assert per_po == Counter(KEYS)  # looked up before creating: never a second WRO
    assert bound(ctx, "wro") == first
