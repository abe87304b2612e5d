"""The purchasing gateway's records and payloads under a renamed mapping:
every purchase order, line and receipt field is read and sent under the
name the tenant's `ifs.purchase` section gives, doctor checks those names,
and the receipt posting is the class `ifs.purchase.posting` names."""

from __future__ import annotations

from datetime import date

import pytest

from connector.context import Context
from connector.errors import ConfigError
from connector.ifs.names import IfsNames
from connector.ifs.purchasing import (
    CreatePurchaseReceipt,
    NewReceipt,
    PoLineKey,
    PurchaseOrder,
    PurchaseOrderLine,
    Purchasing,
    Receipt,
)
from connector.settings import Settings

# A tenant whose every purchasing field and state has another name.
RENAMED = IfsNames.model_validate({"purchase": {
    "released_state": "Approved",
    "closed_order_states": ["Withdrawn"],
    "line_state_enum": "PoLineStatus",
    "closed_line_states": ["Finished", "Void"],
    "order": {"order_no": "PoNo", "site": "Site", "state": "Status", "wanted_receipt_date": "DueDate"},
    "line": {"line_no": "LineId", "release_no": "ReleaseId", "part_no": "ItemNo", "qty_due": "QtyOrdered",
             "qty_arrived": "QtyReceived", "state": "Status"},
    "receipt": {"order_no": "PoNo", "line_no": "LineId", "release_no": "ReleaseId",
                "qty_arrived": "ReceivedQty", "external_ref": "ExtRef", "receipt_date": "ArrivalDate"},
}}).purchase


class RecordingPosting:
    """A tenant's own posting, loaded by import path."""

    def __init__(self, ifs, names):
        self.names = names
        self.posted: list[NewReceipt] = []

    def post(self, receipt: NewReceipt) -> None:
        self.posted.append(receipt)


class NoPost:
    def __init__(self, ifs, names):
        pass


def gateway(names=RENAMED) -> Purchasing:
    return Purchasing(Context(Settings()).ifs, names)


def test_a_renamed_purchase_order_is_read_under_the_tenants_names():
    row = {"PoNo": "P1", "Site": "S01", "Status": "Approved", "DueDate": "2026-12-24",
           "OrderNo": "wrong", "Contract": "wrong", "Objstate": "wrong"}
    order = gateway().order_record(row)
    assert order == PurchaseOrder("P1", "S01", "Approved", "2026-12-24")
    assert gateway().is_released(order)
    assert not gateway().is_order_closed(order)
    assert gateway().is_order_closed(PurchaseOrder("P1", "S01", "Withdrawn", None))
    assert not gateway().is_order_closed(PurchaseOrder("P1", "S01", "Cancelled", None))  # not this tenant's


def test_a_renamed_line_is_read_under_the_tenants_names():
    row = {"LineId": 2, "ReleaseId": "1", "ItemNo": "A", "QtyOrdered": 10, "QtyReceived": 4, "Status": "Void",
           "BuyQtyDue": 99, "QtyArrived": 99}
    line = gateway().line_record("P1", row)
    assert line == PurchaseOrderLine(PoLineKey("P1", "2", "1"), "A", 10.0, 4.0, "Void")
    assert line.open_qty == 6
    assert gateway().is_closed(line)
    assert not gateway().is_closed(PurchaseOrderLine(line.key, "A", 1, 0, "Closed"))  # not this tenant's


def test_a_line_without_quantities_has_none_arrived_and_none_due():
    line = gateway(IfsNames().purchase).line_record("P1", {"LineNo": "1", "ReleaseNo": "1", "PartNo": "A"})
    assert (line.qty_due, line.qty_arrived, line.state) == (0.0, 0.0, None)


def test_a_renamed_receipt_is_read_under_the_tenants_names():
    row = {"PoNo": "P1", "LineId": "2", "ReleaseId": "1", "ReceivedQty": 3, "ExtRef": "SB:P1:2:1:3",
           "ArrivalDate": "2026-12-07", "QtyArrived": 99}
    assert gateway().receipt_record(row) == Receipt(PoLineKey("P1", "2", "1"), 3.0, "SB:P1:2:1:3", "2026-12-07")


