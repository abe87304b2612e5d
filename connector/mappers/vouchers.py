"""ShipBob shipment -> IFS fulfillment voucher. Pure functions, plain data."""

from __future__ import annotations

from collections import defaultdict

from connector.errors import NeedsAttention

SHIPPED = "Completed"
HELD = {"Exception", "OnHold"}


def shipped_quantities(shipment: dict) -> dict[str, int]:
    """SKU -> units in the shipment (inventory items carry the quantities)."""
    totals: dict[str, int] = defaultdict(int)
    for product in shipment.get("products") or []:
        sku = product.get("reference_id") or product.get("sku")
        items = product.get("inventory_items") or []
        totals[sku] += sum(int(item.get("quantity") or 0) for item in items)
    return {sku: qty for sku, qty in totals.items() if qty > 0}


def allocate(shipment_id: int, quantities: dict[str, int], lines: list[dict],
             open_qty: dict[tuple, float]) -> list[dict]:
    """Spread each SKU's shipped units over the order lines carrying it, in
    line order, never beyond a line's open quantity.

    `lines` are the bound LineRef dicts of the ShipBob order; `open_qty` maps a
    line key (LineNo, RelNo, LineItemNo) to what IFS still has to ship.
    """
    allocated: list[dict] = []
    for sku, qty in sorted(quantities.items()):
        remaining = qty
        for line in (ln for ln in lines if ln["sku"] == sku):
            key = (line["line_no"], line["rel_no"], line["line_item_no"])
            take = min(remaining, open_qty.get(key, 0))
            if take > 0:
                allocated.append({"LineNo": key[0], "RelNo": key[1], "LineItemNo": key[2], "Qty": take})
                open_qty[key] = open_qty[key] - take
                remaining -= take
        if remaining > 0:
            raise NeedsAttention(
                f"shipment {shipment_id} ships {remaining} more of {sku} than the IFS order has open"
            )
    return allocated


def voucher_body(order_id: int, shipment: dict, lines: list[dict]) -> dict:
    tracking = shipment.get("tracking") or {}
    shipped_on = tracking.get("shipping_date") or shipment.get("actual_fulfillment_date")
    return {
        "ExternalRef": str(shipment["id"]),
        "ShipmentRef": str(order_id),
        "Carrier": tracking.get("carrier"),
        "TrackingNo": tracking.get("tracking_number"),
        "TrackingUrl": tracking.get("tracking_url"),
        "ShipDate": shipped_on[:10] if shipped_on else None,
        "Lines": lines,
    }


def voucher_changes(voucher: dict, shipment: dict) -> dict | None:
    """What a later tracking update or delivery changes on a posted voucher."""
    tracking = shipment.get("tracking") or {}
    wanted = {
        "Carrier": tracking.get("carrier"),
        "TrackingNo": tracking.get("tracking_number"),
        "TrackingUrl": tracking.get("tracking_url"),
    }
    changes = {k: v for k, v in wanted.items() if v and voucher.get(k) != v}
    delivered = shipment.get("delivery_date")
    if delivered and not voucher.get("DeliveredDate"):
        changes["DeliveredDate"] = delivered[:10]
    return changes or None
