"""What a purchase order expects through ShipBob against what its WROs
announce (connector/flows/wro_quantities.py): pure rules shared by the
replenishment flow and reconcile."""

from __future__ import annotations

from connector.flows.wro_quantities import announced, carriers, excesses, is_live, needs_by_part
from connector.ifs.purchasing import PoLineKey, PurchaseOrderLine

CLOSED = ("Closed", "Cancelled")


def line(no: int, part: str, due: float, arrived: float = 0.0, state: str = "Released") -> PurchaseOrderLine:
    return PurchaseOrderLine(PoLineKey("P1", str(no), "1"), part, due, arrived, state)


def wro(wro_id: int, items: dict[int, int], status: str = "Awaiting") -> dict:
    return {"id": wro_id, "status": status, "inventory_quantities": [
        {"inventory_id": i, "sku": f"S{i}", "expected_quantity": q} for i, q in items.items()]}


def needs(*lines: PurchaseOrderLine, received: dict | None = None, order_closed: bool = False):
    return needs_by_part(lines, received or {}, lambda l: l.state in CLOSED, order_closed)


def test_a_cancelled_wro_announces_nothing():
    wros = [wro(1, {101: 10, 102: 4}), wro(2, {101: 5}, status="Cancelled")]
    assert announced(wros) == {101: 15, 102: 4}
    assert announced([w for w in wros if is_live(w)]) == {101: 10, 102: 4}
    assert carriers(wros) == {101: [1, 2], 102: [1]}


def test_a_cancelled_line_leaves_its_wro_with_the_exact_excess():
    parts = needs(line(1, "A", 10), line(2, "B", 4, state="Cancelled"))
    [excess] = excesses(parts, {"A": 101, "B": 102}, [wro(7, {101: 10, 102: 4})])
    assert (excess.inventory_id, excess.announced, excess.need) == (102, 4, 0)
    assert excess.describe() == ("line 2/1 part B (Cancelled, 4 ordered): WRO 7 announce(s) 4, "
                                 "IFS now expects 0 through ShipBob (4 too many)")


def test_a_decrease_is_an_excess_and_an_increase_is_not():
    wros = [wro(7, {101: 10}), wro(8, {101: 2})]  # a top-up after an earlier increase
    assert excesses(needs(line(1, "A", 12)), {"A": 101}, wros) == []
    assert excesses(needs(line(1, "A", 20)), {"A": 101}, wros) == []
    [excess] = excesses(needs(line(1, "A", 9)), {"A": 101}, wros)
    assert excess.describe() == ("line 1/1 part A (9 ordered): WRO 7, 8 announce(s) 12, "
                                 "IFS now expects 9 through ShipBob (3 too many)")


def test_a_cancelled_order_expects_only_what_shipbob_already_delivered():
    first = line(1, "A", 10, arrived=6)
    parts = needs(first, line(2, "B", 4), received={first.key: 6.0}, order_closed=True)
    assert {part: need.need for part, need in parts.items()} == {"A": 6, "B": 0}
    found = excesses(parts, {"A": 101, "B": 102}, [wro(7, {101: 10, 102: 4})])
    assert [(e.inventory_id, e.announced - e.need) for e in found] == [(101, 4), (102, 4)]


def test_units_booked_by_hand_are_not_expected_through_shipbob():
    parts = needs(line(1, "A", 10, arrived=3))
    [excess] = excesses(parts, {"A": 101}, [wro(7, {101: 10})])
    assert (excess.announced, excess.need) == (10, 7)


def test_a_part_on_a_wro_that_no_line_has_is_all_excess():
    [excess] = excesses(needs(line(1, "A", 10)), {"A": 101}, [wro(7, {101: 10, 555: 2})])
    assert excess.describe() == ("inventory 555 (on no line of the order): WRO 7 announce(s) 2, "
                                 "IFS now expects 0 through ShipBob (2 too many)")


def test_two_parts_on_one_sku_expect_together():
    parts = needs(line(1, "A", 10), line(2, "A-OLD", 5))
    assert excesses(parts, {"A": 101, "A-OLD": 101}, [wro(7, {101: 15})]) == []
