"""ShipBob return -> IFS RMA lines (connector/mappers/returns.py)."""

from __future__ import annotations

import pytest

from connector.errors import NeedsAttention
from connector.ifs.customer_orders import LineKey
from connector.ifs.returns import ReturnDisposition
from connector.mappers.returns import normalized_status, processed_actions, rma_lines

LINES = [  # the bound lines of the ShipBob order: two IFS lines carry SKU A
    {"line_no": "1", "rel_no": "1", "line_item_no": 0, "sku": "A"},
    {"line_no": "2", "rel_no": "1", "line_item_no": 0, "sku": "B"},
    {"line_no": "3", "rel_no": "1", "line_item_no": 0, "sku": "A"},
]
PARTS = {"A": "PART-A", "B": "PART-B"}
RESTOCK, QUARANTINE, DISPOSE = ReturnDisposition.RESTOCK, ReturnDisposition.QUARANTINE, ReturnDisposition.DISPOSE


def key(line_no):
    return LineKey(line_no, "1", 0)


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
    assert got == [("A", RESTOCK, 1), ("A", QUARANTINE, 2), ("B", DISPOSE, 1)]


def test_unknown_items_and_actions_are_all_reported_at_once():
    with pytest.raises(NeedsAttention) as exc:
        processed_actions(ret((1, [taken("Donate", 1)]), (9, [taken("Restock", 1)])), {1: "A"})
    assert "inventory item 9 is not a product of the original order" in exc.value.reason
    assert "action 'Donate'" in exc.value.reason


def test_units_spread_over_the_lines_of_their_sku_in_line_order():
    returnable = {key("1"): 2.0, key("2"): 1.0, key("3"): 5.0}
    got = rma_lines(7, [("A", RESTOCK, 3), ("A", DISPOSE, 2), ("B", QUARANTINE, 1)],
                    LINES, returnable, PARTS)
    assert [(l.line, l.action, l.qty, l.part_no) for l in got] == [
        (key("1"), RESTOCK, 2, "PART-A"), (key("3"), RESTOCK, 1, "PART-A"),
        (key("3"), DISPOSE, 2, "PART-A"), (key("2"), QUARANTINE, 1, "PART-B")]
    assert returnable == {key("1"): 0, key("2"): 0, key("3"): 2}


def test_more_than_shipped_and_not_returned_is_parked():
    with pytest.raises(NeedsAttention) as exc:
        rma_lines(7, [("B", RESTOCK, 2)], LINES, {key("2"): 1}, PARTS)
    assert "1 of B exceed" in exc.value.reason
