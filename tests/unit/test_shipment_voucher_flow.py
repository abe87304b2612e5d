"""The shipment voucher flow's IFS logic on in-memory fakes of the delivery
and customer order gateways: which voucher a shipment gets, what is posted,
and what a later tracking update or delivery writes."""

from __future__ import annotations

import dataclasses

import pytest

from connector.errors import NeedsAttention
from connector.flows.shipment_voucher import post_if_missing, update_tracking
from connector.ifs.customer_orders import LineKey, OrderLine
from connector.ifs.deliveries import Delivery, DeliveryLine, Voucher, VoucherChanges

L1, L2, L3 = LineKey("1", "1", 0), LineKey("2", "1", 0), LineKey("3", "1", 0)


class FakeDeliveries:
    """The delivery gateway in memory: vouchers by external reference."""

    def __init__(self, *vouchers: Voucher):
        self.by_ref = {v.external_ref: v for v in vouchers}
        self.posted: list[Delivery] = []
        self.writes: list[tuple[str, VoucherChanges]] = []

    def find(self, external_ref: str) -> Voucher | None:
        return self.by_ref.get(external_ref)

    def post(self, delivery: Delivery) -> Voucher:
        self.posted.append(delivery)
        voucher = Voucher(f"FV{len(self.posted)}", delivery.external_ref, delivery.carrier,
                          delivery.tracking_no, delivery.tracking_url, None)
        self.by_ref[delivery.external_ref] = voucher
        return voucher

    def update(self, key, changes) -> bool:
        [voucher] = [v for v in self.by_ref.values() if v.key == key]
        wanted = changes(voucher)
        if not wanted:
            return False
        self.writes.append((key, wanted))
        self.by_ref[voucher.external_ref] = dataclasses.replace(voucher, **wanted.fields())
        return True


class FakeOrders:
    def __init__(self, *lines: OrderLine):
        self._lines = list(lines)
        self.reads = 0

    def lines(self, order_no: str) -> list[OrderLine]:
        self.reads += 1
        return list(self._lines)


def line(key: LineKey, part: str, due: float, shipped: float = 0, state: str = "Released") -> OrderLine:
    return OrderLine(key, part, None, None, due, shipped, 0, state)


def bound(key: LineKey, sku: str) -> dict:
    """A line as the order push binds it (connector/mappers/orders.py LineRef)."""
    return {"line_no": key.line_no, "rel_no": key.rel_no, "line_item_no": key.line_item_no, "sku": sku}


def shipment(shipment_id: int = 501, tracking: dict | None = None, **units: int) -> dict:
    return {
        "id": shipment_id, "status": "Completed", "actual_fulfillment_date": "2026-12-03T17:05:00Z",
        "tracking": tracking,
        "products": [{"reference_id": sku, "inventory_items": [{"quantity": qty}]}
                     for sku, qty in units.items()],
    }


TRACKING = {"carrier": "UPS", "tracking_number": "1Z999", "tracking_url": "https://ups.example/1Z999",
            "shipping_date": "2026-12-04T08:00:00Z"}


def test_a_voucher_ifs_has_already_is_not_posted_again_and_no_lines_are_read():
    # An earlier run posted it, then crashed before binding it.
    existing = Voucher("FV7", "501", "UPS", None, None, None)
    deliveries, orders = FakeDeliveries(existing), FakeOrders(line(L1, "P1", 3))

    voucher, created = post_if_missing(deliveries, orders, "C1", 9001, shipment(P1=3), [bound(L1, "P1")])

    assert (voucher, created) == (existing, False)
    assert deliveries.posted == [] and orders.reads == 0


def test_a_new_shipment_is_posted_with_its_refs_tracking_and_ship_date():
    deliveries, orders = FakeDeliveries(), FakeOrders(line(L1, "P1", 3), line(L2, "P2", 1))

    voucher, created = post_if_missing(deliveries, orders, "C1", 9001, shipment(tracking=TRACKING, P1=3, P2=1),
                                       [bound(L1, "P1"), bound(L2, "P2")])

    assert created and voucher.key == "FV1"
    assert deliveries.posted == [Delivery(
        order_no="C1", external_ref="501", shipment_ref="9001", carrier="UPS", tracking_no="1Z999",
        tracking_url="https://ups.example/1Z999", ship_date="2026-12-04",
        lines=(DeliveryLine(L1, 3), DeliveryLine(L2, 1)))]


def test_units_fill_the_lines_of_a_sku_in_order_never_beyond_what_ifs_has_open():
    # L1 has shipped 2 of 3 already (an earlier shipment); L3 carries the same part.
    deliveries = FakeDeliveries()
    orders = FakeOrders(line(L1, "P1", 3, shipped=2), line(L3, "P1", 4))

    post_if_missing(deliveries, orders, "C1", 9001, shipment(P1=4), [bound(L1, "P1"), bound(L3, "P1")])

    [posted] = deliveries.posted
    assert posted.lines == (DeliveryLine(L1, 1), DeliveryLine(L3, 3))
    assert posted.ship_date == "2026-12-03"  # no tracking: the fulfillment date


def test_more_units_than_ifs_has_open_park_the_shipment_and_post_nothing():
    deliveries = FakeDeliveries()
    orders = FakeOrders(line(L1, "P1", 3, shipped=2))

    with pytest.raises(NeedsAttention, match="shipment 501 ships 1 more of P1 than the IFS order has open"):
        post_if_missing(deliveries, orders, "C1", 9001, shipment(P1=2), [bound(L1, "P1")])
    assert deliveries.posted == []


def test_a_shipment_without_units_parks():
    deliveries = FakeDeliveries()
    with pytest.raises(NeedsAttention, match="no quantities to post"):
        post_if_missing(deliveries, FakeOrders(line(L1, "P1", 3)), "C1", 9001, shipment(), [bound(L1, "P1")])
    assert deliveries.posted == []


def test_tracking_reaches_a_voucher_posted_without_it_and_a_delivery_dates_it_once():
    deliveries = FakeDeliveries(Voucher("FV1", "501", None, None, None, None))

    assert update_tracking(deliveries, "FV1", shipment(tracking=TRACKING))
    assert deliveries.writes == [("FV1", VoucherChanges(carrier="UPS", tracking_no="1Z999",
                                                        tracking_url="https://ups.example/1Z999"))]
    delivered = {**shipment(tracking=TRACKING), "delivery_date": "2026-12-06T10:00:00Z"}
    assert update_tracking(deliveries, "FV1", delivered)
    assert deliveries.writes[-1] == ("FV1", VoucherChanges(delivered_date="2026-12-06"))
    # Up to date: nothing is written, and a later delivery date does not move it.
    later = {**delivered, "delivery_date": "2026-12-09T10:00:00Z"}
    assert not update_tracking(deliveries, "FV1", later)
    assert len(deliveries.writes) == 2


def test_a_changed_tracking_number_is_written_and_a_missing_one_never_clears_it():
    deliveries = FakeDeliveries(Voucher("FV1", "501", "UPS", "1Z999", "https://ups.example/1Z999", None))

    assert not update_tracking(deliveries, "FV1", shipment(tracking={"carrier": "UPS"}))
    assert update_tracking(deliveries, "FV1", shipment(tracking={**TRACKING, "tracking_number": "1Z111"}))
    assert deliveries.writes == [("FV1", VoucherChanges(tracking_no="1Z111"))]