def test_a_receipt_is_sent_under_the_tenants_names():
    receipt = NewReceipt(PoLineKey("P1", "2", "1"), 2.5, cumulative=7.5, posted_before=5)
    assert gateway().receipt_payload(receipt, date(2026, 12, 7)) == {
        "PoNo": "P1", "LineId": "2", "ReleaseId": "1", "ReceivedQty": 2.5,
        "ExtRef": "SB:P1:2:1:7.5", "ArrivalDate": "2026-12-07"}


def test_todays_names_are_the_defaults():
    receipt = NewReceipt(PoLineKey("P1", "1", "1"), 4, cumulative=4, posted_before=0)
    assert gateway(IfsNames().purchase).receipt_payload(receipt, date(2026, 12, 7)) == {
        "OrderNo": "P1", "LineNo": "1", "ReleaseNo": "1", "QtyArrived": 4,
        "ExternalRef": "SB:P1:1:1:4", "ReceiptDate": "2026-12-07"}
    assert IfsNames().purchase.closed_line_states == ("Closed", "Cancelled")
    assert IfsNames().purchase.closed_order_states == ("Closed", "Cancelled")


def test_doctor_checks_every_renamed_purchasing_name():
    needs = {projection: {need.describe() for need in found.needs}
             for projection, found in IfsNames(purchase=RENAMED).needs().projections.items()}
    assert {"key PoNo on PurchaseOrderSet", "property DueDate on PurchaseOrderSet",
            "property QtyReceived on PurchaseOrderSet/PurchaseOrderLineArray",
            "property ItemNo on PurchaseOrderSet/PurchaseOrderLineArray",
            "enum member PurchaseOrderState'Approved'", "enum member PurchaseOrderState'Withdrawn'",
            "enum type PoLineStatus",
            "enum member PoLineStatus'Finished'", "enum member PoLineStatus'Void'",
            } <= needs["PurchaseOrderHandling"]
    assert {f"property {name} on PurchaseReceiptSet"
            for name in ("PoNo", "LineId", "ReleaseId", "ReceivedQty", "ExtRef", "ArrivalDate")
            } == {need for need in needs["PurchaseReceiptHandling"] if need.startswith("property")}


# ------------------------------------------------------------------ posting

def test_the_default_posting_creates_a_receipt():
    assert isinstance(gateway().posting, CreatePurchaseReceipt)


def test_a_tenants_posting_is_loaded_from_its_import_path_and_posts_the_receipt():
    names = RENAMED.model_copy(update={"posting": f"{__name__}:RecordingPosting"})
    purchasing = gateway(names)
    receipt = NewReceipt(PoLineKey("P1", "1", "1"), 4, cumulative=4, posted_before=0)
    purchasing.post_receipt(receipt)
    assert isinstance(purchasing.posting, RecordingPosting)
    assert purchasing.posting.posted == [receipt] and purchasing.posting.names is names


@pytest.mark.parametrize(("path", "problem"), [
    ("connector.ifs.purchasing.CreatePurchaseReceipt", "is not a 'package.module:ClassName' path"),
    ("connector.ifs.no_such_module:Posting", "cannot import connector.ifs.no_such_module"),
    ("connector.ifs.purchasing:NoSuchPosting", "connector.ifs.purchasing has no class NoSuchPosting"),
    (f"{__name__}:NoPost", f"{__name__}:NoPost has no post(receipt) method"),
])
def test_a_posting_that_cannot_be_used_is_a_config_error_naming_the_key(path, problem):
    names = RENAMED.model_copy(update={"posting": path})
    with pytest.raises(ConfigError) as error:
        gateway(names)
    assert str(error.value).startswith("mapping ifs.purchase.posting: ") and problem in str(error.value)
