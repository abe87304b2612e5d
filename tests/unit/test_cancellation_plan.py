"""What a shipment cancelled at ShipBob leaves open in IFS
(connector/mappers/cancellations.py): pure functions on ShipBob shipments,
the order binding's lines and the IFS order's open lines."""

from __future__ import annotations

from connector.ifs.customer_orders import LineCancel, LineKey, OrderLine
from connector.mappers.cancellations import ShipmentCancel, describe, plan_cancellations

L1, L2, L3 = LineKey("1", "1", 0), LineKey("2", "1", 0), LineKey("3", "1", 0)


def line(key: LineKey, part: str, due: float, shipped: float = 0) -> OrderLine:
    return OrderLine(key, part, None, None, due, shipped, 0, "Released")


def bound(key: LineKey, sku: str) -> dict:
    """A line as the order push binds it (connector/mappers/orders.py LineRef)."""
    return {"line_no": key.line_no, "rel_no": key.rel_no, "line_item_no": key.line_item_no, "sku": sku,
            "quantity": 1, "external_line_id": 1}


def shipment(shipment_id: int, status: str, **units: int) -> dict:
    return {"id": shipment_id, "status": status,
            "products": [{"reference_id": sku, "inventory_items": [{"quantity": qty}]}
                         for sku, qty in units.items()]}


BOUND = [bound(L1, "P1"), bound(L2, "P2"), bound(L3, "P3")]


def test_a_cancelled_order_leaves_every_line_open_for_its_whole_quantity():
    lines = [line(L1, "P1", 1), line(L2, "P2", 2), line(L3, "P3", 3)]
    plans = plan_cancellations([shipment(501, "Cancelled", P1=1, P2=2, P3=3)], BOUND, lines)
    assert plans == [ShipmentCancel(501, (LineCancel(L1, 1, 1), LineCancel(L2, 2, 2), LineCancel(L3, 3, 3)))]
    assert describe(plans[0].lines) == "line 1/1 (1), line 2/1 (2), line 3/1 (3)"


def test_the_cancelled_rest_of_a_partly_shipped_order_is_what_its_voucher_left_open():
    # 501 shipped P1 and one P3 (its voucher is in IFS); 502 held the rest.
    shipments = [shipment(501, "Completed", P1=1, P3=1), shipment(502, "Cancelled", P2=2, P3=2)]
    open_lines = [line(L2, "P2", 2), line(L3, "P3", 3, shipped=1)]
    assert plan_cancellations(shipments, BOUND, open_lines) == [
        ShipmentCancel(502, (LineCancel(L2, 2, 2), LineCancel(L3, 2, 3)))]


def test_units_shipped_without_an_ifs_voucher_yet_are_not_cancelled():
    shipments = [shipment(501, "Completed", P3=1), shipment(502, "Cancelled", P3=2)]
    open_lines = [line(L3, "P3", 3)]  # the voucher for 501 is not posted: all 3 still open
    assert plan_cancellations(shipments, BOUND, open_lines, unposted={501}) == [
        ShipmentCancel(502, (LineCancel(L3, 2, 3),))]


def test_units_a_live_shipment_still_carries_stay_open_and_the_last_lines_go_first():
    # P1 on lines 1 (2) and 3 (1); 501 still ships 2 of it, 502 (1) was cancelled.
    two_lines = [bound(L1, "P1"), bound(L3, "P1")]
    shipments = [shipment(501, "Processing", P1=2), shipment(502, "Cancelled", P1=1)]
    assert plan_cancellations(shipments, two_lines, [line(L1, "P1", 2), line(L3, "P1", 1)]) == [
        ShipmentCancel(502, (LineCancel(L3, 1, 1),))]


def test_nothing_is_left_open_when_ifs_cancelled_first():
    # The IFS order was cancelled, then the connector cancelled it at ShipBob.
    assert plan_cancellations([shipment(501, "Cancelled", P1=1, P2=2)], BOUND, []) == [ShipmentCancel(501, ())]


def test_two_cancelled_shipments_share_a_line_and_each_plans_from_what_the_other_leaves():
    shipments = [shipment(502, "Cancelled", P1=2), shipment(501, "Cancelled", P1=3)]
    plans = plan_cancellations(shipments, [bound(L1, "P1")], [line(L1, "P1", 5)])
    assert plans == [ShipmentCancel(501, (LineCancel(L1, 3, 5),)), ShipmentCancel(502, (LineCancel(L1, 2, 2),))]


def test_a_cancellation_never_takes_more_than_ifs_has_open_or_units_of_unbound_skus():
    shipments = [shipment(501, "Cancelled", P1=4, P9=1)]
    assert plan_cancellations(shipments, BOUND, [line(L1, "P1", 3, shipped=1)]) == [
        ShipmentCancel(501, (LineCancel(L1, 2, 3),))]
