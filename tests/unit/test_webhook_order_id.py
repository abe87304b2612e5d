"""Which ShipBob order an order.* webhook body is about: ShipBob publishes no
bodies, and 2026-07's topics may carry the order or one of its shipments."""

from __future__ import annotations

import pytest

from connector.flows.webhook_router import order_id_of

ORDER = {"id": 918363, "order_number": "918363", "reference_id": "C1001", "status": "Fulfilled",
         "shipments": [{"id": 100810005, "order_id": 918363}]}  # Orders.OrderViewModel
SHIPMENT = {"id": 100810005, "order_id": 918363, "reference_id": "C1001",
            "status": "Completed", "tracking": {"tracking_number": "1Z1"}}  # Orders.ShipmentViewModel
LOGISTICS_TRACKING = {"event_time": "2025-10-23T15:55:09Z", "order_id": 100000001,
                      "reference_id": "TEST101", "status": "LabelCreated",
                      "tracking": {"tracking_id": "9261290306529427911297"}}


@pytest.mark.parametrize("body, order_id", [
    (ORDER, "918363"),
    (SHIPMENT, "918363"),
    (LOGISTICS_TRACKING, "100000001"),
    ({"order_id": "918363"}, "918363"),
])
def test_the_order_from_an_order_or_a_shipment_body(body, order_id):
    assert order_id_of(body) == order_id


@pytest.mark.parametrize("body", [
    {**SHIPMENT, "order_id": None},  # a shipment naming no order is not its own order
    {"status": "Completed"},
    {"id": True},
    {"id": "12a"},
    {"id": "１２"},  # full-width digits
    {"id": 1.5},
])
def test_a_body_naming_no_order_gives_none(body):
    assert order_id_of(body) is None
