"""ShipBob return -> IFS goods return voucher (RMA) lines. Pure functions."""

from __future__ import annotations

from typing import Any

from connector.errors import NeedsAttention
from connector.ifs.customer_orders import LineKey
from connector.ifs.returns import ReturnDisposition, RmaLineToCreate

# ShipBob action names -> what IFS does with the unit; anything else is reported.
_DISPOSITIONS = {"restock": ReturnDisposition.RESTOCK, "quarantine": ReturnDisposition.QUARANTINE,
                 "dispose": ReturnDisposition.DISPOSE}

Processed = tuple[str, ReturnDisposition, int]  # (sku, disposition, quantity)


def normalized_status(ret: dict[str, Any]) -> str:
    # The DTO may print "Awaiting Arrival" (shipbob.md §5).
    return str(ret.get("status") or "").replace(" ", "")


def processed_actions(ret: dict[str, Any], sku_by_inventory: dict[int, str]) -> list[Processed]:
    """(sku, disposition, quantity) for every processed quantity of the return."""
    processed: list[Processed] = []
    problems: list[str] = []
    for item in ret.get("inventory") or []:
        sku = sku_by_inventory.get(int(item["id"]))
        if sku is None:
            problems.append(f"inventory item {item['id']} is not a product of the original order")
            continue
        for taken in item.get("action_taken") or []:
            qty = int(taken.get("quantity_processed") or 0)
            if qty <= 0:
                continue
            action = _DISPOSITIONS.get(str(taken.get("action") or "").strip().lower())
            if action is None:
                problems.append(f"{sku}: action {taken.get('action')!r} has no IFS return action")
                continue
            processed.append((sku, action, qty))
    if problems:
        raise NeedsAttention(f"return {ret['id']}: " + "; ".join(problems))
    return processed


def rma_lines(return_id: int, processed: list[Processed], bound_lines: list[dict[str, Any]],
              returnable: dict[LineKey, float], part_for_sku: dict[str, str]) -> list[RmaLineToCreate]:
    """Spread returned units over the order lines of their SKU, never beyond
    what a line shipped minus what it already had returned. `bound_lines`
    are the order binding's lines (line_no, rel_no, line_item_no, sku);
    `returnable` is consumed as units are placed."""
    lines: list[RmaLineToCreate] = []
    for sku, action, qty in processed:
        remaining: float = qty
        for line in (ln for ln in bound_lines if ln["sku"] == sku):
            key = LineKey(str(line["line_no"]), str(line["rel_no"]), int(line["line_item_no"]))
            take = min(remaining, returnable.get(key, 0))
            if take > 0:
                lines.append(RmaLineToCreate(key, part_for_sku[sku], take, action))
                returnable[key] -= take
                remaining -= take
        if remaining > 0:
            raise NeedsAttention(
                f"return {return_id}: {remaining:g} of {sku} exceed what the order shipped and has not returned"
            )
    return lines
