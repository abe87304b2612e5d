"""The delivery gateway: ShipBob shipments posted to IFS as deliveries, and
the vouchers that record them, as typed records. Every IFS name comes from
the mapping (connector/ifs/names/deliveries.py); no flow needs to know one.

Posting a delivery is the step IFS releases and tenants differ on: one bound
action here, IFS's own shipment process (reserve, pick list, report picking,
deliver) there. It is the `DeliveryPosting` protocol; the mapping's
`ifs.fulfillment.posting` names the class (`package.module:Class`), by
default `RegisterFulfillmentAction`. docs/posting-example.md shows a
tenant's own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Iterator, Protocol

from connector.errors import ConfigError, TransientError
from connector.ifs import odata
from connector.ifs.client import IfsClient, Read
from connector.ifs.customer_orders import LineKey
from connector.ifs.names.customer_orders import CustomerOrderNames
from connector.ifs.names.deliveries import FulfillmentNames
from connector.ifs.posting import load_class

POSTING_SETTING = "fulfillment.posting"
VOUCHER_LINE_READS = 50  # voucher line navigations read per $batch call


# ------------------------------------------------------------------ records

@dataclass(frozen=True)
class DeliveryLine:
    """Units delivered on one customer order line."""

    key: LineKey
    qty: float


@dataclass(frozen=True)
class Delivery:
    """One ShipBob shipment, to be posted against its IFS customer order."""

    order_no: str
    external_ref: str  # the ShipBob shipment id: how IFS finds the delivery again
    shipment_ref: str  # the ShipBob order id
    carrier: str | None
    tracking_no: str | None
    tracking_url: str | None
    ship_date: str | None  # YYYY-MM-DD
    lines: tuple[DeliveryLine, ...]


@dataclass(frozen=True)
class Voucher:
    """The IFS record of a posted delivery."""

    key: str
    external_ref: str | None
    carrier: str | None
    tracking_no: str | None
    tracking_url: str | None
    delivered_date: str | None
    # The row as IFS sent it (with its ETag when read by key).
    entity: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True)
class VoucherChanges:
    """What to write on a voucher; None leaves a field as it is."""

    carrier: str | None = None
    tracking_no: str | None = None
    tracking_url: str | None = None
    delivered_date: str | None = None

    def fields(self) -> dict[str, str]:
        """Record attribute -> new value, for the fields that change."""
        return {name: value for name, value in asdict(self).items() if value is not None}


# --------------------------------------------------------- the posting step

class DeliveryPosting(Protocol):
    """Posts one delivery to IFS, at most once.

    IFS actions are not idempotent and have no idempotency key, so an
    implementation checks right before it writes that the effect is not
    there already (an earlier try whose answer was lost, another worker).
    After `post` returns, `Deliveries.find(delivery.external_ref)` must find
    the voucher. The class is built as `Class(ifs, names, orders)`: the IFS
    client, the mapping's `ifs.fulfillment` and `ifs.customer_order` names.
    """

    def post(self, delivery: Delivery) -> None: ...


class RegisterFulfillmentAction:
    """The default posting: the bound action `names.action` on the customer
    order, under If-Match, which delivers the lines and creates the voucher
    in one call. Skipped when a voucher with the delivery's external
    reference exists, checked on every read of the order's ETag."""

    def __init__(self, ifs: IfsClient, names: FulfillmentNames, orders: CustomerOrderNames):
        self._ifs = ifs
        self._names = names
        self._orders = orders

    def post(self, delivery: Delivery) -> None:
        orders = self._orders
        path = odata.key_path(orders.order_set, **{orders.order.order_no: delivery.order_no})
        self._ifs.bound_action(
            orders.projection, path, self._names.action, action_body(delivery, self._names),
            check=lambda _order: find_voucher(self._ifs, self._names, delivery.external_ref) is not None)


# ---------------------------------------------------------------- gateway

