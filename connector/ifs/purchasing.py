"""The purchasing gateway: IFS purchase orders, their lines and the receipts
the connector posts, as typed records. Every IFS name comes from the
mapping (connector/ifs/names/purchasing.py); no flow needs to know one.

Posting a receipt differs between IFS releases and tenants (the receipt
projection is not publicly documented), so it is a small protocol,
`PurchaseReceiptPosting`, chosen by `ifs.purchase.posting` in the mapping;
`CreatePurchaseReceipt` is the default.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Protocol, runtime_checkable

from connector.errors import ConfigError, TransientError
from connector.ifs import odata
from connector.ifs.client import IfsClient, Read
from connector.ifs.errors import IfsNotFound
from connector.ifs.names.purchasing import PurchaseNames
from connector.ifs.posting import load_class

# Marks the receipts the connector posted (in the receipt's external
# reference), so what it already received can be read back from IFS.
RECEIPT_REF_PREFIX = "SB:"
POSTING_SETTING = "purchase.posting"
# Orders per read when many are read at once: keeps a $filter URL short and
# a $batch of line reads small (the same figure as reconcile's voucher lines).
ORDERS_PER_READ = 50


@dataclass(frozen=True, order=True)
class PoLineKey:
    order_no: str
    line_no: str
    release_no: str

    def label(self) -> str:
        return f"{self.line_no}/{self.release_no}"


@dataclass(frozen=True)
class PurchaseOrder:
    order_no: str
    site: str | None
    state: str | None
    wanted_receipt_date: str | None  # as IFS sent it


@dataclass(frozen=True)
class PurchaseOrderLine:
    key: PoLineKey
    part_no: str
    qty_due: float
    qty_arrived: float  # by any means: our receipts and those booked by hand
    state: str | None

    @property
    def open_qty(self) -> float:
        return self.qty_due - self.qty_arrived


@dataclass(frozen=True)
class Receipt:
    """A receipt on a PO line, as read back from IFS."""

    key: PoLineKey
    qty: float
    external_ref: str | None
    receipt_date: str | None


@dataclass(frozen=True)
class NewReceipt:
    """A receipt to post: `qty` more on the line, bringing the connector's
    receipts there from `posted_before` (what the run read) to `cumulative`."""

    key: PoLineKey
    qty: float
    cumulative: float
    posted_before: float

    @property
    def external_ref(self) -> str:
        """Ours (the prefix), and names the cumulative level it brings the line to."""
        k = self.key
        return f"{RECEIPT_REF_PREFIX}{k.order_no}:{k.line_no}:{k.release_no}:{self.cumulative:g}"


@runtime_checkable
class PurchaseReceiptPosting(Protocol):
    """How a receipt reaches IFS. Built with `(IfsClient, PurchaseNames)`.

    IFS has no idempotency key, so an implementation must post nothing when
    the connector's receipts on the line are no longer `posted_before` (a run
    that was taken over, or a concurrent one) and raise TransientError
    instead; the run then computes again. An IFS business rule refusing the
    receipt is raised as IfsBusinessError (the job is parked for a person).
    """

    def post(self, receipt: NewReceipt) -> None: ...


class Purchasing:
    def __init__(self, ifs: IfsClient, names: PurchaseNames,
                 posting: PurchaseReceiptPosting | None = None):
        self._ifs = ifs
        self.names = names
        self.posting = posting if posting is not None else load_posting(ifs, names)

    def _path(self, order_no: str) -> str:
        return odata.key_path(self.names.order_set, **{self.names.order.order_no: order_no})

    # --------------------------------------------------------------- reads

    def released_orders(self, sites: Iterable[str]) -> Iterator[PurchaseOrder]:
        """The released purchase orders of these sites (number and site only), by number."""
        names, f = self.names, self.names.order
        released = odata.enum_literal(names.projection, names.state_enum, names.released_state)
        rows = self._ifs.query(
            names.projection, names.order_set,
            filter=odata.and_(odata.eq(f.state, released), odata.any_of(f.site, sites)),
            select=[f.order_no, f.site], orderby=[f"{f.order_no} asc"])
        return (self.order_record(row) for row in rows)

    def order(self, order_no: str) -> PurchaseOrder:
        """The header by key; IfsNotFound when IFS has no such order."""
        return self.order_record(self._ifs.get(self.names.projection, self._path(order_no)))

    def find_order(self, order_no: str) -> PurchaseOrder | None:
        try:
            return self.order(order_no)
        except IfsNotFound:
            return None

    def orders_by_number(self, order_nos: Iterable[str]) -> dict[str, PurchaseOrder]:
        """The headers of these orders that IFS has, by number (one query per
        ORDERS_PER_READ orders)."""
        names, f = self.names, self.names.order
        wanted = sorted(set(order_nos))
        found: dict[str, PurchaseOrder] = {}
        for start in range(0, len(wanted), ORDERS_PER_READ):
            rows = self._ifs.query(
                names.projection, names.order_set,
                filter=odata.any_of(f.order_no, wanted[start:start + ORDERS_PER_READ]),
                select=[f.order_no, f.site, f.state, f.wanted_receipt_date], orderby=[f"{f.order_no} asc"])
            found.update((order.order_no, order) for order in map(self.order_record, rows))
        return found

    def lines_of(self, order_nos: Iterable[str]) -> dict[str, list[PurchaseOrderLine]]:
        """The lines of several orders, read through each order's navigation
        (IFS's OData provider expands one-to-one navigations only: docs.ifs.com,
        OData provider "Supported functionalities"): one $batch of
        ORDERS_PER_READ reads at a time. An order IFS does not have raises
        IfsNotFound, as `lines` does."""
        wanted = sorted(set(order_nos))
        names = self.names
        found: dict[str, list[PurchaseOrderLine]] = {}
        for start in range(0, len(wanted), ORDERS_PER_READ):
            chunk = wanted[start:start + ORDERS_PER_READ]
            reads = [Read(f"{self._path(order_no)}/{names.lines_nav}") for order_no in chunk]
            for order_no, rows in zip(chunk, self._ifs.read_many(names.projection, reads)):
                lines = [self.line_record(order_no, row) for row in rows]
                found[order_no] = sorted(lines, key=lambda line: (line.key.line_no, line.key.release_no))
        return found

    def lines(self, order_no: str) -> list[PurchaseOrderLine]:
        """The order's lines by (line, release): a stable order to page by,
        whatever the server's page size."""
        names, f = self.names, self.names.line
        return [self.line_record(order_no, row) for row in self._ifs.query(
            names.projection, f"{self._path(order_no)}/{names.lines_nav}",
            orderby=[f"{f.line_no} asc", f"{f.release_no} asc"])]

    def our_receipts(self, order_no: str | None = None) -> list[Receipt]:
        """The receipts the connector posted: of one order, or of all."""
        names, f = self.names, self.names.receipt
        ours = odata.startswith(f.external_ref, RECEIPT_REF_PREFIX)
        rows = self._ifs.query(
            names.receipt_projection, names.receipt_set,
            filter=odata.and_(odata.eq(f.order_no, order_no), ours) if order_no is not None else ours)
        return [self.receipt_record(row) for row in rows]

    def received_by_us(self, order_no: str) -> dict[PoLineKey, float]:
        """Per line of the order: what the connector's receipts add up to."""
        received: dict[PoLineKey, float] = defaultdict(float)
        for receipt in self.our_receipts(order_no):
            received[receipt.key] += receipt.qty
        return received

    def is_released(self, order: PurchaseOrder) -> bool:
        return order.state == self.names.released_state

    def is_closed(self, line: PurchaseOrderLine) -> bool:
        """Takes no more receipts."""
        return line.state in self.names.closed_line_states

    def is_order_closed(self, order: PurchaseOrder) -> bool:
        """Takes no more receipts on any line (cancelled or closed)."""
        return order.state in self.names.closed_order_states

    # -------------------------------------------------------------- writes

    def post_receipt(self, receipt: NewReceipt) -> None:
        self.posting.post(receipt)

    # ------------------------------------------------------------- records

    def order_record(self, row: dict[str, Any]) -> PurchaseOrder:
        f = self.names.order
        wanted = row.get(f.wanted_receipt_date)
        return PurchaseOrder(order_no=str(row[f.order_no]), site=row.get(f.site), state=row.get(f.state),
                             wanted_receipt_date=str(wanted) if wanted else None)

    def line_record(self, order_no: str, row: dict[str, Any]) -> PurchaseOrderLine:
        """A line read through its order's navigation (which need not repeat the order number)."""
        f = self.names.line
        return PurchaseOrderLine(
            key=PoLineKey(order_no, str(row[f.line_no]), str(row[f.release_no])),
            part_no=str(row[f.part_no]), qty_due=float(row.get(f.qty_due) or 0),
            qty_arrived=float(row.get(f.qty_arrived) or 0), state=row.get(f.state))

    def receipt_record(self, row: dict[str, Any]) -> Receipt:
        f = self.names.receipt
        received = row.get(f.receipt_date)
        return Receipt(
            key=PoLineKey(str(row[f.order_no]), str(row[f.line_no]), str(row[f.release_no])),
            qty=float(row.get(f.qty_arrived) or 0), external_ref=row.get(f.external_ref),
            receipt_date=str(received) if received else None)

    def receipt_payload(self, receipt: NewReceipt, on: date) -> dict[str, Any]:
        """The receipt set's create body for `receipt`, received `on` that day."""
        f = self.names.receipt
        return {
            f.order_no: receipt.key.order_no,
            f.line_no: receipt.key.line_no,
            f.release_no: receipt.key.release_no,
            f.qty_arrived: receipt.qty,
            f.external_ref: receipt.external_ref,
            f.receipt_date: on.isoformat(),
        }


