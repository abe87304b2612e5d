"""The return flow's IFS recipe (connector/flows/return_voucher.py: post_rma)
on in-memory fakes of the return and customer-order gateways."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connector.errors import NeedsAttention
from connector.flows.return_voucher import RmaRequest, post_rma
from connector.ifs.customer_orders import LineKey, OrderLine
from connector.ifs.errors import IfsBusinessError
from connector.ifs.returns import ReturnDisposition, Rma, RmaLineToCreate

RESTOCK, DISPOSE = ReturnDisposition.RESTOCK, ReturnDisposition.DISPOSE


def refusal(text: str) -> IfsBusinessError:
    return IfsBusinessError(text, ora_code="ORA-20110", ifs_message=text)


class FakeReturns:
    """RMAs in a dict; release and receive follow IFS's order (a receive
    before the release is refused, as AboutRMA says)."""

    def __init__(self, release_step: bool = True):
        self.rmas: dict[str, Rma] = {}  # rma_no -> RMA
        self.release_step = release_step
        self.calls: list[tuple[str, str]] = []
        self.refuse: dict[str, IfsBusinessError] = {}  # call -> what IFS says
        self.created_elsewhere: Rma | None = None  # appears right after the first lookup

    def find_by_external_ref(self, external_ref: str) -> Rma | None:
        self.calls.append(("find", external_ref))
        if self.created_elsewhere is not None:
            rma, self.created_elsewhere = self.created_elsewhere, None
            self.rmas[rma.rma_no] = rma
            return None  # this lookup missed it; the next one sees it
        return next((r for r in self.rmas.values() if r.external_ref == external_ref), None)

    def is_received(self, rma: Rma) -> bool:
        return rma.state == "Received"

    def create(self, *, order_no: str, site: str, external_ref: str, notes: str,
               lines: list[RmaLineToCreate]) -> Rma:
        self.calls.append(("create", external_ref))
        if "create" in self.refuse:
            raise self.refuse["create"]
        rma = Rma(rma_no=str(len(self.rmas) + 1), order_no=order_no, site=site,
                  external_ref=external_ref, state="Planned")
        self.rmas[rma.rma_no] = rma
        self.created_lines = lines
        self.notes = notes
        return rma

    def release(self, rma: Rma) -> None:
        current = self.rmas[rma.rma_no]
        if not self.release_step or current.state in ("Released", "Received"):
            return
        self.calls.append(("release", rma.rma_no))
        if "release" in self.refuse:
            raise self.refuse["release"]
        self.rmas[rma.rma_no] = replace(current, state="Released")

    def receive(self, rma: Rma) -> None:
        current = self.rmas[rma.rma_no]
        if current.state == "Received":
            return
        self.calls.append(("receive", rma.rma_no))
        if current.state != "Released":
            raise refusal("an RMA must be released before receipt.")
        self.rmas[rma.rma_no] = replace(current, state="Received")


class FakeOrders:
    def __init__(self, lines: list[OrderLine]):
        self._lines = lines
        self.read: list[str] = []

    def lines(self, order_no: str) -> list[OrderLine]:
        self.read.append(order_no)
        return list(self._lines)


def order_line(line_no: str, part: str, shipped: float, returned: float = 0) -> OrderLine:
    return OrderLine(key=LineKey(line_no, "1", 0), part_no=part, description=None, site=None,
                     qty_due=float(shipped), qty_shipped=float(shipped), qty_returned=float(returned),
                     state="Delivered")


ORDER = FakeOrders([order_line("1", "PART-A", 2, returned=1), order_line("2", "PART-B", 1),
                    order_line("3", "PART-A", 4)])
BOUND = [{"line_no": "1", "rel_no": "1", "line_item_no": 0, "sku": "A"},
         {"line_no": "2", "rel_no": "1", "line_item_no": 0, "sku": "B"},
         {"line_no": "3", "rel_no": "1", "line_item_no": 0, "sku": "A"}]


def request(processed=(("A", RESTOCK, 2), ("B", DISPOSE, 1))) -> RmaRequest:
    return RmaRequest(return_id=77, order_no="C1", site="S02", notes="ShipBob return 77 (R-77)",
                      processed=list(processed), bound_lines=BOUND,
                      part_for_sku={"A": "PART-A", "B": "PART-B"})


def never() -> RmaRequest:
    raise AssertionError("the request was built although IFS has the RMA")


def test_a_new_return_is_created_released_and_received_in_that_order():
    returns, orders = FakeReturns(), FakeOrders(ORDER._lines)
    rma = post_rma(returns, orders, 77, request)
    assert returns.calls == [("find", "77"), ("find", "77"), ("create", "77"),
                             ("release", "1"), ("receive", "1")]
    assert returns.rmas[rma.rma_no].state == "Received"
    assert (rma.order_no, rma.site, rma.external_ref) == ("C1", "S02", "77")
    assert returns.notes == "ShipBob return 77 (R-77)"
    assert orders.read == ["C1"]
    # line 1 had 2 shipped and 1 returned: one A fits there, the other goes to line 3
    assert [(l.line.line_no, l.part_no, l.qty, l.action) for l in returns.created_lines] == [
        ("1", "PART-A", 1, RESTOCK), ("3", "PART-A", 1, RESTOCK), ("2", "PART-B", 1, DISPOSE)]


def test_an_rma_already_in_ifs_is_not_created_again_only_finished():
    returns = FakeReturns()
    returns.rmas["9"] = Rma("9", "C1", "S02", "77", "Planned")
    post_rma(returns, FakeOrders([]), 77, never)
    assert returns.calls == [("find", "77"), ("release", "9"), ("receive", "9")]


def test_a_received_rma_needs_nothing_more():
    returns = FakeReturns()
    returns.rmas["9"] = Rma("9", "C1", "S02", "77", "Received")
    assert post_rma(returns, FakeOrders([]), 77, never).rma_no == "9"
    assert returns.calls == [("find", "77")]


def test_a_released_rma_is_only_received():
    returns = FakeReturns()
    returns.rmas["9"] = Rma("9", "C1", "S02", "77", "Released")
    post_rma(returns, FakeOrders([]), 77, never)
    assert returns.calls == [("find", "77"), ("receive", "9")]


def test_an_rma_that_appears_just_before_the_create_is_used_not_doubled():
    returns = FakeReturns()
    returns.created_elsewhere = Rma("5", "C1", "S02", "77", "Planned")
    rma = post_rma(returns, FakeOrders(ORDER._lines), 77, request)
    assert rma.rma_no == "5" and list(returns.rmas) == ["5"]
    assert ("create", "77") not in returns.calls


def test_without_the_release_step_the_receive_refusal_parks_the_return():
    returns = FakeReturns(release_step=False)
    with pytest.raises(NeedsAttention, match="IFS refused to receive RMA 1: an RMA must be released before receipt"):
        post_rma(returns, FakeOrders(ORDER._lines), 77, request)
    assert returns.rmas["1"].state == "Planned"


@pytest.mark.parametrize("step, message", [
    ("create", "return 77: IFS refused the RMA for order C1: units already on an open RMA"),
    ("release", "IFS refused to release RMA 1: units already on an open RMA"),
])
def test_an_ifs_rule_against_a_step_parks_the_return_with_the_ifs_reason(step, message):
    returns = FakeReturns()
    returns.refuse[step] = refusal("units already on an open RMA")
    with pytest.raises(NeedsAttention) as exc:
        post_rma(returns, FakeOrders(ORDER._lines), 77, request)
    assert exc.value.reason == message
    assert ("receive", "1") not in returns.calls


def test_a_return_with_nothing_processed_is_parked_before_any_write():
    returns = FakeReturns()
    with pytest.raises(NeedsAttention, match="return 77 completed with nothing processed"):
        post_rma(returns, FakeOrders(ORDER._lines), 77, lambda: request(processed=()))
    assert returns.calls == [("find", "77")] and returns.rmas == {}


def test_more_returned_than_the_lines_can_take_is_parked_before_any_write():
    returns = FakeReturns()
    with pytest.raises(NeedsAttention, match="1 of B exceed"):
        post_rma(returns, FakeOrders(ORDER._lines), 77, lambda: request(processed=[("B", DISPOSE, 2)]))
    assert returns.rmas == {}