class Deliveries:
    def __init__(self, ifs: IfsClient, names: FulfillmentNames, orders: CustomerOrderNames):
        self._ifs = ifs
        self.names = names
        self.posting = _build_posting(ifs, names, orders)

    def find(self, external_ref: str) -> Voucher | None:
        """The voucher IFS holds for a delivery, by its external reference."""
        return find_voucher(self._ifs, self.names, external_ref)

    def post(self, delivery: Delivery) -> Voucher:
        """Post the delivery (unless IFS has it already) and return its voucher."""
        self.posting.post(delivery)
        voucher = self.find(delivery.external_ref)
        if voucher is None:
            raise TransientError(f"IFS accepted the delivery for shipment {delivery.external_ref} "
                                 "but does not list its voucher yet")
        return voucher

    def update(self, key: str, changes: Callable[[Voucher], VoucherChanges | None]) -> bool:
        """Read the voucher by key and write what `changes` asks for, under
        its ETag (re-read and re-asked on a conflict). False: nothing to write."""
        names = self.names

        def apply(entity: dict[str, Any]) -> dict[str, Any] | None:
            wanted = changes(voucher_record(entity, names))
            return changes_body(wanted, names) if wanted else None

        return self._ifs.update(names.voucher_projection, voucher_path(key, names), apply) is not None

    def vouchers(self) -> Iterator[Voucher]:
        """Every voucher, in key order."""
        names = self.names
        for row in self._ifs.query(names.voucher_projection, names.voucher_set,
                                   orderby=[f"{names.voucher_key} asc"]):
            yield voucher_record(row, names)

    def booked_quantities(self, keys: Iterable[str]) -> dict[str, float]:
        """Voucher key -> units on its lines. The lines are a collection
        navigation, which no collection read carries (OData inlines a
        navigation only on $expand, and IFS expands one-to-one navigations
        only), so each voucher's is read through the navigation,
        VOUCHER_LINE_READS of them per $batch call."""
        names = self.names
        unique = list(dict.fromkeys(keys))
        booked: dict[str, float] = {}
        for start in range(0, len(unique), VOUCHER_LINE_READS):
            chunk = unique[start:start + VOUCHER_LINE_READS]
            reads = [Read(f"{voucher_path(key, names)}/{names.voucher_lines_nav}") for key in chunk]
            for key, lines in zip(chunk, self._ifs.read_many(names.voucher_projection, reads)):
                booked[key] = sum(float(line.get(names.voucher_line_qty_field) or 0) for line in lines)
        return booked

    def field_names(self, changes: VoucherChanges) -> list[str]:
        """The tenant's names of the fields `changes` writes, sorted (for reports)."""
        return sorted(changes_body(changes, self.names))


# ------------------------------------------- IFS rows <-> records (pure)

def voucher_record(row: dict[str, Any], names: FulfillmentNames) -> Voucher:
    f = names.voucher
    return Voucher(
        key=str(row[names.voucher_key]), external_ref=_text(row.get(f.external_ref)),
        carrier=row.get(f.carrier), tracking_no=row.get(f.tracking_no),
        tracking_url=row.get(f.tracking_url), delivered_date=row.get(f.delivered_date), entity=row)


def changes_body(changes: VoucherChanges, names: FulfillmentNames) -> dict[str, str]:
    """The PATCH body: the tenant's field names."""
    ifs_names = names.voucher.model_dump()
    return {ifs_names[name]: value for name, value in changes.fields().items()}


def action_body(delivery: Delivery, names: FulfillmentNames) -> dict[str, Any]:
    """The delivery action's parameters (None values are not sent)."""
    p, f = names.params, names.line
    return {
        p.external_ref: delivery.external_ref,
        p.shipment_ref: delivery.shipment_ref,
        p.carrier: delivery.carrier,
        p.tracking_no: delivery.tracking_no,
        p.tracking_url: delivery.tracking_url,
        p.ship_date: delivery.ship_date,
        p.lines: [{f.line_no: line.key.line_no, f.rel_no: line.key.rel_no,
                   f.line_item_no: line.key.line_item_no, f.qty: _number(line.qty)}
                  for line in delivery.lines],
    }


def voucher_path(key: str, names: FulfillmentNames) -> str:
    value: str | int = key
    if names.voucher_key_numeric:
        try:
            value = int(key)
        except ValueError:
            raise ConfigError(f"mapping ifs.fulfillment.voucher_key_numeric is set, but voucher key "
                              f"{key!r} is not a number") from None
    return odata.key_path(names.voucher_set, **{names.voucher_key: value})


def find_voucher(ifs: IfsClient, names: FulfillmentNames, external_ref: str) -> Voucher | None:
    rows = ifs.query(names.voucher_projection, names.voucher_set,
                     filter=odata.eq(names.voucher.external_ref, external_ref))
    row = next(iter(rows), None)
    return voucher_record(row, names) if row is not None else None


def _build_posting(ifs: IfsClient, names: FulfillmentNames, orders: CustomerOrderNames) -> DeliveryPosting:
    posting_class = load_class(names.posting, POSTING_SETTING)
    try:
        posting: DeliveryPosting = posting_class(ifs, names, orders)
    except TypeError as exc:
        raise ConfigError(f"mapping ifs.{POSTING_SETTING}: {names.posting} cannot be built as "
                          f"Class(ifs, names, orders): {exc}") from None
    if not callable(getattr(posting, "post", None)):
        raise ConfigError(f"mapping ifs.{POSTING_SETTING}: {names.posting} has no post(delivery) method")
    return posting


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(qty: float) -> int | float:
    """Whole quantities as integers, as IFS shows them."""
    return int(qty) if float(qty).is_integer() else qty
