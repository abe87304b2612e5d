"""IFS customer order -> ShipBob order(s). Pure functions, plain data.

One ShipBob order per (IFS order, site): each site maps to one fulfillment
center and a ShipBob order is pinned to one `location_id`. The lines at the
order's own site keep the IFS OrderNo as `reference_id`; lines at another
site get `<OrderNo>-<Site>`. Both are derived from IFS data alone, so a retry
always produces the same references (shared/api/shipbob.md §4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.errors import NeedsAttention
from connector.mappers.dates import shipbob_date_time
from connector.mapping import Mapping

_REQUIRED_ADDRESS = {"Name": "name", "Address1": "address1", "City": "city", "Country": "country"}
_SKIPPED_LINE_STATES = {"Cancelled", "Delivered", "Invoiced"}
ORDER_TAG = "ifs_order_no"  # on every ShipBob order the push creates: links it back to IFS


@dataclass(frozen=True)
class LineRef:
    """An IFS order line key plus what ShipBob knows it by."""

    line_no: str
    rel_no: str
    line_item_no: int
    sku: str
    quantity: float
    external_line_id: int

    def key(self) -> dict:
        return {"LineNo": self.line_no, "RelNo": self.rel_no, "LineItemNo": self.line_item_no}


@dataclass
class ShipBobOrderPlan:
    reference_id: str
    order_no: str
    site: str
    fulfillment_center_id: int
    body: dict
    lines: list[LineRef] = field(default_factory=list)


def reference_for(order_no: str, site: str, header_site: str) -> str:
    return order_no if site == header_site else f"{order_no}-{site}"


def open_lines(lines: list[dict]) -> list[dict]:
    return [
        line for line in lines
        if line.get("Objstate") not in _SKIPPED_LINE_STATES and _open_qty(line) > 0
    ]


def _open_qty(line: dict) -> float:
    return float(line.get("BuyQtyDue") or 0) - float(line.get("QtyShipped") or 0)


def recipient(address: dict | None, header: dict) -> dict:
    if not address:
        raise NeedsAttention(f"order {header['OrderNo']} has no delivery address")
    missing = [ifs for ifs in _REQUIRED_ADDRESS if not str(address.get(ifs) or "").strip()]
    if missing:
        raise NeedsAttention(
            f"order {header['OrderNo']} delivery address is missing {', '.join(missing)}"
        )
    country = str(address["Country"]).strip().upper()
    if len(country) != 2:
        raise NeedsAttention(f"order {header['OrderNo']} country {country!r} is not an ISO-2 code")
    return _drop_none({
        "name": address["Name"],
        "email": address.get("EmailAddress"),
        "phone_number": address.get("PhoneNo"),
        "address": _drop_none({
            "address1": address["Address1"],
            "address2": address.get("Address2"),
            "city": address["City"],
            "state": address.get("State"),
            "zip_code": address.get("ZipCode"),
            "country": country,
        }),
    })


def plan_orders(
    header: dict,
    lines: list[dict],
    address: dict | None,
    mapping: Mapping,
    known_skus: set[str],
) -> list[ShipBobOrderPlan]:
    """Map one IFS order; every business problem found is reported at once."""
    order_no = header["OrderNo"]
    problems: list[str] = []
    try:
        to = recipient(address, header)
    except NeedsAttention as exc:
        problems.append(exc.reason)
        to = {}
    try:
        # Edm.Date or Edm.DateTimeOffset, whichever the tenant has: ShipBob wants a date-time.
        purchase_date = shipbob_date_time(header.get("DateEntered"))
    except ValueError as exc:
        problems.append(f"DateEntered: {exc}")
        purchase_date = None
    ship_via = header.get("ShipViaCode")
    method = mapping.ship_via.get(ship_via or "")
    if method is None:
        problems.append(f"ship-via {ship_via!r} has no ShipBob shipping method in the mapping")

    groups: dict[str, list[tuple[dict, str]]] = {}
    for line in open_lines(lines):
        site = line.get("Contract") or header["Contract"]
        label = f"line {line['LineNo']}/{line['RelNo']}"
        if site not in mapping.sites:
            problems.append(f"{label} is at site {site!r}, which has no fulfillment center in the mapping")
            continue
        sku = mapping.sku_for(line["PartNo"])
        if sku is None:
            problems.append(f"{label} part {line['PartNo']!r} has no SKU in the mapping")
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
        refs = [
            LineRef(str(line["LineNo"]), str(line["RelNo"]), int(line.get("LineItemNo") or 0),
                    sku, _open_qty(line), index)
            for index, (line, sku) in enumerate(site_lines, start=1)
        ]
        reference_id = reference_for(order_no, site, header["Contract"])
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
                    "name": line.get("CatalogDesc") or ref.sku,
                    "quantity": _whole(ref.quantity, order_no, ref),
                    "external_line_id": ref.external_line_id,
                })
                for ref, (line, _sku) in zip(refs, site_lines)
            ],
            "tags": [{"name": ORDER_TAG, "value": order_no}],
        })
        plans.append(ShipBobOrderPlan(reference_id, order_no, site, mapping.sites[site], body, refs))
    return plans


def _whole(quantity: float, order_no: str, ref: LineRef) -> int:
    if quantity != int(quantity):
        raise NeedsAttention(
            f"order {order_no} line {ref.line_no}/{ref.rel_no} quantity {quantity} is not whole"
        )
    return int(quantity)


def _drop_none(values: dict) -> dict:
    return {k: v for k, v in values.items() if v is not None}


def tagged_ifs_order_no(order: dict) -> str | None:
    """The IFS order a ShipBob order was created for, read from the tag the
    push gives it (None: not created by this connector)."""
    return next((str(tag.get("value")) for tag in order.get("tags") or []
                 if tag.get("name") == ORDER_TAG and tag.get("value")), None)
