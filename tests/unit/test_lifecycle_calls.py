"""bench/lifecycle.py's request classifier: what a ShipBob request was for,
from its method, path and query alone."""

from __future__ import annotations

import pytest

from bench.lifecycle_calls import ONE_OFF, PER_ORDER, POLL, purpose


@pytest.mark.parametrize(("method", "path", "query", "name", "charge", "poll"), [
    ("POST", "/2026-01/order", "", "order create", PER_ORDER, None),
    ("GET", "/2026-01/order", "ReferenceIds=C1%2CC2&Page=1&Limit=250", "order look-up by reference",
     PER_ORDER, None),
    ("GET", "/2026-01/order", "LastUpdateStartDate=2026-12-01T00%3A00%3A00Z&Page=1&Limit=250",
     "poll: changed orders (shipments poll)", POLL, "shipments"),
    ("GET", "/2026-01/order", "HasTracking=true&IsTrackingUploaded=false&Page=2&Limit=250",
     "poll: untracked orders (tracking poll)", POLL, "tracking"),
    ("GET", "/2026-01/order/400000017", "", "order read", PER_ORDER, None),
    ("POST", "/2026-01/shipment:batchUpdateTrackingUpload", "", "tracking marked uploaded", PER_ORDER, None),
    ("PUT", "/2026-01/shipment/500000003:updateAddress", "", "edit: address", PER_ORDER, None),
    ("POST", "/2026-01/shipment/500000003:updateLineItems", "", "edit: line items", PER_ORDER, None),
    ("PUT", "/2026-01/shipment:bulkUpdateShippingService", "", "edit: shipping service", PER_ORDER, None),
    ("POST", "/2026-01/shipment/500000003:cancel", "", "shipment cancel", PER_ORDER, None),
    ("GET", "/2026-01/product", "SKU=any%3AP00001%2CP00002&PageSize=250", "SKU look-up", PER_ORDER, None),
    ("GET", "/2026-01/inventory-level/locations", "InventoryIds=1%2C2", "stock look-up", PER_ORDER, None),
    ("GET", "/2026-01/return", "Status=Completed&SortOrder=Asc", "poll: returns", POLL, "returns"),
    ("GET", "/2026-01/receiving", "Statuses=Processing%2CCompleted&ExternalSync=false", "poll: receiving",
     POLL, "receiving"),
    ("GET", "/2026-01/receiving", "PurchaseOrderNumbers=P1", "WRO look-up by purchase order", PER_ORDER, None),
    # subscriptions on a newer version than the other calls count the same
    ("POST", "/2026-07/webhook", "", "webhook subscription", ONE_OFF, None),
    ("POST", "/connect/token", "", "OAuth token", ONE_OFF, None),
])
def test_a_request_is_sorted_by_its_method_path_and_query(method, path, query, name, charge, poll):
    found = purpose(method, path, query)
    assert found is not None
    assert (found.name, found.charge, found.poll) == (name, charge, poll)


def test_the_sandbox_hooks_are_not_the_connectors_calls():
    assert purpose("POST", "/_sandbox/orders/400000017/ship", "") is None
    assert purpose("GET", "/_sandbox/stats", "") is None


def test_an_endpoint_it_does_not_know_is_counted_per_order_under_its_own_name():
    found = purpose("POST", "/2026-01/order/400000017:somethingNew", "")
    assert found is not None
    assert (found.name, found.charge) == ("other: POST /order/{id}:somethingNew", PER_ORDER)
