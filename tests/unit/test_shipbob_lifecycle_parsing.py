"""Pure parts of the ShipBob lifecycle calls: request bodies, refusals read from a 200,
inventory history events as the facility queried sees them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connector.shipbob import ShipBobNotFound
from connector.shipbob.shipment_edits import (
    ShipmentAddress,
    ShipmentUpdateRefused,
    bulk_results_of,
    checked,
    line_items_body,
)
from connector.shipbob.stock import history_event_of, history_query, item_stock_of


def test_address_body_sends_every_field_so_none_clears():
    body = ShipmentAddress(street_address1="1 Main St", city="Seattle").body()
    assert body["street_address2"] is None and set(body) >= {"country_code", "recipient_name"}
    with pytest.raises(ValueError):
        ShipmentAddress(street_address1="", city="Seattle").body()


def test_line_items_body_is_the_complete_positive_list():
    assert line_items_body({5: 2, 6: 1}) == {"items": [{"inventory_id": 5, "quantity": 2},
                                                       {"inventory_id": 6, "quantity": 1}]}
    for bad in ({}, {5: 0}, {5: -1}):
        with pytest.raises(ValueError):
            line_items_body(bad)


def test_a_200_that_says_no_is_an_error():
    assert checked(7, {"id": 7, "is_success": True, "error": None})["id"] == 7
    with pytest.raises(ShipmentUpdateRefused) as info:
        checked(7, {"id": 7, "is_success": False, "error": {"code": "CONFLICT", "message": "picked"}})
    assert info.value.code == "CONFLICT" and info.value.shipment_id == 7 and info.value.status == 200
    with pytest.raises(ShipBobNotFound):
        checked(7, {"is_success": False, "error": {"code": "NOT_FOUND", "message": "gone"}})
    with pytest.raises(ShipmentUpdateRefused):
        checked(7, "not an object")
    assert [(r.shipment_id, r.ok, r.code) for r in bulk_results_of({"results": [
        {"id": 1, "is_success": True}, {"id": 2, "is_success": False, "error": {"code": "CONFLICT"}},
        {"is_success": True}]})] == [(1, True, None), (2, False, "CONFLICT")]


def test_history_event_counts_only_the_queried_facility():
    transfer = {"inventory_audit_event_id": 9, "inventory_id": 5, "event_category": "InventoryFacilityUpdated",
                "event_datetime": "2025-06-18T18:06:22.4716033",  # as ShipBob's guide prints it
                "increment": {"facility_id": 157, "quantity_change": 4, "sku": "A"},
                "decrement": {"facility_id": 156, "quantity_change": -4, "sku": "A"},
                "primary_reference": {"type": "Transfer", "value": "T1"}}
    out, into = history_event_of(transfer, 156), history_event_of(transfer, 157)
    assert out is not None and into is not None
    assert (out.quantity, into.quantity) == (-4, 4)
    assert out.at == datetime(2025, 6, 18, 18, 6, 22, 471603, tzinfo=timezone.utc)
    assert out.reference == ("Transfer", "T1") and out.sku == "A"
    assert history_event_of({"inventory_id": 5}, 156) is None


def test_history_query_body_and_range():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    body = history_query(156, 42, "OrderPicked", [1, 2], start, start + timedelta(days=1))
    assert body == {"facility_id": 156, "cursor": 42, "event_category": "OrderPicked",
                    "inventory_ids": [1, 2], "start_date": "2026-01-01T00:00:00Z",
                    "end_date": "2026-01-02T00:00:00Z"}
    assert history_query(156, None, None, None, None, None) == {"facility_id": 156}
    with pytest.raises(ValueError):
        history_query(156, None, None, None, start, start + timedelta(days=91))


def test_item_stock_sums_centers():
    stock = item_stock_of({"inventory_id": 5, "sku": "A", "locations": [
        {"location_id": 156, "fulfillable_quantity": 3}, {"location_id": 157, "fulfillable_quantity": 2},
        {"fulfillable_quantity": 99}]})
    assert stock is not None and stock.fulfillable() == 5 and stock.fulfillable(157) == 2
    assert stock.fulfillable(1) == 0 and item_stock_of({"sku": "A"}) is None
