"""The relaxed validator the ShipBob stand-in checks bodies with (shipbob.md §9)."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from sandbox.shipbob import validation
from sandbox.shipbob.webhooks import topics_for

# The official examples quoted in shipbob.md §4 and §5.
ORDER = {"shipping_method": "Standard",
         "recipient": {"name": "John Doe", "address": {
             "address1": "100 N Racine Ave", "address2": "Suite 100", "company_name": None,
             "city": "Chicago", "state": "IL", "country": "US", "zip_code": "60607"},
             "email": "johndoe@domain.com", "phone_number": "555-555-5555"},
         "products": [{"name": "Light Roast Coffee", "reference_id": "LIGHT-ROAST", "quantity": 1}],
         "reference_id": "1234762738908", "order_number": "1001", "type": "DTC",
         "tags": [{"name": "Subscription Order", "value": "0"}]}
WRO = {"fulfillment_center": {"id": 10}, "purchase_order_number": "PO-123",
       "package_type": "Pallet", "box_packaging_type": "MultipleSkuPerBox",
       "expected_arrival_date": "2025-02-19T15:00:00Z",
       "boxes": [{"tracking_number": "TRACK-1234",
                  "box_items": [{"inventory_id": 8588331, "quantity": 25}]}]}
RETURN = {"fulfillment_center": {"id": 22},
          "inventory": [{"id": 9557855, "quantity": 1, "requested_action": "Default"}],
          "reference_id": "RMA-1001", "tracking_number": "1Z9999999999999999",
          "original_shipment_id": 123456}


@pytest.fixture(scope="module")
def spec():
    return validation.load(str(validation.spec_path("2026-01")))


@pytest.mark.parametrize("name,body", [("Orders.CreateOrderModel", ORDER),
                                       ("Receiving.CreateReceivingOrderModel", WRO),
                                       ("Returns.CreateReturnRequest", RETURN)])
def test_official_examples_validate_relaxed(spec, name, body):
    assert spec.request_errors(name, body) == {}


def test_a_strict_reading_would_reject_shipbobs_own_order_example(spec):
    strict = Draft202012Validator({"$ref": "#/components/schemas/Orders.CreateOrderModel",
                                   "components": spec.spec["components"]})
    assert list(strict.iter_errors(ORDER))  # why the relaxed mode exists


def test_undeclared_required_names_are_ignored(spec):
    by_id = dict(ORDER, products=[{"id": 7, "quantity": 2}])  # no undeclared product_id
    assert spec.request_errors("Orders.CreateOrderModel", by_id) == {}


def test_errors_come_back_as_a_field_map(spec):
    bad = dict(ORDER, type="Retail", purchase_date="yesterday")
    bad["recipient"] = {"name": "", "address": {"city": "Chicago"}}
    errors = spec.request_errors("Orders.CreateOrderModel", bad)
    assert set(errors) == {"type", "purchase_date", "recipient.name",
                           "recipient.address.address1", "recipient.address.country"}
    assert errors["recipient.address.address1"] == ["The address1 field is required."]


def test_nullable_is_honoured_and_bare_object_refs_may_be_null_in_responses(spec):
    shipment = {"id": 1, "order_id": 2, "status": "Processing", "tracking": None,
                "actual_fulfillment_date": None}
    assert spec.schema_errors("Orders.ShipmentViewModel", shipment) == []
    assert spec.schema_errors("Orders.ShipmentViewModel", dict(shipment, status=None))
    assert spec.schema_errors("Orders.ShipmentViewModel", dict(shipment, id="1"))


def test_responses_are_matched_to_operations_by_path(spec):
    assert spec.response_errors("POST", "/2026-01/order/5:cancel", 200,
                                {"order_id": "five"})  # not the GET /order/{id} schema
    assert spec.response_errors("POST", "/2026-01/order", 422,
                                {"": ["Cannot insert order with existing ReferenceId"]}) == []
    assert spec.response_errors("GET", "/2026-01/order/5", 404, None) == []  # no schema


def test_the_topic_table_matches_the_specs(spec):
    assert topics_for("2026-01") == spec.topics()
    older = validation.SPECS_DIR / "shipbob-openapi-2025-07.json"
    if older.exists():
        assert topics_for("2025-07") == validation.load(str(older)).topics()
