import pytest

from connector.errors import NeedsAttention
from connector.mappers.orders import plan_orders
from connector.mapping import Mapping

MAPPING = Mapping(sites={"S01": 156, "S02": 157}, ship_via={"UPS-GND": "Standard"})
HEADER = {"OrderNo": "C1", "Contract": "S01", "ShipViaCode": "UPS-GND",
          "DateEntered": "2026-11-20T10:00:00Z"}
ADDRESS = {"Name": "Ada Lovelace", "Address1": "1 Main St", "City": "Chicago", "State": "IL",
           "ZipCode": "60607", "Country": "us", "EmailAddress": "ada@example.com"}


def line(no, part, qty, site="S01", **extra):
    return {"LineNo": str(no), "RelNo": "1", "LineItemNo": 0, "PartNo": part, "BuyQtyDue": qty,
            "QtyShipped": 0, "Contract": site, "CatalogDesc": f"Part {part}", **extra}


def test_maps_a_single_site_order_to_one_shipbob_order():
    # given an order with two lines at its own site
    lines = [line(1, "P1", 2), line(2, "P2", 1)]
    # when it is planned
    [plan] = plan_orders(HEADER, lines, ADDRESS, MAPPING, {"P1", "P2"})
    # then the reference is the IFS key and every field is mapped
    assert plan.reference_id == "C1"
    assert plan.body["shipping_method"] == "Standard"
    assert plan.body["location_id"] == 156
    assert plan.body["recipient"]["address"]["country"] == "US"
    assert [(p["reference_id"], p["quantity"], p["external_line_id"]) for p in plan.body["products"]] == [
        ("P1", 2, 1), ("P2", 1, 2)]
    assert [l.key() for l in plan.lines] == [
        {"LineNo": "1", "RelNo": "1", "LineItemNo": 0}, {"LineNo": "2", "RelNo": "1", "LineItemNo": 0}]


def test_split_order_gives_one_shipbob_order_per_site():
    lines = [line(1, "P1", 2), line(2, "P2", 3, site="S02")]
    plans = plan_orders(HEADER, lines, ADDRESS, MAPPING, {"P1", "P2"})
    assert [(p.reference_id, p.fulfillment_center_id) for p in plans] == [("C1", 156), ("C1-S02", 157)]


def test_only_open_quantity_is_sent_and_closed_lines_skipped():
    lines = [line(1, "P1", 5, QtyShipped=2), line(2, "P2", 1, Objstate="Cancelled")]
    [plan] = plan_orders(HEADER, lines, ADDRESS, MAPPING, {"P1", "P2"})
    assert [(p["reference_id"], p["quantity"]) for p in plan.body["products"]] == [("P1", 3)]


def test_every_business_problem_is_reported_at_once():
    header = {**HEADER, "ShipViaCode": "BOAT"}
    lines = [line(1, "P1", 1), line(2, "PX", 1), line(3, "P2", 1, site="S99")]
    with pytest.raises(NeedsAttention) as exc:
        plan_orders(header, lines, {**ADDRESS, "City": ""}, MAPPING, {"P1", "P2"})
    reason = exc.value.reason
    assert "ship-via 'BOAT'" in reason
    assert "SKU 'PX' is unknown" in reason
    assert "site 'S99'" in reason
    assert "missing City" in reason


def test_missing_address_parks_the_order():
    with pytest.raises(NeedsAttention, match="no delivery address"):
        plan_orders(HEADER, [line(1, "P1", 1)], None, MAPPING, {"P1"})


def test_fractional_quantity_is_not_rounded():
    with pytest.raises(NeedsAttention, match="not whole"):
        plan_orders(HEADER, [line(1, "P1", 1.5)], ADDRESS, MAPPING, {"P1"})
