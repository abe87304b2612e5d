"""The customer order gateway: IFS orders, their lines and delivery address
as typed records. Every IFS name comes from the mapping (connector/ifs/names/
customer_orders.py); no flow needs to know one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.ifs import odata
from connector.ifs.client import IfsClient, Read
from connector.ifs.names.customer_orders import CustomerOrderNames


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

    def is_released(self, order: CustomerOrder) -> bool:
        return order.state == self.names.released_state

    def is_cancelled(self, order: CustomerOrder) -> bool:
        return order.state == self.names.cancelled_state

    def is_open(self, line: OrderLine) -> bool:
        """Still to be fulfilled: not closed and something left to ship."""
        return line.state not in self.names.closed_line_states and line.open_qty > 0

    def write_shipbob_ids(self, order: CustomerOrder, shipbob_ids: list[str]) -> None:
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
            order_no=str(row[f.order_no]), site=str(row.get(f.site) or ""), state=row.get(f.state),
            ship_via=row.get(f.ship_via), date_entered=row.get(f.date_entered),
            shipbob_ids=tuple(i for i in ids.split(",") if i), entity=row)

    def _line(self, row: dict[str, Any]) -> OrderLine:
        f = self.names.line
        return OrderLine(
            key=LineKey(str(row[f.line_no]), str(row[f.rel_no]), int(row.get(f.line_item_no) or 0)),
            part_no=str(row[f.part_no]), description=row.get(f.description),
            site=row.get(f.site) or None, qty_due=float(row.get(f.qty_due) or 0),
            qty_shipped=float(row.get(f.qty_shipped) or 0),
            qty_returned=float(row.get(f.qty_returned) or 0), state=row.get(f.state))

    def _address(self, row: dict[str, Any]) -> Address:
        f = self.names.address
        return Address(**{name: row.get(ifs) for name, ifs in f.model_dump().items() if name != "order_no"})
