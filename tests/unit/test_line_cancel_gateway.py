"""Cancelling order lines through the customer order gateway under a renamed
tenant: the action, its parameters and the line fields come from the
mapping's `ifs.customer_order.line_cancel`, it goes under the ETag just
read, not at all when the order's lines show it done, and the posting step
is the class the mapping names. The real IfsClient runs over a scripted
transport (tests/unit/test_customer_orders_gateway.py)."""

from __future__ import annotations

import json

import pytest

from connector.coordination import LocalCoordinator
from connector.errors import ConfigError
from connector.ifs.client import IfsClient
from connector.ifs.customer_orders import Cancellation, CustomerOrders, LineCancel, LineKey
from connector.ifs.names import IfsNames
from connector.ifs.names.customer_orders import CustomerOrderNames, LineCancelNames
from connector.settings import Settings

from .test_customer_orders_gateway import HEADER, LINES, RENAMED, ScriptedIfs

VOIDING = RENAMED.model_copy(update={"line_cancel": LineCancelNames.model_validate({
    "action": "SalesOrder_VoidLines", "reason": "3PL",
    "params": {"reason": "VoidCode", "lines": "VoidLines"},
    "line": {"line_no": "Ln", "rel_no": "Rel", "line_item_no": "Item", "qty": "QtyToVoid"}})})
ORDER = "SalesOrders(SoNo='C1')"
ACTION = f"{ORDER}/IfsApp.SalesOrderHandling.SalesOrder_VoidLines"
# Line 1: 5 due, 2 shipped; 3 of it to cancel.
REST_OF_LINE_1 = Cancellation("C1", "501", (LineCancel(LineKey("1", "1", 0), 3, 5),))


def gateway(lines, names: CustomerOrderNames = VOIDING) -> tuple[CustomerOrders, ScriptedIfs]:
    transport = ScriptedIfs({ORDER: HEADER, f"{ORDER}/Lines": lines, ACTION: {}})
    settings = Settings(ifs_base_url="http://ifs.test", ifs_batch_reads=False)
    return CustomerOrders(IfsClient(settings, LocalCoordinator(), session=transport), names), transport


def test_the_cancellation_goes_under_the_etag_in_the_tenants_names():
    orders, sent = gateway(LINES)

    orders.cancel_lines(REST_OF_LINE_1)

    read, check, post = sent.sent
    assert (read["method"], read["path"]) == ("GET", ORDER)
    assert (check["method"], check["path"]) == ("GET", f"{ORDER}/Lines")  # the effect, looked for first
    assert (post["method"], post["path"], post["projection"]) == ("POST", ACTION, "SalesOrderHandling")
    assert post["headers"]["If-Match"] == 'W/"v1"'
    assert json.loads(post["body"]) == {"VoidCode": "3PL",
                                        "VoidLines": [{"Ln": "1", "Rel": "1", "Item": 0, "QtyToVoid": 3}]}


def test_no_reason_configured_sends_none():
    orders, sent = gateway(LINES, names=VOIDING.model_copy(update={
        "line_cancel": VOIDING.line_cancel.model_copy(update={"reason": None})}))
    orders.cancel_lines(REST_OF_LINE_1)
    assert "VoidCode" not in json.loads(sent.sent[-1]["body"])


@pytest.mark.parametrize("line_now", [{"Due": 2}, {"LineStatus": "Shipped"}], ids=["due lowered", "closed"])
def test_a_cancellation_the_lines_show_already_is_not_sent_again(line_now):
    orders, sent = gateway([{**LINES[0], **line_now}, LINES[1]])
    orders.cancel_lines(REST_OF_LINE_1)
    assert [s["method"] for s in sent.sent] == ["GET", "GET"]


def test_a_line_the_order_no_longer_has_is_not_taken_for_done():
    orders, _ = gateway([LINES[1]])
    assert not orders.cancellation_applied(REST_OF_LINE_1, orders.lines("C1"))


class TenantCancelling:
    """A tenant's own step, e.g. a state event per line."""

    built: list[tuple] = []

    def __init__(self, ifs, names):
        TenantCancelling.built.append((ifs, names))
        self.asked: list[Cancellation] = []

    def cancel(self, cancellation):
        self.asked.append(cancellation)


def test_the_posting_step_is_the_class_the_mapping_names():
    names = VOIDING.model_copy(update={"line_cancel": VOIDING.line_cancel.model_copy(update={
        "posting": f"{__name__}:TenantCancelling"})})
    orders, sent = gateway(LINES, names=names)
    orders.cancel_lines(REST_OF_LINE_1)
    assert orders._line_cancelling.asked == [REST_OF_LINE_1] and sent.sent == []
    assert TenantCancelling.built[-1][1] is names


@pytest.mark.parametrize("posting, error", [
    ("connector.nowhere:Step", "mapping ifs.customer_order.line_cancel.posting: cannot import connector.nowhere"),
    (f"{__name__}:NoSuchClass", f"mapping ifs.customer_order.line_cancel.posting: {__name__} has no class"),
    (f"{__name__}:ScriptedIfs", "cannot be built as Class(ifs, names)"),
])
def test_a_posting_that_cannot_be_loaded_is_a_config_error_naming_the_key(posting, error):
    names = VOIDING.model_copy(update={"line_cancel": VOIDING.line_cancel.model_copy(update={"posting": posting})})
    orders, _ = gateway(LINES, names=names)
    with pytest.raises(ConfigError, match=error.replace("(", r"\(").replace(")", r"\)")):
        orders.cancel_lines(REST_OF_LINE_1)


def test_doctor_checks_the_action_and_its_parameters_on_the_order_set():
    described = {need.describe() for need in IfsNames(customer_order=VOIDING).needs()
                 .projections["SalesOrderHandling"].needs}
    assert {"action SalesOrder_VoidLines on SalesOrders", "action parameter VoidLines of SalesOrder_VoidLines",
            "action parameter VoidCode of SalesOrder_VoidLines"} <= described
    no_reason = IfsNames().needs().projections["CustomerOrderHandling"].needs
    assert {n.name for n in no_reason if n.action == "CustomerOrder_CancelLines"} == {"Lines"}
    own = VOIDING.model_copy(update={"line_cancel": VOIDING.line_cancel.model_copy(update={
        "posting": f"{__name__}:TenantCancelling"})})
    assert not [n for n in IfsNames(customer_order=own).needs().projections["SalesOrderHandling"].needs
                if "VoidLines" in (n.name, n.action)]
