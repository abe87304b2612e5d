"""Purchase order names: PurchaseOrderSet is confirmed on /main/; the lines
navigation and the receipt projection are stand-in inventions."""

from __future__ import annotations

from connector.ifs.names._base import Strict
from connector.ifs.needs import Needs

_PO_FIELDS = ("OrderNo", "Contract", "Objstate", "WantedReceiptDate")
_PO_LINE_FIELDS = ("LineNo", "ReleaseNo", "PartNo", "BuyQtyDue", "QtyArrived", "Objstate")
_RECEIPT_FIELDS = ("OrderNo", "LineNo", "ReleaseNo", "QtyArrived", "ExternalRef", "ReceiptDate")


class PurchaseNames(Strict):
    projection: str = "PurchaseOrderHandling"
    order_set: str = "PurchaseOrderSet"
    lines_nav: str = "PurchaseOrderLineArray"
    state_enum: str = "PurchaseOrderState"
    released_state: str = "Released"
    receipt_projection: str = "PurchaseReceiptHandling"
    receipt_set: str = "PurchaseReceiptSet"

    def declare(self, needs: Needs) -> None:
        purchasing = needs.at(self.projection)
        purchasing.entity_set(self.order_set, keys=("OrderNo",), props=_PO_FIELDS)
        purchasing.navigation(self.order_set, self.lines_nav, _PO_LINE_FIELDS)
        purchasing.enum(self.state_enum, self.released_state)
        needs.at(self.receipt_projection).entity_set(self.receipt_set, props=_RECEIPT_FIELDS)
