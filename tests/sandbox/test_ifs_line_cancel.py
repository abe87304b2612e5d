"""The IFS sandbox's order line cancellation over real HTTP (a stand-in
invention, like the delivery action): only what is still to deliver can be
cancelled, a line with nothing delivered is Cancelled, a partly delivered
line's rest closes it as Delivered, and the order is Cancelled once every
line is. ETag-protected and not idempotent."""

from __future__ import annotations

import pytest

from tests.sandbox.test_ifs_business import CO, fulfil, line, lines_of
from tests.sandbox.test_ifs_sandbox import Ifs, error_of, ifs, seeded, server  # noqa: F401

CANCEL = f"IfsApp.{CO}.CustomerOrder_CancelLines"


def cancel(ifs: Ifs, order_no: str, lines: list[dict], etag: str | None = None, reason: str | None = None):
    path = f"CustomerOrderSet(OrderNo='{order_no}')"
    etag = etag or ifs.get(CO, path).json()["@odata.etag"]
    body = {"Lines": lines, **({"CancelReason": reason} if reason else {})}
    return ifs.post(CO, f"{path}/{CANCEL}", body, headers={"If-Match": etag})


def order_state(ifs: Ifs, order_no: str) -> str:
    return ifs.get(CO, f"CustomerOrderSet(OrderNo='{order_no}')").json()["Objstate"]


@pytest.fixture
def three_lines(ifs) -> str:
    return ifs.order(lines=[{"PartNo": "P00001", "BuyQtyDue": 1}, {"PartNo": "P00002", "BuyQtyDue": 2},
                            {"PartNo": "P00003", "BuyQtyDue": 3}])


def test_lines_cancelled_whole_and_the_order_with_them(ifs, three_lines):
    assert cancel(ifs, three_lines, [line("1", 1)], reason="CUST").status_code == 204
    lines = lines_of(ifs, three_lines)
    assert (lines["1"]["Objstate"], lines["1"]["BuyQtyDue"], lines["1"]["CancelReason"]) == ("Cancelled", 1, "CUST")
    assert order_state(ifs, three_lines) == "Released"
    assert cancel(ifs, three_lines, [line("2", 2), line("3", 3)]).status_code == 204
    assert {l["Objstate"] for l in lines_of(ifs, three_lines).values()} == {"Cancelled"}
    assert order_state(ifs, three_lines) == "Cancelled"


def test_part_of_a_line_lowers_its_quantity_and_a_delivered_part_stays(ifs, three_lines):
    assert cancel(ifs, three_lines, [line("3", 1)]).status_code == 204
    assert (lines_of(ifs, three_lines)["3"]["BuyQtyDue"], lines_of(ifs, three_lines)["3"]["Objstate"]) == (
        2, "Released")
    assert fulfil(ifs, three_lines, [line("1", 1), line("3", 1)]).status_code == 200
    # The rest of the partly delivered line 3 and the whole of line 2 go: delivered is what stays.
    assert cancel(ifs, three_lines, [line("2", 2), line("3", 1)]).status_code == 204
    lines = lines_of(ifs, three_lines)
    assert (lines["3"]["Objstate"], lines["3"]["BuyQtyDue"], lines["3"]["QtyShipped"]) == ("Delivered", 1, 1)
    assert lines["2"]["Objstate"] == "Cancelled"
    assert order_state(ifs, three_lines) == "Delivered"


@pytest.mark.parametrize("lines, ora", [
    ([line("3", 1), line("9", 1)], "ORA-20111"),  # no such line
    ([line("3", 1), line("1", 0)], "ORA-20110"),  # nothing to cancel
    ([], "ORA-20110"),
    ([line("3", 1), line("2", 3)], "ORA-20110"),  # more than is still to deliver
    ([line("3", 1), line("2", 1), line("2", 2)], "ORA-20110"),  # twice in one call counts twice
])
def test_cancellation_validates_lines_and_changes_nothing_when_refused(ifs, three_lines, lines, ora):
    response = cancel(ifs, three_lines, lines)
    assert response.status_code == 500
    assert error_of(response)["details"][0]["message"].startswith(ora)
    assert lines_of(ifs, three_lines)["3"]["BuyQtyDue"] == 3


def test_a_delivered_or_cancelled_line_and_a_closed_order_cannot_be_cancelled(ifs, three_lines):
    assert fulfil(ifs, three_lines, [line("1", 1)]).status_code == 200
    assert "Delivered" in error_of(cancel(ifs, three_lines, [line("1", 1)]))["details"][0]["message"]
    assert cancel(ifs, three_lines, [line("2", 2)]).status_code == 204
    assert error_of(cancel(ifs, three_lines, [line("2", 2)]))["details"][0]["message"].startswith("ORA-20117")
    assert cancel(ifs, three_lines, [line("3", 3)]).status_code == 204
    assert order_state(ifs, three_lines) == "Delivered"
    refused = cancel(ifs, three_lines, [line("3", 1)])
    assert error_of(refused)["details"][0]["message"].startswith("ORA-20117")


def test_cancellation_needs_the_current_etag_and_is_not_idempotent(ifs, three_lines):
    path = f"CustomerOrderSet(OrderNo='{three_lines}')"
    etag = ifs.get(CO, path).json()["@odata.etag"]
    ifs.hook("bump", {"set": "CustomerOrderSet", "key": {"OrderNo": three_lines}})
    assert cancel(ifs, three_lines, [line("3", 1)], etag=etag).status_code == 412
    missing = ifs.post(CO, f"{path}/{CANCEL}", {"Lines": [line("3", 1)]})
    assert error_of(missing)["code"] == "ODP_MISSING_PRECONDITION"
    assert cancel(ifs, three_lines, [line("3", 1)]).status_code == 204
    assert cancel(ifs, three_lines, [line("3", 1)]).status_code == 204  # twice: twice
    assert lines_of(ifs, three_lines)["3"]["BuyQtyDue"] == 1
