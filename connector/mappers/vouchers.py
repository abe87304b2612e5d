"""ShipBob shipment -> IFS delivery and voucher changes, as the delivery
gateway's records (connector/ifs/deliveries.py). Pure functions."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from connector.errors import NeedsAttention
from connector.ifs.customer_orders import LineKey
from connector.ifs.deliveries import Delivery, DeliveryLine, Voucher, VoucherChanges

SHIPPED = "Completed"
HELD = {"Exception", "OnHold"}


def shipped_quantities(shipment: dict[str, Any]) -> dict[str, int]:
    """SKU -> units in the shipment (inventory items carry the quantities)."""
    totals: dict[str, int] = defaultdict(int)
    for product in shipment.get("products") or []:
        sku = product.get("reference_id") or product.get("sku")
        items = product.get("inventory_items") or []
        totals[sku] += sum(int(item.get("quantity") or 0) for item in items)
    return {sku: qty for sku, qty in totals.items() if qty > 0}


def allocate(shipment_id: int, quantities: dict[str, int], lines: list[dict[str, Any]],
             open_qty: dict[LineKey, float]) -> list[DeliveryLine]:
    """Spread each SKU's shipped units over the order lines carrying it, in
    line order, never beyond a line's open quantity.

    `lines` are the bound LineRef dicts of the ShipBob order; `open_qty` maps
    an order line key to what IFS still has to ship.
    """
    left = dict(open_qty)
    allocated: list[DeliveryLine] = []
    for sku, qty in sorted(quantities.items()):
        remaining: float = qty
        for line in (ln for ln in lines if ln["sku"] == sku):
            key = LineKey(line["line_no"], line["rel_no"], line["line_item_no"])
            take = min(remaining, left.get(key, 0))
            if take > 0:
                allocated.append(DeliveryLine(key, take))
                left[key] -= take
                remaining -= take
        if remaining > 0:
            raise NeedsAttention(
                f"shipment {shipment_id} ships {remaining:g} more of {sku} than the IFS order has open"
            )
    return allocated


def delivery(order_no: str, order_id: int, shipment: dict[str, Any], lines: list[DeliveryLine]) -> Delivery:
    tracking = shipment.get("tracking") or {}
    shipped_on = tracking.get("shipping_date") or shipment.get("actual_fulfillment_date")
    return Delivery(
        order_no=order_no,
        external_ref=str(shipment["id"]),
        shipment_ref=str(order_id),
        carrier=tracking.get("carrier"),
        tracking_no=tracking.get("tracking_number"),
        tracking_url=tracking.get("tracking_url"),
        ship_date=shipped_on[:10] if shipped_on else None,
        lines=tuple(lines),
    )


def tracking_changes(voucher: Voucher, shipment: dict[str, Any]) -> VoucherChanges | None:
    """What a later tracking update or delivery changes on a posted voucher."""
    tracking = shipment.get("tracking") or {}

    def newer(wanted: str | None, current: str | None) -> str | None:
        return wanted if wanted and current != wanted else None

    delivered = shipment.get("delivery_date")
    changes = VoucherChanges(
        carrier=newer(tracking.get("carrier"), voucher.carrier),
        tracking_no=newer(tracking.get("tracking_number"), voucher.tracking_no),
        tracking_url=newer(tracking.get("tracking_url"), voucher.tracking_url),
        delivered_date=delivered[:10] if delivered and not voucher.delivered_date else None,
    )
    return changes if changes.fields() else None
