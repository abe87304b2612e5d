"""The changed-orders poll recovers what the tracking poll cannot see once
ShipBob has given up on a webhook: a delivery, and a shipment shipped without
tracking. No webhook subscription exists here, so every event is lost."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from connector.db.models import Flow, Job, utcnow
from connector.flows.order_poll import poll_orders
from connector.flows.shipment_voucher import poll_shipment_changes, poll_untracked
from connector.reconcile import reconcile
from connector.runner import run_job
from tests.helpers import hook, ifs_rows, seed_world, shipbob_api


def _pushed(ctx, sandboxes, orders=1) -> list[dict]:
    seed_world(sandboxes, orders=orders, split_ratio=0)
    for push in poll_orders(ctx):
        assert run_job(ctx, push).status == "done"
    return hook(sandboxes[1], "dump/orders", method="GET")


def _shipment_of(shipbob, order_id: int) -> dict:
    [shipment] = [s for s in hook(shipbob, "dump/shipments", method="GET") if s["order_id"] == order_id]
    return shipment


def _run(ctx, job_ids: list[int]) -> None:
    for job_id in job_ids:
        assert run_job(ctx, job_id).status == "done"


def _behind(ctx) -> list[str]:
    [check] = [c for c in reconcile(ctx) if c.name == "vouchers behind ShipBob on tracking or delivery"]
    return [f"{d.key}: {d.detail}" for d in check.unexplained]


def _vouchers(ifs) -> dict[str, dict]:
    return {v["ExternalRef"]: v for v in ifs_rows(ifs, "FulfillmentVoucherSet")}


def test_a_shipment_shipped_without_tracking_and_then_delivered_reaches_ifs(ctx, sandboxes):
    ifs, shipbob = sandboxes
    [order] = _pushed(ctx, sandboxes)
    hook(shipbob, f"orders/{order['id']}/ship", {"with_tracking": False})
    shipment = _shipment_of(shipbob, order["id"])

    assert poll_untracked(ctx) == []  # no tracking: invisible to the tracking poll
    _run(ctx, poll_shipment_changes(ctx))
    voucher = _vouchers(ifs)[str(shipment["id"])]
    assert voucher["TrackingNo"] is None and not voucher.get("DeliveredDate")
    assert poll_shipment_changes(ctx) == []  # IFS is current: nothing to do

    hook(shipbob, f"shipments/{shipment['id']}/tracking", {"tracking_number": "1ZLOST"})
    hook(shipbob, f"shipments/{shipment['id']}/deliver")
    assert _behind(ctx) == [f"{shipment['id']}: IFS voucher lacks Carrier, DeliveredDate, TrackingNo, TrackingUrl"]
    _run(ctx, poll_shipment_changes(ctx))
    assert _behind(ctx) == []
    voucher = _vouchers(ifs)[str(shipment["id"])]
    assert voucher["TrackingNo"] == "1ZLOST" and voucher["DeliveredDate"]
    assert poll_shipment_changes(ctx) == []
    assert len(_vouchers(ifs)) == 1


def test_a_voucher_posted_with_tracking_is_not_run_again_until_delivery(ctx, sandboxes):
    ifs, shipbob = sandboxes
    first, second = _pushed(ctx, sandboxes, orders=2)
    for order in (first, second):
        hook(shipbob, f"orders/{order['id']}/ship", {"with_tracking": True})
    _run(ctx, poll_shipment_changes(ctx))
    assert len(_vouchers(ifs)) == 2
    assert poll_shipment_changes(ctx) == []

    delivered = _shipment_of(shipbob, second["id"])
    hook(shipbob, f"shipments/{delivered['id']}/deliver")
    woken = poll_shipment_changes(ctx)
    with ctx.session() as session:
        keys = session.execute(select(Job.key).where(Job.id.in_(woken))).scalars().all()
    assert keys == [str(second["id"])]
    _run(ctx, woken)
    assert _vouchers(ifs)[str(delivered["id"])]["DeliveredDate"]
    assert not _vouchers(ifs)[str(_shipment_of(shipbob, first["id"])["id"])].get("DeliveredDate")


def test_orders_not_from_ifs_and_old_changes_are_left_alone(ctx, sandboxes):
    ifs, shipbob = sandboxes
    hook(shipbob, "seed", {"skus": ["FX-1"], "levels": {"FX-1": {"156": 5}}})
    foreign = shipbob_api(shipbob, "POST", "order", {  # placed at ShipBob directly, not from IFS
        "reference_id": "WEBSHOP-1", "type": "DTC", "shipping_method": "Standard", "location_id": 156,
        "recipient": {"name": "A B", "address": {"address1": "1 Main St", "city": "Chicago",
                                                 "state": "IL", "zip_code": "60601", "country": "US"}},
        "products": [{"reference_id": "FX-1", "quantity": 1, "name": "FX-1"}]})
    hook(shipbob, f"orders/{foreign['id']}/ship", {"with_tracking": True})
    assert poll_shipment_changes(ctx) == []
    with ctx.session() as session:
        assert session.execute(select(Job).where(Job.flow == Flow.SHIPMENT_VOUCHER.value)).first() is None
    # the cursor moves on: a poll far in the future asks only for what changed since
    assert poll_shipment_changes(ctx, now=utcnow() + timedelta(days=1)) == []
    assert ifs_rows(ifs, "FulfillmentVoucherSet") == []
