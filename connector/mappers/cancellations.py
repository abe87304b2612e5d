"""Shipments cancelled at ShipBob -> the IFS order line units they leave
open, as the customer order gateway's records. Pure functions.

A ShipBob order carries the units of its IFS lines (the order binding's
lines). What IFS still has open on them, beyond what ShipBob will still
ship (its live shipments) or has shipped without an IFS voucher yet, is
what cancelled shipments took away; each cancelled shipment accounts for
its own units of it. Cancelled units come off the order's last lines first,
since deliveries fill the first ones (connector/mappers/vouchers.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from connector.ifs.customer_orders import LineCancel, LineKey, OrderLine
from connector.mappers.vouchers import SHIPPED, shipped_quantities

CANCELLED = "Cancelled"  # a ShipBob shipment status (OpenAPI 2026-01)


@dataclass(frozen=True)
class ShipmentCancel:
    """The IFS units one cancelled ShipBob shipment leaves open (none: IFS
    has them cancelled or delivered already)."""

    shipment_id: int
    lines: tuple[LineCancel, ...]


def cancelled_shipments(shipments: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((s for s in shipments if s.get("status") == CANCELLED), key=lambda s: int(s["id"]))


def plan_cancellations(shipments: Sequence[dict[str, Any]], bound_lines: Sequence[dict[str, Any]],
                       open_lines: Sequence[OrderLine], unposted: Collection[int] = ()) -> list[ShipmentCancel]:
    """Per cancelled shipment of a ShipBob order (by id), the units IFS
    still has open for it.

    `shipments`: every shipment of the ShipBob order; `bound_lines`: the
    order binding's LineRef dicts; `open_lines`: the IFS order's lines still
    to be fulfilled; `unposted`: shipped shipments IFS has no voucher for.
    """
    by_key = {line.key: line for line in open_lines}
    keys_by_sku: dict[str, list[LineKey]] = defaultdict(list)
    for ref in bound_lines:
        key = LineKey(str(ref["line_no"]), str(ref["rel_no"]), int(ref["line_item_no"]))
        if key in by_key and key not in keys_by_sku[ref["sku"]]:
            keys_by_sku[ref["sku"]].append(key)
    left = {key: line.open_qty for key, line in by_key.items()}
    due = {key: line.qty_due for key, line in by_key.items()}
    outstanding: Counter[str] = Counter()
    for shipment in shipments:
        status = shipment.get("status")
        if status == CANCELLED or (status == SHIPPED and int(shipment["id"]) not in unposted):
            continue
        outstanding.update(shipped_quantities(shipment))
    excess = {sku: sum(left[key] for key in keys) - outstanding[sku] for sku, keys in keys_by_sku.items()}

    plans = []
    for shipment in cancelled_shipments(shipments):
        planned: list[LineCancel] = []
        for sku, units in sorted(shipped_quantities(shipment).items()):
            wanted = min(float(units), excess.get(sku, 0.0))
            for key in reversed(keys_by_sku.get(sku, [])):
                take = min(wanted, left[key])
                if take <= 0:
                    continue
                planned.append(LineCancel(key, take, due[key]))
                left[key] -= take
                due[key] -= take
                excess[sku] -= take
                wanted -= take
        plans.append(ShipmentCancel(int(shipment["id"]), tuple(sorted(planned, key=lambda c: c.key))))
    return plans


def describe(lines: Iterable[LineCancel]) -> str:
    """`line 1/1 (3), line 2/1 (1)`: the lines and the units on them."""
    return ", ".join(f"line {line.key.label()} ({line.qty:g})" for line in lines)