class CreatePurchaseReceipt:
    """The default posting: a create on the receipt set (`ifs.purchase.receipt_set`)."""

    def __init__(self, ifs: IfsClient, names: PurchaseNames):
        self._ifs = ifs
        self._names = names
        self._purchasing = Purchasing(ifs, names, posting=self)

    def post(self, receipt: NewReceipt) -> None:
        key = receipt.key
        # IFS has no idempotency key: what the line holds is read again right
        # before the write (the fence then guards the write itself).
        if self._purchasing.received_by_us(key.order_no).get(key, 0) != receipt.posted_before:
            raise TransientError(f"purchase order {key.order_no} line {key.label()}: receipts changed "
                                 "while this run computed them; computing again")
        today = datetime.now(timezone.utc).date()
        self._ifs.create(self._names.receipt_projection, self._names.receipt_set,
                         self._purchasing.receipt_payload(receipt, today))


def load_posting(ifs: IfsClient, names: PurchaseNames) -> PurchaseReceiptPosting:
    """The posting the mapping names (`ifs.purchase.posting`), built."""
    posting = load_class(names.posting, POSTING_SETTING)(ifs, names)
    if not isinstance(posting, PurchaseReceiptPosting):
        raise ConfigError(f"mapping ifs.{POSTING_SETTING}: {names.posting} has no post(receipt) method")
    return posting
