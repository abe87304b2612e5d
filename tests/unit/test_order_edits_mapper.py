"""What an IFS edit after the push changes, and how a difference is told:
pure functions of connector.mappers.order_edits."""

from __future__ import annotations

from connector.mappers.order_edits import (
    Edits,
    PushedPlan,
    at_shipbob,
    differences,
    edits,
    keep_line_ids,
    shipment_address,
    shipment_facts,
)
from connector.mappers.orders import LineRef

RECIPIENT = {"name": "Ada Lovelace", "email": "ada@example.com",
             "address": {"address1": "1 Main St", "city": "Portland", "state": "OR", "zip_code": "97201",
                         "country": "US"}}
SEATTLE = {**RECIPIENT, "address": {**RECIPIENT["address"], "city": "Seattle", "state": "WA"}}


def ref(no: int, sku: str, qty: float, line_id: int | None = None) -> LineRef:
    return LineRef(str(no), "1", 0, sku, qty, line_id or no)


PUSHED = PushedPlan(RECIPIENT, "Standard", (ref(1, "P1", 1), ref(2, "P2", 2)))


def shipment(**over):
    body = {"id": 7, "status": "Processing", "status_details": [], "ship_option": "Standard",
            "recipient": {"name": "Ada Lovelace", "full_name": "Ada Lovelace", "email": "ada@example.com",
                          "phone_number": None, "address": {**RECIPIENT["address"], "address2": "",
                                                            "company_name": None}},
            "products": [{"sku": "P1", "reference_id": "P1", "inventory_items": [{"id": 1, "quantity": 1}]},
                         {"sku": "P2", "reference_id": "P2", "inventory_items": [{"id": 2, "quantity": 2}]}]}
    return shipment_facts({**body, **over})


def test_nothing_differs_when_ifs_wants_what_was_pushed():
    same = PushedPlan(dict(RECIPIENT), "Standard", (ref(1, "P1", 1), ref(2, "P2", 2)))
    assert not edits(PUSHED, same)
    assert differences(same, shipment()) == []  # "" and None are one empty field


def test_each_kind_of_edit_is_told_apart():
    assert edits(PUSHED, PushedPlan(SEATTLE, "Standard", PUSHED.lines)) == Edits(address=True)
    assert edits(PUSHED, PushedPlan(RECIPIENT, "Overnight", PUSHED.lines)) == Edits(shipping_method=True)
    assert edits(PUSHED, PushedPlan(RECIPIENT, "Standard", (ref(1, "P1", 1),))) == Edits(lines=True)
    # the same SKU on another IFS line is a change of lines too (vouchers map by line)
    assert edits(PUSHED, PushedPlan(RECIPIENT, "Standard", (ref(1, "P1", 1), ref(3, "P2", 2)))) == Edits(lines=True)
    assert edits(PUSHED, None) == Edits(cancel=True)
    assert not edits(PushedPlan(RECIPIENT, "Standard", ()), None)  # cancelled already
    assert edits(None, PUSHED) == Edits(address=True, shipping_method=True, lines=True)  # not stored: check all


def test_the_difference_names_field_ifs_value_and_shipbob_value():
    wanted = PushedPlan(SEATTLE, "Overnight", (ref(1, "P1", 1), ref(2, "P2", 7), ref(3, "P3", 1)))
    assert differences(wanted, shipment()) == [
        "city: IFS 'Seattle', ShipBob 'Portland'", "state: IFS 'WA', ShipBob 'OR'",
        "shipping method: IFS 'Overnight', ShipBob 'Standard'",
        "SKU P2: IFS 7, ShipBob 2", "SKU P3: IFS 1, ShipBob 0"]
    assert differences(wanted, shipment(), Edits(lines=True)) == [
        "SKU P2: IFS 7, ShipBob 2", "SKU P3: IFS 1, ShipBob 0"]
    assert differences(None, shipment()) == ["SKU P1: IFS 0, ShipBob 1", "SKU P2: IFS 0, ShipBob 2"]


def test_picked_and_packed_are_status_details_of_a_processing_shipment():
    assert shipment().editable
    picked = shipment(status_details=[{"id": 100, "name": "Picked"}])
    assert (picked.editable, picked.stage()) == (False, "picked")
    assert shipment(status_details=[{"name": "Packed"}]).stage() == "picked"
    assert (shipment(status="Completed").editable, shipment(status="Completed").stage()) == (False, "Completed")
    assert shipment(status="OnHold").editable and not shipment(status="Cancelled").live


def test_a_partly_refused_edit_stores_what_shipbob_took():
    wanted = PushedPlan(SEATTLE, "Overnight", (ref(1, "P1", 5),))
    now = at_shipbob(PUSHED, wanted, Edits(address=True))
    assert (now.recipient, now.shipping_method, now.lines) == (SEATTLE, "Standard", PUSHED.lines)
    assert at_shipbob(PUSHED, None, Edits(cancel=True)).lines == ()
    assert at_shipbob(PUSHED, None, Edits()) == PUSHED
    assert at_shipbob(None, wanted, Edits(address=True, shipping_method=True, lines=True)) == wanted
    assert at_shipbob(None, wanted, Edits(address=True)) is None


def test_lines_pushed_before_keep_their_external_line_id():
    wanted = PushedPlan(RECIPIENT, "Standard", (ref(2, "P2", 2, line_id=1), ref(4, "P4", 1, line_id=2)))
    kept = keep_line_ids(PUSHED, wanted)
    assert [(ln.line_no, ln.external_line_id) for ln in kept.lines] == [("2", 2), ("4", 3)]


def test_the_address_update_sends_every_field_of_the_ifs_address():
    body = shipment_address(PushedPlan(SEATTLE, "Standard", ())).body()
    assert body == {"street_address1": "1 Main St", "street_address2": None, "city": "Seattle", "state": "WA",
                    "zip_code": "97201", "country_code": "US", "company_name": None,
                    "recipient_name": "Ada Lovelace", "email": "ada@example.com", "phone_number": None}


def test_a_plan_survives_the_binding_round_trip():
    assert PushedPlan.from_data(PUSHED.data()) == PUSHED
    assert PushedPlan.from_data({"lines": PUSHED.data()["lines"]}) is None  # stored before plans were
