"""reconcile compares each shipment with the lines of its IFS voucher. The
lines are a collection navigation, which OData never inlines in a collection
read (and IFS expands one-to-one navigations only, ifs-cloud.md §8), so they
are read through the navigation, batched."""

from __future__ import annotations

import pytest

from connector.flows.order_poll import poll_orders
from connector.flows.shipment_voucher import poll_untracked
from connector.ifs import odata
from connector.reconcile import reconcile
from connector.runner import run_job
from tests.helpers import hook, seed_world

pytestmark = pytest.mark.integration

QUANTITIES = "voucher quantities that differ from the shipment"
ADDRESS = {"Name": "Ada Lovelace", "Address1": "12 Analytical Way", "City": "Chicago",
           "State": "IL", "ZipCode": "60601", "Country": "US"}


def quantity_check(ctx):
    [check] = [c for c in reconcile(ctx) if c.name == QUANTITIES]
    return check


def push_and_ship(ctx, sandboxes, orders: int) -> list[dict]:
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=orders, split_ratio=0)
    for job_id in poll_orders(ctx):
        assert run_job(ctx, job_id).status == "done"
    pushed = hook(shipbob, "dump/orders", method="GET")
    for order in pushed:
        hook(shipbob, f"orders/{order['id']}/ship", {"with_tracking": True})
    return pushed


def test_correct_vouchers_show_no_quantity_difference_and_their_lines_are_read_in_one_batch(
        ctx, sandboxes):
    ifs, _ = sandboxes
    pushed = push_and_ship(ctx, sandboxes, orders=4)
    for job_id in poll_untracked(ctx):
        assert run_job(ctx, job_id).status == "done"
    before = hook(ifs, "stats", method="GET")

    check = quantity_check(ctx)

    assert check.checked == len(pushed) > 0
    assert check.differences == []
    after = hook(ifs, "stats", method="GET")
    batches = (after["requests"].get("FulfillmentVoucherHandling/$batch", {}).get("POST", 0)
               - before["requests"].get("FulfillmentVoucherHandling/$batch", {}).get("POST", 0))
    assert batches == 1


def test_a_voucher_with_the_wrong_quantity_is_reported(ctx, sandboxes):
    """Someone posted the voucher by hand in IFS before the connector did,
    with one unit too few; the connector finds it by ExternalRef and does
    not post again, and reconcile shows the difference."""
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=0)
    hook(ifs, "orders", {"OrderNo": "C7001", "Contract": "S01", "ShipViaCode": "UPS-GND",
                         "address": ADDRESS, "lines": [{"PartNo": "P00001", "BuyQtyDue": 3}]})
    [push] = poll_orders(ctx)
    assert run_job(ctx, push).status == "done"
    [order] = hook(shipbob, "dump/orders", method="GET")
    hook(shipbob, f"orders/{order['id']}/ship", {"with_tracking": True})
    [shipment] = hook(shipbob, "dump/shipments", method="GET")
    co = ctx.names.customer_order
    order_path = odata.key_path(co.order_set, OrderNo="C7001")
    ctx.ifs.bound_action(co.projection, order_path, ctx.names.fulfillment.action, {
        "ExternalRef": str(shipment["id"]), "ShipDate": "2026-12-01",
        "Lines": [{"LineNo": "1", "RelNo": "1", "LineItemNo": 0, "Qty": 2}]})
    for job_id in poll_untracked(ctx):
        assert run_job(ctx, job_id).status == "done"

    check = quantity_check(ctx)

    assert [(d.key, d.detail, d.explained_by) for d in check.differences] == [
        (str(shipment["id"]), "shipped 3, voucher 2", None)]
