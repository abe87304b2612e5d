import dataclasses

import pytest

from connector.errors import NeedsAttention
from connector.ifs.customer_orders import Address, CustomerOrder, LineKey, OrderLine
from connector.mappers.orders import LineRef, plan_orders
from connector.mapping import Mapping

MAPPING = Mapping(sites={"S01": 156, "S02": 157}, ship_via={"UPS-GND": "Standard"})
HEADER = CustomerOrder(order_no="C1", site="S01", state="Released", ship_via="UPS-GND",
                       date_entered="2026-11-20T10:00:00Z", shipbob_ids=())
ADDRESS = Address(name="Ada Lovelace", address1="1 Main St", address2=None, city="Chicago", state="IL",
                  zip_code="60607", country="us", email="ada@example.com", phone=None)


def line(no, part, qty, site="S01", shipped=0):
    return OrderLine(key=LineKey(str(no), "1", 0), part_no=part, description=f"Part {part}", site=site,
                     qty_due=qty, qty_shipped=shipped, qty_returned=0, state="Released")


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
    assert [l.key for l in plan.lines] == [LineKey("1", "1", 0), LineKey("2", "1", 0)]


def test_a_line_ref_is_stored_flat_and_read_back():
    # the order binding stores asdict(LineRef); bindings written before keep being read
    [plan] = plan_orders(HEADER, [line(1, "P1", 2)], ADDRESS, MAPPING, {"P1"})
    [ref] = plan.lines
    stored = dataclasses.asdict(ref)
    assert stored == {"line_no": "1", "rel_no": "1", "line_item_no": 0, "sku": "P1", "quantity": 2,
                      "external_line_id": 1}
    assert LineRef.from_data(stored) == ref
    assert LineRef.from_data({**stored, "line_item_no": None}).key == LineKey("1", "1", 0)


def test_a_line_without_a_site_ships_from_the_orders_site():
    [plan] = plan_orders(HEADER, [line(1, "P1", 2, site=None)], ADDRESS, MAPPING, {"P1"})
    assert (plan.reference_id, plan.fulfillment_center_id) == ("C1", 156)


def test_split_order_gives_one_shipbob_order_per_site():
    lines = [line(1, "P1", 2), line(2, "P2", 3, site="S02")]
    plans = plan_orders(HEADER, lines, ADDRESS, MAPPING, {"P1", "P2"})
    assert [(p.reference_id, p.fulfillment_center_id) for p in plans] == [("C1", 156), ("C1-S02", 157)]


def test_only_open_quantity_is_sent():
    [plan] = plan_orders(HEADER, [line(1, "P1", 5, shipped=2)], ADDRESS, MAPPING, {"P1"})
    assert [(p["reference_id"], p["quantity"]) for p in plan.body["products"]] == [("P1", 3)]
    assert plan.lines[0].quantity == 3


def test_an_order_without_open_lines_parks():
    with pytest.raises(NeedsAttention, match="no open lines"):
        plan_orders(HEADER, [], ADDRESS, MAPPING, {"P1"})


def test_every_business_problem_is_reported_at_once():
    header = dataclasses.replace(HEADER, ship_via="BOAT")
    lines = [line(1, "P1", 1), line(2, "PX", 1), line(3, "P2", 1, site="S99")]
    with pytest.raises(NeedsAttention) as exc:
        plan_orders(header, lines, dataclasses.replace(ADDRESS, city=""), MAPPING, {"P1", "P2"})
    reason = exc.value.reason
    assert "ship-via 'BOAT'" in reason
    assert "line 2/1 SKU 'PX' is unknown" in reason
    assert "line 3/1 is at site 'S99'" in reason
    assert "missing city" in reason


def test_missing_address_parks_the_order():
    with pytest.raises(NeedsAttention, match="no delivery address"):
        plan_orders(HEADER, [line(1, "P1", 1)], None, MAPPING, {"P1"})


def test_fractional_quantity_is_not_rounded():
    with pytest.raises(NeedsAttention, match="not whole"):
        plan_orders(HEADER, [line(1, "P1", 1.5)], ADDRESS, MAPPING, {"P1"})
