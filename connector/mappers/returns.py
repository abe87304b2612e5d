"""ShipBob return -> IFS goods return voucher (RMA) lines. Pure functions."""

from __future__ import annotations

from connector.errors import NeedsAttention

# ShipBob action names -> the IFS return action; anything else is reported.
_ACTIONS = {"restock": "Restock", "quarantine": "Quarantine", "dispose": "Dispose"}


def normalized_status(ret: dict) -> str:
    # The DTO may print "Awaiting Arrival" (shipbob.md §5).
    return str(ret.get("status") or "").replace(" ", "")


def processed_actions(ret: dict, sku_by_inventory: dict[int, str]) -> list[tuple[str, str, int]]:
    """(sku, IFS action, quantity) for every processed quantity of the return."""
    processed, problems = [], []
    for item in ret.get("inventory") or []:
        sku = sku_by_inventory.get(int(item["id"]))
        if sku is None:
            problems.append(f"inventory item {item['id']} is not a product of the original order")
            continue
        for taken in item.get("action_taken") or []:
            qty = int(taken.get("quantity_processed") or 0)
            if qty <= 0:
                continue
            action = _ACTIONS.get(str(taken.get("action") or "").strip().lower())
            if action is None:
                problems.append(f"{sku}: action {taken.get('action')!r} has no IFS return action")
                continue
            processed.append((sku, action, qty))
    if problems:
        raise NeedsAttention(f"return {ret['id']}: " + "; ".join(problems))
    return processed


def rma_lines(return_id: int, processed: list[tuple[str, str, int]], bound_lines: list[dict],
              returnable: dict[tuple, float], part_for_sku: dict[str, str]) -> list[dict]:
    """Spread returned units over the order lines of their SKU, never beyond
    what a line shipped minus what it already had returned."""
    lines = []
    for sku, action, qty in processed:
        remaining = qty
        for line in (ln for ln in bound_lines if ln["sku"] == sku):
            key = (line["line_no"], line["rel_no"], line["line_item_no"])
            take = min(remaining, returnable.get(key, 0))
            if take > 0:
                lines.append({"LineNo": key[0], "RelNo": key[1], "LineItemNo": key[2],
                              "PartNo": part_for_sku[sku], "QtyToReturn": take, "ReturnAction": action})
                returnable[key] -= take
                remaining -= take
        if remaining > 0:
            raise NeedsAttention(
                f"return {return_id}: {remaining} of {sku} exceed what the order shipped and has not returned"
            )
    return lines
