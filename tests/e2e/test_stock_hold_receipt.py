"""A held order is pushed once its stock is received, through the real pipeline:
Celery worker processes run the polls, the pushes, the replenishment and the
receipt; the mapping says `shortage: hold`.

ShipBob holds 2 of a SKU, IFS orders 5: the push is parked unsent, waiting for
stock. The purchase order that refills it goes to ShipBob as a WRO, the warehouse
(the ShipBob sandbox) stows the units, the receiving poll's receipt job posts them
to IFS, and its end wakes the held order, which the worker pushes, whole.
"""

from __future__ import annotations

import json

import pytest
from celery import Celery
from sqlalchemy import select

from cli.stack import Stack, env_for
from connector.context import Context
from connector.db.models import Job, JobState
from connector.mapping import load_mapping
from tests.conftest import REDIS_URL
from tests.helpers import eventually, hook, ifs_rows

FC = 156
SKU = "P00001"
HOLD = "stock:arrival"
QUEUES = ["order_push", "replenishment", "inbound_receipt", "polls", "sweep"]


@pytest.fixture
def world(settings, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    data = load_mapping(None).model_dump(mode="json")
    data["shortage"] = "hold"
    (tmp_path / "mapping.json").write_text(json.dumps(data))
    settings = settings.model_copy(update={"mapping_file": tmp_path / "mapping.json"})
    settings.__dict__.pop("mapping", None)
    env = env_for(settings, broker_url=REDIS_URL, order_poll_seconds=3600, unpushed_poll_seconds=3600,
                  tracking_poll_seconds=3600, shipments_poll_seconds=3600,
                  replenishment_poll_seconds=3600, receiving_poll_seconds=3600,
                  returns_poll_seconds=3600, worker_metrics_port=0)
    app = Celery("test-client", broker=REDIS_URL,
                 broker_transport_options={"global_keyprefix": settings.redis_prefix})
    with Stack(env=env, logdir=tmp_path / "logs", ifs=ifs, shipbob=shipbob) as stack:
        yield Context(settings), sandboxes, stack, app


def push_job(ctx, order_no: str) -> Job | None:
    with ctx.session() as session:
        return session.execute(select(Job).where(Job.flow == "order_push", Job.key == order_no)
                               ).scalar_one_or_none()


def poll(app: Celery, name: str) -> None:
    """What beat does on its schedule."""
    app.send_task("workers.tasks.poll", args=[name], queue="polls")


def shipbob_order(shipbob, reference: str) -> dict | None:
    return next((o for o in hook(shipbob, "dump/orders", method="GET") if o["reference_id"] == reference), None)


def test_a_held_order_is_pushed_when_its_wro_is_received(world):
    ctx, (ifs, shipbob), stack, app = world
    hook(ifs, "seed", {"orders": 0, "parts": 5, "seed": 7, "sites": ["S01"], "split_ratio": 0,
                       "purchase_orders": 0})
    inventory = hook(shipbob, "seed", {"count": 5, "seed": 7, "level_range": [500, 1000],
                                       "levels": {SKU: {str(FC): 2}}})["inventory_ids"]
    [order] = hook(ifs, "orders", {"orders": [{"Contract": "S01", "CustomerNo": "CU1001",
                                               "ShipViaCode": "UPS-GND",
                                               "lines": [{"PartNo": SKU, "BuyQtyDue": 5}]}]})["orders"]
    order_no = order["OrderNo"]
    stack.start_worker("worker", concurrency=2, queues=QUEUES)

    # the poll finds the order; the push holds it: nothing sent, waiting for stock
    poll(app, "orders")
    held = eventually(lambda: (j := push_job(ctx, order_no)) is not None
                      and j.state == JobState.ATTENTION.value and j, 90, "the push to be held")
    assert held.waits_for == HOLD
    assert f"SKU '{SKU}' at fulfillment center {FC} (site S01): need 5, available 2" in held.reason
    assert shipbob_order(shipbob, order_no) is None

    # the refill: a purchase order goes to ShipBob as a WRO, and the warehouse stows it
    [po] = hook(ifs, "purchase_orders", {"purchase_orders": [
        {"Contract": "S01", "lines": [{"PartNo": SKU, "BuyQtyDue": 10}]}]})["purchase_orders"]
    poll(app, "replenishment")

    def wro() -> dict | None:
        return next((w for w in hook(shipbob, "dump/receiving", method="GET")
                     if (w["purchase_order_number"] or "").split("#")[0] == po["OrderNo"]), None)

    sent = eventually(wro, 90, "the WRO")
    assert push_job(ctx, order_no).state == JobState.ATTENTION.value  # a WRO is not stock yet
    hook(shipbob, f"receiving/{sent['id']}/receive",
         {"items": [{"inventory_id": inventory[SKU], "stowed": 10}], "complete": True})

    # the receipt job's end wakes the held order, and the worker pushes it whole
    poll(app, "receiving")
    pushed = eventually(lambda: shipbob_order(shipbob, order_no), 90, "the held order at ShipBob")
    assert [(p["reference_id"], p["quantity"]) for p in pushed["products"]] == [(SKU, 5)]
    done = eventually(lambda: (j := push_job(ctx, order_no)).state == JobState.DONE.value and j, 60,
                      "the push to be done")
    assert done.waits_for is None and done.shipbob_refs == [str(pushed["id"])]
    assert {o["OrderNo"]: o.get("Cf_Shipbob_Order_Id") for o in ifs_rows(ifs, "CustomerOrderSet")
            }[order_no] == str(pushed["id"])
    receipts = [r for r in ifs_rows(ifs, "PurchaseReceiptSet") if r["OrderNo"] == po["OrderNo"]]
    assert sum(r["QtyArrived"] for r in receipts) == 10
