"""The customer order gateway: IFS orders, their lines and delivery address
as typed records. Every IFS name comes from the mapping (connector/ifs/names/
customer_orders.py); no flow needs to know one."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from connector.errors import ConfigError, NeedsAttention
from connector.ifs import odata
from connector.ifs.client import IfsClient, Read
from connector.ifs.names.customer_orders import CustomerOrderNames
from connector.ifs.posting import load_class


@dataclass(frozen=True, order=True)
class LineKey:
    line_no: str
    rel_no: str
    line_item_no: int

    def label(self) -> str:
        return f"{self.line_no}/{self.rel_no}"


@dataclass(frozen=True)
class OrderLine:
    key: LineKey
    part_no: str
    description: str | None
    site: str | None  # None: the order's own site
    qty_due: float
    qty_shipped: float
    qty_returned: float
    state: str | None

    @property
    def open_qty(self) -> float:
        return self.qty_due - self.qty_shipped

    @property
    def returnable_qty(self) -> float:
        return self.qty_shipped - self.qty_returned


@dataclass(frozen=True)
class Address:
    name: str | None
    address1: str | None
    address2: str | None
    city: str | None
    state: str | None
    zip_code: str | None
    country: str | None
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class CustomerOrder:
    order_no: str
    site: str
    state: str | None
    ship_via: str | None
    date_entered: str | None  # as IFS sent it: Edm.Date or Edm.DateTimeOffset
    shipbob_ids: tuple[str, ...]
    # The entity as read by key, ETag included: saves a GET before a write.
    entity: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    # IFS's change stamp (the mapping's `changed_field`) as IFS sent it.
    changed: str | None = None


@dataclass(frozen=True)
class OrderStamp:
    """An order the poll found, with IFS's own change stamp: the poll's cursor
    (IFS's clock, not ours), kept as IFS sent it."""

    order_no: str
    changed: str | None


# Orders per `$filter` of a multi-order query: keeps the URL near 2 KB.
ORDERS_PER_FILTER = 50
# Orders per `$batch` of `read_orders` (three reads each).
ORDERS_PER_BATCH = 30


class CustomerOrders:
    def __init__(self, ifs: IfsClient, names: CustomerOrderNames):
        self._ifs = ifs
        self.names = names

    def _path(self, order_no: str) -> str:
        return odata.key_path(self.names.order_set, **{self.names.order.order_no: order_no})

    def read(self, order_no: str) -> tuple[CustomerOrder, list[OrderLine], Address | None]:
        """Header (with its ETag), lines and delivery address in one round trip."""
        names = self.names
        path = self._path(order_no)
        header, lines, addresses = self._ifs.read_many(names.projection, [
            Read(path), Read(f"{path}/{names.lines_nav}"),
            Read(names.address_set, filter=odata.eq(names.address.order_no, order_no))])
        address = next(iter(addresses), None)
        return (self._order(header), [self._line(row) for row in lines],
                self._address(address) if address else None)

    def lines(self, order_no: str) -> list[OrderLine]:
        names = self.names
        return [self._line(row) for row in self._ifs.query(
            names.projection, f"{self._path(order_no)}/{names.lines_nav}")]

    # --------------------------------------------------------------- queries

    def released_unpushed_since(self, sites: Sequence[str], since: datetime,
                                until: datetime | None = None) -> list[OrderStamp]:
        """Released orders of `sites` without ShipBob ids, changed at or after
        `since` (and before `until`), oldest first. Ordered by the change
        stamp, then the key: a total order, so paging skips nothing. Every page
        is read before returning (no transaction stays open across calls)."""
        names, f = self.names, self.names.order
        # Pushed orders are not read again on every poll (the date narrows first).
        clauses = [self._state_is(names.released_state), odata.any_of(f.site, sites),
                   odata.ge(names.changed_field, since), odata.eq(names.shipbob_id_field, None)]
        if until is not None:
            clauses.append(odata.lt(names.changed_field, until))
        rows = self._ifs.query(names.projection, names.order_set, filter=odata.and_(*clauses),
                               select=[f.order_no, names.changed_field],
                               orderby=[f"{names.changed_field} asc", f"{f.order_no} asc"])
        return [OrderStamp(_required(row, f.order_no), _text(row.get(names.changed_field))) for row in rows]

    def released_pushed_since(self, sites: Sequence[str], since: datetime | None) -> list[OrderStamp]:
        """Released orders of `sites` that carry ShipBob ids, changed at or
        after `since` (None: all of them), oldest change first: the orders
        whose edits may still have to reach ShipBob. Only as good as the
        change stamp: a `changed_field` that moves on every edit of the order,
        its lines and its address sees every edit (README: "Edits after the
        push")."""
        names, f = self.names, self.names.order
        clauses = [self._state_is(names.released_state), odata.any_of(f.site, sites),
                   odata.ge(names.changed_field, since) if since is not None else None,
                   odata.ne(names.shipbob_id_field, None)]
        rows = self._ifs.query(names.projection, names.order_set, filter=odata.and_(*clauses),
                               select=[f.order_no, names.changed_field],
                               orderby=[f"{names.changed_field} asc", f"{f.order_no} asc"])
        return [OrderStamp(_required(row, f.order_no), _text(row.get(names.changed_field))) for row in rows]

    def read_orders(self, order_nos: Sequence[str]) -> list[tuple[CustomerOrder, list[OrderLine], Address | None]]:
        """`read` for many orders: ORDERS_PER_BATCH orders per `$batch` round
        trip, in the order asked."""
        names = self.names
        out = []
        for start in range(0, len(order_nos), ORDERS_PER_BATCH):
            reads = []
            for order_no in order_nos[start:start + ORDERS_PER_BATCH]:
                path = self._path(order_no)
                reads += [Read(path), Read(f"{path}/{names.lines_nav}"),
                          Read(names.address_set, filter=odata.eq(names.address.order_no, order_no))]
            answers = self._ifs.read_many(names.projection, reads)
            for at in range(0, len(answers), 3):
                header, lines, addresses = answers[at:at + 3]
                address = next(iter(addresses), None)
                out.append((self._order(header), [self._line(row) for row in lines],
                            self._address(address) if address else None))
        return out

    def released_unpushed(self, sites: Sequence[str]) -> list[str]:
        """The numbers of every released order of `sites` without ShipBob ids
        (slow on a large tenant: it filters on the custom id field)."""
        names = self.names
        return self._order_nos(self._state_is(names.released_state), odata.any_of(names.order.site, sites),
                               odata.eq(names.shipbob_id_field, None))

    def cancelled_since(self, sites: Sequence[str], since: datetime) -> list[str]:
        """The numbers of the cancelled orders of `sites` changed at or after
        `since`, whether or not they carry ShipBob ids."""
        names = self.names
        return self._order_nos(self._state_is(names.cancelled_state), odata.any_of(names.order.site, sites),
                               odata.ge(names.changed_field, since))

    def released(self, sites: Sequence[str], since: datetime | None = None) -> list[CustomerOrder]:
        """Every released order of `sites` (changed at or after `since`), in
        key order, with its ShipBob ids: what `reconcile` compares."""
        names, f = self.names, self.names.order
        rows = self._ifs.query(
            names.projection, names.order_set,
            filter=odata.and_(self._state_is(names.released_state), odata.any_of(f.site, sites),
                              odata.ge(names.changed_field, since) if since else None),
            select=[f.order_no, f.site, f.state, names.shipbob_id_field], orderby=[f"{f.order_no} asc"])
        return [self._order(row) for row in rows]

    def part_nos(self, order_nos: Iterable[str]) -> set[str]:
        """The parts on the lines of these orders: one query per
        ORDERS_PER_FILTER orders."""
        f = self.names.line
        wanted = list(order_nos)
        parts: set[str] = set()
        for start in range(0, len(wanted), ORDERS_PER_FILTER):
            chunk = wanted[start:start + ORDERS_PER_FILTER]
            parts.update(_required(row, f.part_no) for row in self._ifs.query(
                self.names.projection, self.names.line_set, filter=odata.any_of(f.order_no, chunk),
                select=[f.part_no]))
        return parts

    def _order_nos(self, *clauses: str) -> list[str]:
        key = self.names.order.order_no
        return [_required(row, key) for row in self._ifs.query(
            self.names.projection, self.names.order_set, filter=odata.and_(*clauses),
            select=[key], orderby=[f"{key} asc"])]

    def _state_is(self, member: str) -> str:
        names = self.names
        return odata.eq(names.order.state, odata.enum_literal(names.projection, names.state_enum, member))

    # ------------------------------------------------------------ decisions

    def is_released(self, order: CustomerOrder) -> bool:
        return order.state == self.names.released_state

    def is_cancelled(self, order: CustomerOrder) -> bool:
        return order.state == self.names.cancelled_state

    def is_open(self, line: OrderLine) -> bool:
        """Still to be fulfilled: not closed and something left to ship."""
        return line.state not in self.names.closed_line_states and line.open_qty > 0

    # ---------------------------------------------------------------- writes

    def write_shipbob_ids(self, order: CustomerOrder, shipbob_ids: Sequence[str]) -> None:
        """Write the ShipBob order ids back (comma-joined: one custom text
        field), under the ETag; nothing is sent when they are there already."""
        field_name = self.names.shipbob_id_field
        value = ",".join(shipbob_ids)

        def apply(entity: dict[str, Any]) -> dict[str, Any] | None:
            return None if entity.get(field_name) == value else {field_name: value}

        self._ifs.update(self.names.projection, self._path(order.order_no), apply,
                         current=order.entity or None)

    # ------------------------------------------------------------- records

    def _order(self, row: dict[str, Any]) -> CustomerOrder:
        f = self.names.order
        ids = str(row.get(self.names.shipbob_id_field) or "")
        return CustomerOrder(
            order_no=_required(row, f.order_no), site=str(row.get(f.site) or ""), state=_text(row.get(f.state)),
            ship_via=_text(row.get(f.ship_via)), date_entered=_text(row.get(f.date_entered)),
            shipbob_ids=tuple(i for i in ids.split(",") if i), entity=row,
            changed=_text(row.get(self.names.changed_field)))

    def _line(self, row: dict[str, Any]) -> OrderLine:
        f = self.names.line
        return OrderLine(
            key=LineKey(_required(row, f.line_no), _required(row, f.rel_no), int(row.get(f.line_item_no) or 0)),
            part_no=_required(row, f.part_no), description=row.get(f.description),
            site=row.get(f.site) or None, qty_due=float(row.get(f.qty_due) or 0),
            qty_shipped=float(row.get(f.qty_shipped) or 0),
            qty_returned=float(row.get(f.qty_returned) or 0), state=row.get(f.state))

    def _address(self, row: dict[str, Any]) -> Address:
        f = self.names.address
        return Address(**{name: row.get(ifs) for name, ifs in f.model_dump().items() if name != "order_no"})

    # ------------------------------------------------- line cancellation

    def cancel_lines(self, cancellation: Cancellation) -> None:
        """Cancel what a ShipBob cancellation left open, at most once: the
        mapping's posting step (`line_cancel.posting`) checks right before
        it writes that IFS does not show the effect already."""
        self._line_cancelling.cancel(cancellation)

    def cancellation_applied(self, cancellation: Cancellation, lines: Iterable[OrderLine]) -> bool:
        """Whether `lines` (the order's, read now) show the cancellation."""
        return cancellation_applied(cancellation, lines, self.names)

    @functools.cached_property
    def _line_cancelling(self) -> LineCancelling:
        # Built on first use: a mistake in it stops cancellations, not pushes.
        return _build_line_cancelling(self._ifs, self.names)


def _required(row: dict[str, Any], name: str) -> str:
    """A key or part number: without it the row cannot be used, and the
    likely cause is a mapping name this tenant does not have."""
    value = row.get(name)
    if value is None or value == "":
        raise NeedsAttention(f"IFS sent a customer order row without {name!r}: check the "
                             "mapping's ifs.customer_order names (`ifs-shipbob doctor`)")
    return str(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# ------------------------------------------------------ line cancellation

LINE_CANCEL_SETTING = "customer_order.line_cancel.posting"
# Quantities compare within this: IFS sends decimals.
QTY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class LineCancel:
    """Units of one order line to cancel. `due_before` is the line's
    quantity due when the cancellation was planned: how a retry tells that
    it landed."""

    key: LineKey
    qty: float
    due_before: float


@dataclass(frozen=True)
class Cancellation:
    """The IFS side of one shipment cancelled at ShipBob."""

    order_no: str
    external_ref: str  # the ShipBob shipment id
    lines: tuple[LineCancel, ...]


class LineCancelling(Protocol):
    """Cancels order lines in IFS, at most once.

    IFS actions are not idempotent and have no idempotency key, so an
    implementation checks right before it writes that the effect is not
    there already (`CustomerOrders.cancellation_applied` on lines read
    then). After `cancel` returns, the order's lines show the cancellation.
    The class is built as `Class(ifs, names)`: the IFS client and the
    mapping's `ifs.customer_order` names."""

    def cancel(self, cancellation: Cancellation) -> None: ...


class CancelLinesAction:
    """The default: the bound action `line_cancel.action` on the customer
    order, under If-Match, cancelling each line's quantity in one call.
    Skipped when the order's lines, read right after its ETag, show the
    cancellation already."""

    def __init__(self, ifs: IfsClient, names: CustomerOrderNames):
        self._ifs = ifs
        self._names = names

    def cancel(self, cancellation: Cancellation) -> None:
        names = self._names
        path = odata.key_path(names.order_set, **{names.order.order_no: cancellation.order_no})

        def applied(_order: dict[str, Any]) -> bool:
            lines = CustomerOrders(self._ifs, names).lines(cancellation.order_no)
            return cancellation_applied(cancellation, lines, names)

        self._ifs.bound_action(names.projection, path, names.line_cancel.action,
                               cancel_body(cancellation, names), check=applied)


def cancellation_applied(cancellation: Cancellation, lines: Iterable[OrderLine],
                         names: CustomerOrderNames) -> bool:
    """Each line to cancel is closed, or its quantity due is down by the
    cancelled units since the cancellation was planned."""
    by_key = {line.key: line for line in lines}
    for wanted in cancellation.lines:
        line = by_key.get(wanted.key)
        if line is None:
            return False
        if line.state not in names.closed_line_states and \
                line.qty_due > wanted.due_before - wanted.qty + QTY_TOLERANCE:
            return False
    return True


def cancel_body(cancellation: Cancellation, names: CustomerOrderNames) -> dict[str, Any]:
    """The cancellation action's parameters (None values are not sent)."""
    cancel = names.line_cancel
    p, f = cancel.params, cancel.line
    return {
        p.reason: cancel.reason,
        p.lines: [{f.line_no: line.key.line_no, f.rel_no: line.key.rel_no,
                   f.line_item_no: line.key.line_item_no, f.qty: _number(line.qty)}
                  for line in cancellation.lines],
    }


def _build_line_cancelling(ifs: IfsClient, names: CustomerOrderNames) -> LineCancelling:
    posting_class = load_class(names.line_cancel.posting, LINE_CANCEL_SETTING)
    try:
        posting: LineCancelling = posting_class(ifs, names)
    except TypeError as exc:
        raise ConfigError(f"mapping ifs.{LINE_CANCEL_SETTING}: {names.line_cancel.posting} cannot be "
                          f"built as Class(ifs, names): {exc}") from None
    if not callable(getattr(posting, "cancel", None)):
        raise ConfigError(f"mapping ifs.{LINE_CANCEL_SETTING}: {names.line_cancel.posting} has no "
                          "cancel(cancellation) method")
    return posting


def _number(qty: float) -> int | float:
    """Whole quantities as integers, as IFS shows them."""
    return int(qty) if float(qty).is_integer() else qty
