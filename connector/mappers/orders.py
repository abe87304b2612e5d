"""IFS customer order -> ShipBob order(s). Pure functions, typed records.

One ShipBob order per (IFS order, site): each site maps to one fulfillment
center and a ShipBob order is pinned to one `location_id`. The lines at the
order's own site keep the IFS order number as `reference_id`; lines at another
site get `<OrderNo>-<Site>`. Both are derived from IFS data alone, so a retry
always produces the same references (README: "Exactly once under takeover").
"""

from __future__ import annotations

from collections.abc import Mapping as AnyMapping
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.errors import NeedsAttention
from connector.ifs.customer_orders import Address, CustomerOrder, LineKey, OrderLine
from connector.mappers.dates import shipbob_date_time
from connector.mapping import Mapping

# What ShipBob cannot ship without, named as an operator reads it.
_REQUIRED_ADDRESS = {"name": "name", "address1": "address line 1", "city": "city", "country": "country"}
ORDER_TAG = "ifs_order_no"  # on every ShipBob order the push creates: links it back to IFS


@dataclass(frozen=True)
class LineRef:
    """An IFS order line plus what ShipBob knows it by. The line's key is
    kept flat: the order binding stores `dataclasses.asdict` of each LineRef
    (keys line_no, rel_no, line_item_no, sku, quantity, external_line_id)."""

    line_no: str
    rel_no: str
    line_item_no: int
    sku: str
    quantity: float
    external_line_id: int

    @classmethod
    def of(cls, key: LineKey, sku: str, quantity: float, external_line_id: int) -> LineRef:
        return cls(key.line_no, key.rel_no, key.line_item_no, sku, quantity, external_line_id)

    @classmethod
    def from_data(cls, data: AnyMapping[str, Any]) -> LineRef:
        """A LineRef as an order binding stored it."""
        return cls(str(data["line_no"]), str(data["rel_no"]), int(data.get("line_item_no") or 0),
                   str(data["sku"]), float(data["quantity"]), int(data["external_line_id"]))

    @property
    def key(self) -> LineKey:
        return LineKey(self.line_no, self.rel_no, self.line_item_no)


@dataclass
class ShipBobOrderPlan:
    reference_id: str
    order_no: str
    site: str
    fulfillment_center_id: int
    body: dict[str, Any]
    lines: list[LineRef] = field(default_factory=list)
    ifs_changed: str | None = None  # the IFS order's change stamp the plan was made from


def reference_for(order_no: str, site: str, header_site: str) -> str:
    return order_no if site == header_site else f"{order_no}-{site}"


def site_of(line: OrderLine, order: CustomerOrder) -> str:
    """A line without a site of its own ships from the order's site."""
    return line.site or order.site


def recipient(address: Address | None, order_no: str) -> dict[str, Any]:
    if not address:
        raise NeedsAttention(f"order {order_no} has no delivery address")
    missing = [label for name, label in _REQUIRED_ADDRESS.items()
               if not str(getattr(address, name) or "").strip()]
    if missing:
        raise NeedsAttention(f"order {order_no} delivery address is missing {', '.join(missing)}")
    country = str(address.country).strip().upper()
    if len(country) != 2:
        raise NeedsAttention(f"order {order_no} country {country!r} is not an ISO-2 code")
    return _drop_none({
        "name": address.name,
        "email": address.email,
        "phone_number": address.phone,
        "address": _drop_none({
            "address1": address.address1,
            "address2": address.address2,
            "city": address.city,
            "state": address.state,
            "zip_code": address.zip_code,
            "country": country,
        }),
    })


def plan_orders(
    order: CustomerOrder,
    open_lines: Sequence[OrderLine],
    address: Address | None,
    mapping: Mapping,
    known_skus: set[str],
) -> list[ShipBobOrderPlan]:
    """Map one IFS order; every business problem found is reported at once.
    `open_lines`: the lines still to fulfil (CustomerOrders.is_open); each
    is sent with its open quantity."""
    order_no = order.order_no
    problems: list[str] = []
    try:
        to = recipient(address, order_no)
    except NeedsAttention as exc:
        problems.append(exc.reason)
        to = {}
    try:
        # Edm.Date or Edm.DateTimeOffset, whichever the tenant has: ShipBob wants a date-time.
        purchase_date = shipbob_date_time(order.date_entered)
    except ValueError as exc:
        problems.append(f"order date: {exc}")
        purchase_date = None
    method = mapping.ship_via.get(order.ship_via or "")
    if method is None:
        problems.append(f"ship-via {order.ship_via!r} has no ShipBob shipping method in the mapping")

    groups: dict[str, list[tuple[OrderLine, str]]] = {}
    for line in open_lines:
        site = site_of(line, order)
        label = f"line {line.key.label()}"
        if site not in mapping.sites:
            problems.append(f"{label} is at site {site!r}, which has no fulfillment center in the mapping")
            continue
        sku = mapping.sku_for(line.part_no)
        if sku is None:
            problems.append(f"{label} part {line.part_no!r} has no SKU in the mapping")
        elif sku not in known_skus:
            problems.append(f"{label} SKU {sku!r} is unknown at ShipBob")
        else:
            groups.setdefault(site, []).append((line, sku))
    if not groups and not problems:
        problems.append(f"order {order_no} has no open lines to fulfil")
    if problems:
        raise NeedsAttention("; ".join(problems))

    plans = []
    for site, site_lines in sorted(groups.items()):
        refs = [LineRef.of(line.key, sku, line.open_qty, index)
                for index, (line, sku) in enumerate(site_lines, start=1)]
        reference_id = reference_for(order_no, site, order.site)
        body = _drop_none({
            "reference_id": reference_id,
            "order_number": reference_id,
            "type": mapping.order_type,
            "shipping_method": method,
            "location_id": mapping.sites[site],
            "purchase_date": purchase_date,
            "recipient": to,
            "products": [
                _drop_none({
                    "reference_id": ref.sku,
                    "name": line.description or ref.sku,
                    "quantity": _whole(ref.quantity, order_no, ref),
                    "external_line_id": ref.external_line_id,
                })
                for ref, (line, _sku) in zip(refs, site_lines)
            ],
            "tags": [{"name": ORDER_TAG, "value": order_no}],
        })
        plans.append(ShipBobOrderPlan(reference_id, order_no, site, mapping.sites[site], body, refs,
                                      order.changed))
    return plans


def _whole(quantity: float, order_no: str, ref: LineRef) -> int:
    if quantity != int(quantity):
        raise NeedsAttention(
            f"order {order_no} line {ref.key.label()} quantity {quantity} is not whole"
        )
    return int(quantity)


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def tagged_ifs_order_no(order: AnyMapping[str, Any]) -> str | None:
    """The IFS order a ShipBob order was created for, read from the tag the
    push gives it (None: not created by this connector)."""
    return next((str(tag.get("value")) for tag in order.get("tags") or []
                 if tag.get("name") == ORDER_TAG and tag.get("value")), None)
