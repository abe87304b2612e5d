"""The return gateway (connector/ifs/returns.py) over HTTP against the IFS
sandbox: find, create, release, receive, the read reconcile needs, and a
tenant's own receipt step selected by `ifs.returns.posting`."""

from __future__ import annotations

from connector.ifs.customer_orders import LineKey
from connector.ifs.returns import ReceiveRmaAction, ReturnDisposition, Rma, RmaLineToCreate
from tests.integration.test_returns import (
    complete,
    create_return,
    ctx_with_ifs_names,
    rma_actions,
    run_return,
    ship_orders,
    the_rma,
)

FIRST_LINE = LineKey("1", "1", 0)


class CountingReceipt(ReceiveRmaAction):
    """A tenant's own receipt step: today's action, counted."""

    received: list[str] = []  # the flow builds its own instance: count on the class

    def receive(self, rma: Rma) -> None:
        CountingReceipt.received.append(rma.rma_no)
        super().receive(rma)


def test_rmas_are_found_by_reference_released_and_received_once(ctx, sandboxes):
    ifs, _ = sandboxes
    ship_orders(ctx, sandboxes, {"C7001": {"lines": {"RG-1": 3}}})
    returns = ctx.returns

    def one(ref: str, action: ReturnDisposition) -> Rma:
        return returns.create(order_no="C7001", site="S01", external_ref=ref, notes=f"test {ref}",
                              lines=[RmaLineToCreate(FIRST_LINE, "RG-1", 1.0, action)])

    first, second = one("901", ReturnDisposition.RESTOCK), one("902", ReturnDisposition.DISPOSE)
    names = ctx.names.returns
    ctx.ifs.create(names.projection, names.rma_set, {  # raised by hand: no reference
        "OrderNo": "C7001", "Contract": "S01", "Notes": "by hand",
        names.lines_nav: [{"LineNo": "1", "RelNo": "1", "LineItemNo": 0, "QtyToReturn": 1}]})

    assert (first.order_no, first.site, first.external_ref, first.state) == ("C7001", "S01", "901", "Planned")
    assert sorted(returns.external_refs()) == ["901", "902"]
    assert returns.find_by_external_ref("902") == second
    assert returns.find_by_external_ref("903") is None

    returns.release(first)
    returns.receive(first)
    returns.release(first)  # past release already: skipped
    returns.receive(first)  # received already: skipped
    assert returns.is_received(returns.find_by_external_ref("901") or second)
    assert rma_actions(ifs) == {"ReturnMaterial_Release": 1, "ReturnMaterial_Receive": 1}


def test_a_tenants_own_receipt_step_is_used_by_the_return_flow(ctx, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    world = ship_orders(ctx, sandboxes, {"C7101": {"lines": {"RP-1": 2}}})
    [shipment] = world["C7101"]["shipments"]
    return_id = create_return(shipbob, "RMA-7101", shipment, {world["C7101"]["inventory"]["RP-1"]: 2})
    complete(shipbob, return_id)
    own = ctx_with_ifs_names(ctx, tmp_path, returns={"posting": f"{__name__}:CountingReceipt"})
    CountingReceipt.received.clear()

    result = run_return(own, return_id)

    assert result.status == "done", result
    rma, _ = the_rma(ctx, ifs, return_id)
    assert rma["Objstate"] == "Received"
    assert CountingReceipt.received == [str(rma["RmaNo"])]
