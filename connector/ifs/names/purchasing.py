"""Purchase order names: PurchaseOrderSet is confirmed on /main/; the lines
navigation, the line states and the receipt projection are stand-in
inventions (README: "IFS names you must check per tenant")."""

from __future__ import annotations

from connector.ifs.names._base import Strict
from connector.ifs.needs import Needs


class PurchaseOrderFields(Strict):
    order_no: str = "OrderNo"
    site: str = "Contract"
    state: str = "Objstate"
    wanted_receipt_date: str = "WantedReceiptDate"


class PurchaseOrderLineFields(Strict):
    line_no: str = "LineNo"
    release_no: str = "ReleaseNo"
    part_no: str = "PartNo"
    qty_due: str = "BuyQtyDue"
    qty_arrived: str = "QtyArrived"
    state: str = "Objstate"


class ReceiptFields(Strict):
    """Read from the receipt set and sent when one is created."""

    order_no: str = "OrderNo"
    line_no: str = "LineNo"
    release_no: str = "ReleaseNo"
    qty_arrived: str = "QtyArrived"
    # Where the connector marks its own receipts (and their cumulative level).
    external_ref: str = "ExternalRef"
    receipt_date: str = "ReceiptDate"


class PurchaseNames(Strict):
    projection: str = "PurchaseOrderHandling"
    order_set: str = "PurchaseOrderSet"
    lines_nav: str = "PurchaseOrderLineArray"
    state_enum: str = "PurchaseOrderState"
    released_state: str = "Released"
    # Order states that take no more receipts: what is not received by then
    # is no longer expected from ShipBob.
    closed_order_states: tuple[str, ...] = ("Closed", "Cancelled")
    line_state_enum: str = "PurchaseOrderLineState"
    # Line states that take no more receipts.
    closed_line_states: tuple[str, ...] = ("Closed", "Cancelled")
    receipt_projection: str = "PurchaseReceiptHandling"
    receipt_set: str = "PurchaseReceiptSet"
    # How a receipt is posted: a `module:Class` implementing
    # connector.ifs.purchasing.PurchaseReceiptPosting.
    posting: str = "connector.ifs.purchasing:CreatePurchaseReceipt"
    order: PurchaseOrderFields = PurchaseOrderFields()
    line: PurchaseOrderLineFields = PurchaseOrderLineFields()
    receipt: ReceiptFields = ReceiptFields()

    def declare(self, needs: Needs) -> None:
        purchasing = needs.at(self.projection)
        purchasing.entity_set(self.order_set, keys=(self.order.order_no,), props=self.order.values())
        purchasing.navigation(self.order_set, self.lines_nav, self.line.values())
        purchasing.enum(self.state_enum, self.released_state, *self.closed_order_states)
        purchasing.enum(self.line_state_enum, *self.closed_line_states)
        needs.at(self.receipt_projection).entity_set(self.receipt_set, props=self.receipt.values())
