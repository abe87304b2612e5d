"""The return gateway: IFS return material authorizations (RMAs) as typed
records. Every IFS name comes from the mapping (connector/ifs/names/
returns.py); no flow needs to know one.

An RMA is created with its lines in one request (deep insert), carrying the
ShipBob return id as its external reference: IFS has no idempotency key, so
that reference is how the connector finds an RMA it may have created already.
Before receipt the RMA is released (IFS receives only a released RMA); the
receipt itself is a posting step a tenant may replace (`ReturnReceiptPosting`,
mapping key `ifs.returns.posting`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol

from connector.ifs import odata
from connector.ifs.client import IfsClient
from connector.ifs.customer_orders import LineKey
from connector.ifs.names.returns import ReturnNames
from connector.ifs.posting import load_class


class ReturnDisposition(enum.Enum):
    """What happens to a returned unit; each maps to a member of the IFS
    return-action enum (ifs.returns.actions)."""

    RESTOCK = "restock"
    QUARANTINE = "quarantine"
    DISPOSE = "dispose"


@dataclass(frozen=True)
class Rma:
    rma_no: str  # as text, for logs and bindings
    order_no: str | None
    site: str | None
    external_ref: str | None
    state: str | None
    # The key as IFS typed it (a number in the stand-in model): paths must
    # echo it in the same type, or the key literal would not match.
    key: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class RmaLineToCreate:
    """Units of one customer order line to return, and what to do with them."""

    line: LineKey
    part_no: str
    qty: float
    action: ReturnDisposition


class ReturnReceiptPosting(Protocol):
    """Receives a released RMA into stock. Built with `(IfsClient,
    ReturnNames)`; must do nothing when the RMA is received already (a retry,
    or another worker, may have done it)."""

    def receive(self, rma: Rma) -> None: ...


def rma_path(names: ReturnNames, rma: Rma) -> str:
    return odata.key_path(names.rma_set, **{names.rma_key: rma.rma_no if rma.key is None else rma.key})


class ReceiveRmaAction:
    """The default receipt: one bound action on the RMA (ifs.returns.receive_action),
    skipped when the RMA already reads as received."""

    def __init__(self, ifs: IfsClient, names: ReturnNames):
        self._ifs = ifs
        self.names = names

    def receive(self, rma: Rma) -> None:
        names = self.names
        self._ifs.bound_action(names.projection, rma_path(names, rma), names.receive_action, {},
                               check=lambda row: row.get(names.state_field) == names.received_state)


class Returns:
    def __init__(self, ifs: IfsClient, names: ReturnNames):
        self._ifs = ifs
        self.names = names
        actions = names.actions
        self._action_values = {ReturnDisposition.RESTOCK: actions.restock,
                               ReturnDisposition.QUARANTINE: actions.quarantine,
                               ReturnDisposition.DISPOSE: actions.dispose}
        posting_class = load_class(names.posting, "returns.posting")
        self.posting: ReturnReceiptPosting = posting_class(ifs, names)

    # ----------------------------------------------------------------- reads

    def find_by_external_ref(self, external_ref: str) -> Rma | None:
        """The RMA carrying this external reference (the first, if several)."""
        names = self.names
        rows = self._ifs.query(names.projection, names.rma_set,
                               filter=odata.eq(names.rma.external_ref, external_ref))
        row = next(iter(rows), None)
        return self.rma_from_row(row) if row is not None else None

    def external_refs(self) -> list[str]:
        """The external reference of every RMA that has one (reconcile counts
        them per ShipBob return)."""
        names = self.names
        field_name = names.rma.external_ref
        return [str(row[field_name])
                for row in self._ifs.query(names.projection, names.rma_set, select=[field_name])
                if row.get(field_name) not in (None, "")]

    def is_received(self, rma: Rma) -> bool:
        return rma.state == self.names.received_state

    # ---------------------------------------------------------------- writes

    def create(self, *, order_no: str, site: str, external_ref: str, notes: str,
               lines: list[RmaLineToCreate]) -> Rma:
        """One RMA with its lines. Not retried on an unknown outcome (IFS has
        no idempotency key): look it up by `external_ref` before calling again.
        An IFS rule against it raises IfsBusinessError."""
        names = self.names
        created = self._ifs.create(names.projection, names.rma_set,
                                   self.create_body(order_no, site, external_ref, notes, lines))
        return self.rma_from_row(created)

    def release(self, rma: Rma) -> None:
        """IFS receives only a released RMA (IFS docs, "About RMA"): the release
        action, skipped when the mapping turns the step off or the RMA reads
        as released (or received) already."""
        names = self.names
        if not names.release_action:
            return
        past_release = {names.released_state, names.received_state}
        self._ifs.bound_action(names.projection, rma_path(names, rma), names.release_action, {},
                               check=lambda row: row.get(names.state_field) in past_release)

    def receive(self, rma: Rma) -> None:
        self.posting.receive(rma)

    # -------------------------------------------------------------- records

    def rma_from_row(self, row: dict[str, Any]) -> Rma:
        names = self.names
        f = names.rma
        key = row[names.rma_key]
        ref = row.get(f.external_ref)
        return Rma(rma_no=str(key), order_no=_text(row.get(f.order_no)), site=_text(row.get(f.site)),
                   external_ref=None if ref is None else str(ref), state=row.get(names.state_field),
                   key=key)

    def create_body(self, order_no: str, site: str, external_ref: str, notes: str,
                    lines: list[RmaLineToCreate]) -> dict[str, Any]:
        f = self.names.rma
        return {f.order_no: order_no, f.site: site, f.external_ref: external_ref, f.notes: notes,
                self.names.lines_nav: [self._line_body(line) for line in lines]}

    def _line_body(self, line: RmaLineToCreate) -> dict[str, Any]:
        f = self.names.line
        return {f.line_no: line.line.line_no, f.rel_no: line.line.rel_no,
                f.line_item_no: line.line.line_item_no, f.part_no: line.part_no,
                f.qty: line.qty, f.action: self._action_values[line.action]}


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
