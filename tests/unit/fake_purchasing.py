"""An in-memory purchasing gateway (no tests here): IFS's purchase orders and
receipts as the flows see them through connector.ifs.purchasing.Purchasing."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date

from connector.errors import TransientError
from connector.ifs.errors import IfsBusinessError, IfsNotFound
from connector.ifs.purchasing import (
    RECEIPT_REF_PREFIX,
    NewReceipt,
    PoLineKey,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
)

CLOSED = ("Closed", "Cancelled")


class FakePurchasing:
    def __init__(self) -> None:
        self.orders: dict[str, PurchaseOrder] = {}
        self._lines: dict[str, list[PurchaseOrderLine]] = {}
        self.receipts: list[Receipt] = []
        self.posted: list[NewReceipt] = []
        self.refusal: str | None = None  # an IFS rule that refuses every receipt
        self.released_sites: list[list[str]] = []
        self.line_reads: list[list[str]] = []  # the orders of each lines_of call

    # ------------------------------------------------------------ set-up

    def add_order(self, order_no: str, lines: list[tuple[str, float]], *, site: str | None = "S01",
                  state: str = "Released", wanted: str | None = None) -> list[PurchaseOrderLine]:
        self.orders[order_no] = PurchaseOrder(order_no, site, state, wanted)
        self._lines[order_no] = [
            PurchaseOrderLine(PoLineKey(order_no, str(n), "1"), part, float(qty), 0.0, state)
            for n, (part, qty) in enumerate(lines, start=1)]
        return self._lines[order_no]

    def set_line(self, key: PoLineKey, **changes: object) -> None:
        lines = self._lines[key.order_no]
        lines[:] = [replace(line, **changes) if line.key == key else line for line in lines]

    def receive_by_hand(self, key: PoLineKey, qty: float) -> None:
        self._arrive(Receipt(key, qty, None, None))

    def set_order_state(self, order_no: str, state: str) -> None:
        self.orders[order_no] = replace(self.orders[order_no], state=state)

    # ------------------------------------------------------- the gateway

    def released_orders(self, sites: list[str]) -> list[PurchaseOrder]:
        self.released_sites.append(list(sites))
        return [o for no, o in sorted(self.orders.items()) if o.state == "Released" and o.site in sites]

    def order(self, order_no: str) -> PurchaseOrder:
        if order_no not in self.orders:
            raise IfsNotFound(f"IFS GET PurchaseOrderSet: {order_no} not found", status=404)
        return self.orders[order_no]

    def find_order(self, order_no: str) -> PurchaseOrder | None:
        return self.orders.get(order_no)

    def orders_by_number(self, order_nos) -> dict[str, PurchaseOrder]:
        return {no: self.orders[no] for no in sorted(set(order_nos)) if no in self.orders}

    def lines(self, order_no: str) -> list[PurchaseOrderLine]:
        if order_no not in self._lines:
            raise IfsNotFound(f"IFS GET PurchaseOrderSet: {order_no} not found", status=404)
        return list(self._lines[order_no])

    def lines_of(self, order_nos) -> dict[str, list[PurchaseOrderLine]]:
        self.line_reads.append(sorted(set(order_nos)))
        return {no: self.lines(no) for no in sorted(set(order_nos))}

    def our_receipts(self, order_no: str | None = None) -> list[Receipt]:
        return [r for r in self.receipts if (r.external_ref or "").startswith(RECEIPT_REF_PREFIX)
                and order_no in (None, r.key.order_no)]

    def received_by_us(self, order_no: str) -> dict[PoLineKey, float]:
        received: dict[PoLineKey, float] = defaultdict(float)
        for receipt in self.our_receipts(order_no):
            received[receipt.key] += receipt.qty
        return received

    def is_closed(self, line: PurchaseOrderLine) -> bool:
        return line.state in CLOSED

    def is_order_closed(self, order: PurchaseOrder) -> bool:
        return order.state in CLOSED

    def post_receipt(self, receipt: NewReceipt) -> None:
        """As the default posting and IFS behave: re-check, then receive."""
        if self.received_by_us(receipt.key.order_no).get(receipt.key, 0) != receipt.posted_before:
            raise TransientError("receipts changed")
        if self.refusal:
            raise IfsBusinessError(f"IFS POST PurchaseReceiptSet: {self.refusal}", ora_code="ORA-20110",
                                   ifs_message=self.refusal)
        self.posted.append(receipt)
        self._arrive(Receipt(receipt.key, receipt.qty, receipt.external_ref, date.today().isoformat()))

    def _arrive(self, receipt: Receipt) -> None:
        self.receipts.append(receipt)
        [line] = [line for line in self._lines[receipt.key.order_no] if line.key == receipt.key]
        self.set_line(receipt.key, qty_arrived=line.qty_arrived + receipt.qty)
