"""ShipBob return -> IFS RMA lines (connector/mappers/returns.py)."""

from __future__ import annotations

import pytest

from connector.errors import NeedsAttention
from connector.mappers.returns import normalized_status, processed_actions, rma_lines

LINES = [  # the bound lines of the ShipBob order: two IFS lines carry SKU A
    {"line_no": "1", "rel_no": "1", "line_item_no": 0, "sku": "A"},
    {"line_no": "2", "rel_no": "1", "line_item_no": 0, "sku": "B"},
    {"line_no": "3", "rel_no": "1", "line_item_no": 0, "sku": "A"},
]
PARTS = {"A": "PART-A", "B": "PART-B"}


def ret(*items):
    return {"id": 7, "inventory": [{"id": inv, "action_taken": taken} for inv, taken in items]}


def taken(action, qty):
    return {"action": action, "quantity_processed": qty}


@pytest.mark.parametrize("raw, expected", [
    ("Awaiting Arrival", "AwaitingArrival"), ("AwaitingArrival", "AwaitingArrival"),
    ("Completed", "Completed"), (None, ""),
])
def test_status_spelling_is_normalised(raw, expected):
    assert normalized_status({"status": raw}) == expected


def test_every_processed_quantity_keeps_its_action():
    got = processed_actions(ret((1, [taken("Restock", 1), taken("quarantine", 2)]),
                                (2, [taken("Dispose", 1), taken("Restock", 0)])),
                            {1: "A", 2: "B"})
    assert got == [("A", "Restock", 1), ("A", "Quarantine", 2), ("B", "Dispose", 1)]


def test_unknown_items_and_actions_are_all_reported_at_once():
    with pytest.raises(NeedsAttention) as exc:
        processed_actions(ret((1, [taken("Donate", 1)]), (9, [taken("Restock", 1)])), {1: "A"})
    assert "inventory item 9 is not a product of the original order" in exc.value.reason
    assert "action 'Donate'" in exc.value.reason


def test_units_spread_over_the_lines_of_their_sku_in_line_order():
    returnable = {("1", "1", 0): 2, ("2", "1", 0): 1, ("3", "1", 0): 5}
    got = rma_lines(7, [("A", "Restock", 3), ("A", "Dispose", 2), ("B", "Quarantine", 1)],
                    LINES, returnable, PARTS)
    assert [(l["LineNo"], l["ReturnAction"], l["QtyToReturn"], l["PartNo"]) for l in got] == [
        ("1", "Restock", 2, "PART-A"), ("3", "Restock", 1, "PART-A"),
        ("3", "Dispose", 2, "PART-A"), ("2", "Quarantine", 1, "PART-B")]
    assert returnable == {("1", "1", 0): 0, ("2", "1", 0): 0, ("3", "1", 0): 2}


def test_more_than_shipped_and_not_returned_is_parked():
    with pytest.raises(NeedsAttention) as exc:
        rma_lines(7, [("B", "Restock", 2)], LINES, {("2", "1", 0): 1}, PARTS)
    assert "1 of B exceed" in exc.value.reason
