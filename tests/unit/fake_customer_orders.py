"""An in-memory CustomerOrders gateway for the order flows' unit tests (no
tests here): the orders a test puts in, the gateway's queries answered from
them, every write recorded."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from connector.ifs.customer_orders import (
    Address,
    Cancellation,
    CustomerOrder,
    LineKey,
    OrderLine,
    OrderStamp,
    cancellation_applied,
)
from connector.ifs.names.customer_orders import CustomerOrderNames

ADDRESS = Address(name="Ada Lovelace", address1="1 Main St", address2=None, city="Chicago", state="IL",
                  zip_code="60607", country="US", email="ada@example.com", phone=None)


def stamp(ago: timedelta = timedelta(hours=1)) -> str:
    """An IFS change stamp `ago` before now, in whole seconds as IFS writes it."""
    return (datetime.now(timezone.utc) - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


def order(order_no: str, site: str = "S01", state: str = "Released", ids: Sequence[str] = ()) -> CustomerOrder:
    return CustomerOrder(order_no=order_no, site=site, state=state, ship_via="UPS-GND",
                         date_entered="2026-12-01T09:00:00Z", shipbob_ids=tuple(ids))


def line(no: int, part: str, qty: float, site: str | None = None, shipped: float = 0,
         state: str = "Released") -> OrderLine:
    return OrderLine(key=LineKey(str(no), "1", 0), part_no=part, description=f"Part {part}", site=site,
                     qty_due=qty, qty_shipped=shipped, qty_returned=0, state=state)


@dataclass
class Stored:
    order: CustomerOrder
    lines: list[OrderLine]
    address: Address | None
    changed: str | None


@dataclass
class FakeCustomerOrders:
    names: CustomerOrderNames = field(default_factory=CustomerOrderNames)
    stored: dict[str, Stored] = field(default_factory=dict)
    written: list[tuple[str, list[str]]] = field(default_factory=list)
    calls: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)
    fail_part_nos: Exception | None = None

    def add(self, order: CustomerOrder, lines: Iterable[OrderLine], address: Address | None = ADDRESS,
            changed: str | None = None) -> None:
        """`changed`: IFS's change stamp, an hour ago unless given."""
        self.stored[order.order_no] = Stored(order, list(lines), address, changed or stamp())

    def set_state(self, order_no: str, state: str) -> None:
        stored = self.stored[order_no]
        stored.order = dataclasses.replace(stored.order, state=state)

    def edit(self, order_no: str, *, lines: Iterable[OrderLine] | None = None, address: Address | None = None,
             ship_via: str | None = None) -> None:
        """A user's edit in IFS: what is given changes, and the change stamp moves."""
        stored = self.stored[order_no]
        if lines is not None:
            stored.lines = list(lines)
        if address is not None:
            stored.address = address
        if ship_via is not None:
            stored.order = dataclasses.replace(stored.order, ship_via=ship_via)
        stored.changed = _later(stored.changed)

    # the gateway's surface, as the flows use it

    def read(self, order_no: str) -> tuple[CustomerOrder, list[OrderLine], Address | None]:
        self.calls.append(("read", (order_no,)))
        stored = self.stored[order_no]
        return dataclasses.replace(stored.order, changed=stored.changed), list(stored.lines), stored.address

    def read_orders(self, order_nos: Sequence[str]) -> list[tuple[CustomerOrder, list[OrderLine], Address | None]]:
        return [self.read(no) for no in order_nos]

    def released_pushed_since(self, sites: Sequence[str], since: datetime | None) -> list[OrderStamp]:
        self.calls.append(("released_pushed_since", (list(sites), since)))
        found = [s for s in self.stored.values() if self.is_released(s.order) and s.order.site in sites
                 and s.order.shipbob_ids and (since is None or (s.changed and _at(s.changed) >= since))]
        return [OrderStamp(s.order.order_no, s.changed)
                for s in sorted(found, key=lambda s: (s.changed or "", s.order.order_no))]

    def lines(self, order_no: str) -> list[OrderLine]:
        return list(self.stored[order_no].lines)

    def released_unpushed_since(self, sites: Sequence[str], since: datetime,
                                until: datetime | None = None) -> list[OrderStamp]:
        self.calls.append(("released_unpushed_since", (list(sites), since, until)))
        found = [s for s in self._released_unpushed(sites) if s.changed and _at(s.changed) >= since
                 and (until is None or _at(s.changed) < until)]
        return [OrderStamp(s.order.order_no, s.changed)
                for s in sorted(found, key=lambda s: (s.changed or "", s.order.order_no))]

    def released_unpushed(self, sites: Sequence[str]) -> list[str]:
        self.calls.append(("released_unpushed", (list(sites),)))
        return sorted(s.order.order_no for s in self._released_unpushed(sites))

    def cancelled_since(self, sites: Sequence[str], since: datetime) -> list[str]:
        self.calls.append(("cancelled_since", (list(sites), since)))
        return sorted(s.order.order_no for s in self.stored.values()
                      if self.is_cancelled(s.order) and s.order.site in sites
                      and s.changed and _at(s.changed) >= since)

    def part_nos(self, order_nos: Iterable[str]) -> set[str]:
        wanted = list(order_nos)
        self.calls.append(("part_nos", (wanted,)))
        if self.fail_part_nos is not None:
            raise self.fail_part_nos
        return {ln.part_no for no in wanted for ln in self.stored[no].lines}

    def is_released(self, order: CustomerOrder) -> bool:
        return order.state == self.names.released_state

    def is_cancelled(self, order: CustomerOrder) -> bool:
        return order.state == self.names.cancelled_state

    def is_open(self, line: OrderLine) -> bool:
        return line.state not in self.names.closed_line_states and line.open_qty > 0

    def write_shipbob_ids(self, order: CustomerOrder, shipbob_ids: Sequence[str]) -> None:
        ids = list(shipbob_ids)
        self.written.append((order.order_no, ids))
        stored = self.stored[order.order_no]
        stored.order = dataclasses.replace(stored.order, shipbob_ids=tuple(ids))

    def _released_unpushed(self, sites: Sequence[str]) -> list[Stored]:
        return [s for s in self.stored.values()
                if self.is_released(s.order) and s.order.site in sites and not s.order.shipbob_ids]

    # line cancellation (connector/flows/shipment_cancel.py): the default
    # posting's rules: the check first, then the units cancelled as the IFS
    # sandbox does. `refuse_cancel` is raised instead; `lose_cancel_answer`
    # raises after the effect, once (an answer lost on the way back).

    cancels_applied: list[Cancellation] = field(default_factory=list)
    refuse_cancel: Exception | None = None
    lose_cancel_answer: Exception | None = None

    def cancel_lines(self, cancellation: Cancellation) -> None:
        self.calls.append(("cancel_lines", (cancellation,)))
        if self.refuse_cancel is not None:
            raise self.refuse_cancel
        stored = self.stored[cancellation.order_no]
        if self.cancellation_applied(cancellation, stored.lines):
            return
        wanted = {c.key: c.qty for c in cancellation.lines}
        stored.lines = [_cancelled(ln, wanted[ln.key]) if ln.key in wanted else ln for ln in stored.lines]
        self.cancels_applied.append(cancellation)
        if self.lose_cancel_answer is not None:
            lost, self.lose_cancel_answer = self.lose_cancel_answer, None
            raise lost

    def cancellation_applied(self, cancellation: Cancellation, lines: Iterable[OrderLine]) -> bool:
        return cancellation_applied(cancellation, lines, self.names)


def _cancelled(line: OrderLine, qty: float) -> OrderLine:
    if qty < line.open_qty:
        return dataclasses.replace(line, qty_due=line.qty_due - qty)
    if line.qty_shipped > 0:
        return dataclasses.replace(line, qty_due=line.qty_shipped, state="Delivered")
    return dataclasses.replace(line, state="Cancelled")


def _later(stamp: str | None) -> str:
    """A change stamp a second after `stamp` (IFS's stamps are whole seconds)."""
    base = _at(stamp) if stamp else datetime.now(timezone.utc)
    return (base + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
