"""The purchasing gateway against the IFS sandbox over HTTP: purchase orders,
their lines and our receipts as records, and the default receipt posting -
which re-reads our receipts right before it creates one, so a run that was
taken over (or raced) posts nothing twice."""

from __future__ import annotations

import pytest

from connector.errors import TransientError
from connector.ifs.errors import IfsBusinessError, IfsNotFound
from connector.ifs.purchasing import NewReceipt, PoLineKey, PurchaseOrder, PurchaseOrderLine
from tests.helpers import hook, ifs_rows


def purchase_orders(ifs, *orders: dict) -> list[str]:
    created = hook(ifs, "purchase_orders", {"purchase_orders": [
        {**order, "lines": [{"PartNo": p, "BuyQtyDue": q} for p, q in order["lines"]]} for order in orders]})
    return [po["OrderNo"] for po in created["purchase_orders"]]


def receipts_of(ifs, po: str) -> list[dict]:
    return [r for r in ifs_rows(ifs, "PurchaseReceiptSet") if r["OrderNo"] == po]


def test_released_orders_of_the_given_sites_in_order(ctx, sandboxes):
    ifs, _ = sandboxes
    purchase_orders(ifs, {"OrderNo": "PB", "Contract": "S02", "lines": [("A", 1)]},
                    {"OrderNo": "PA", "lines": [("A", 1)]},
                    {"OrderNo": "PPLANNED", "Objstate": "Planned", "lines": [("A", 1)]},
                    {"OrderNo": "POTHER", "Contract": "S99", "lines": [("A", 1)]})

    assert [(o.order_no, o.site) for o in ctx.purchasing.released_orders(["S01", "S02"])] == [
        ("PA", "S01"), ("PB", "S02")]


def test_an_order_its_lines_and_an_order_ifs_does_not_have(ctx, sandboxes):
    ifs, _ = sandboxes
    [po] = purchase_orders(ifs, {"WantedReceiptDate": "2026-12-24", "lines": [("A", 10), ("B", 2.5)]})
    purchasing = ctx.purchasing

    assert purchasing.order(po) == PurchaseOrder(po, "S01", "Released", "2026-12-24")
    assert purchasing.lines(po) == [PurchaseOrderLine(PoLineKey(po, "1", "1"), "A", 10.0, 0.0, "Released"),
                                    PurchaseOrderLine(PoLineKey(po, "2", "1"), "B", 2.5, 0.0, "Released")]
    assert purchasing.find_order("PNONE") is None
    with pytest.raises(IfsNotFound):
        purchasing.order("PNONE")


def test_several_orders_and_their_lines_are_read_at_once(ctx, sandboxes):
    ifs, _ = sandboxes
    [p1, p2] = purchase_orders(ifs, {"lines": [("A", 10), ("B", 2)]}, {"lines": [("C", 1)]})
    hook(ifs, f"purchase_orders/{p2}/cancel")
    purchasing = ctx.purchasing
    before = hook(ifs, "stats", method="GET")["requests"]

    orders = purchasing.orders_by_number([p2, p1, "PNONE", p1])
    lines = purchasing.lines_of([p1, p2])
    after = hook(ifs, "stats", method="GET")["requests"]

    calls = {route: after[route].get(method, 0) - before.get(route, {}).get(method, 0)
             for route, method in (("PurchaseOrderHandling/PurchaseOrderSet", "GET"),
                                   ("PurchaseOrderHandling/$batch", "POST"))}
    assert calls == {"PurchaseOrderHandling/PurchaseOrderSet": 1, "PurchaseOrderHandling/$batch": 1}
    assert sorted(orders) == [p1, p2]  # an order IFS does not have is left out
    assert (purchasing.is_order_closed(orders[p1]), purchasing.is_order_closed(orders[p2])) == (False, True)
    assert lines == {p1: purchasing.lines(p1), p2: purchasing.lines(p2)}
    assert [(line.part_no, line.state) for line in lines[p2]] == [("C", "Cancelled")]
    with pytest.raises(IfsNotFound):
        purchasing.lines_of([p1, "PNONE"])


def test_a_posted_receipt_is_ours_and_one_booked_by_hand_is_not(ctx, sandboxes):
    ifs, _ = sandboxes
    [po, other] = purchase_orders(ifs, {"lines": [("A", 10), ("B", 5)]}, {"lines": [("A", 3)]})
    purchasing = ctx.purchasing
    line_a, line_b = (PoLineKey(po, "1", "1"), PoLineKey(po, "2", "1"))
    ctx.ifs.create("PurchaseReceiptHandling", "PurchaseReceiptSet", {  # by hand in IFS
        "OrderNo": po, "LineNo": "2", "ReleaseNo": "1", "QtyArrived": 1})

    purchasing.post_receipt(NewReceipt(line_a, 4, cumulative=4, posted_before=0))
    purchasing.post_receipt(NewReceipt(line_a, 2, cumulative=6, posted_before=4))
    purchasing.post_receipt(NewReceipt(line_b, 3, cumulative=3, posted_before=0))
    purchasing.post_receipt(NewReceipt(PoLineKey(other, "1", "1"), 3, cumulative=3, posted_before=0))

    assert purchasing.received_by_us(po) == {line_a: 6, line_b: 3}
    assert [(r.key, r.qty, r.external_ref) for r in purchasing.our_receipts(po)] == [
        (line_a, 4, f"SB:{po}:1:1:4"), (line_a, 2, f"SB:{po}:1:1:6"), (line_b, 3, f"SB:{po}:2:1:3")]
    assert {r.key.order_no for r in purchasing.our_receipts()} == {po, other}
    assert [line.qty_arrived for line in purchasing.lines(po)] == [6, 4]


def test_a_receipt_computed_from_receipts_that_have_since_changed_is_not_posted(ctx, sandboxes):
    ifs, _ = sandboxes
    # Room on the line for a doubled receipt: IFS itself would not refuse it.
    [po] = purchase_orders(ifs, {"lines": [("A", 10)]})
    key = PoLineKey(po, "1", "1")
    ctx.purchasing.post_receipt(NewReceipt(key, 3, cumulative=3, posted_before=0))  # the run that took over

    with pytest.raises(TransientError, match="receipts changed while this run computed them"):
        ctx.purchasing.post_receipt(NewReceipt(key, 3, cumulative=3, posted_before=0))  # the frozen one
    assert [r["QtyArrived"] for r in receipts_of(ifs, po)] == [3]


def test_a_receipt_ifs_refuses_raises_its_business_error(ctx, sandboxes):
    ifs, _ = sandboxes
    [po] = purchase_orders(ifs, {"lines": [("A", 2)]})

    with pytest.raises(IfsBusinessError, match="exceeds the remaining quantity"):
        ctx.purchasing.post_receipt(NewReceipt(PoLineKey(po, "1", "1"), 5, cumulative=5, posted_before=0))
    assert receipts_of(ifs, po) == []
