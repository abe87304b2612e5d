"""What an IFS purchase order expects to arrive through ShipBob, against what
its WROs announce. Pure: the replenishment flow (top-ups and attention items
for a PO changed after its WRO) and `reconcile` compare with the same rules.

A line expects through ShipBob what is still open on it plus what the
connector has already received on it from ShipBob; what someone booked by
hand in IFS does not come through ShipBob. A line (or order) that takes no
more receipts - cancelled or closed - expects only what was received.
A WRO announces its `expected_quantity` per inventory id; a cancelled WRO
announces nothing (ShipBob will receive nothing on it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connector.ifs.purchasing import PoLineKey, PurchaseOrderLine

CANCELLED = "Cancelled"  # a WRO status (ShipBob OpenAPI 2026-01, GET /receiving)


@dataclass(frozen=True)
class LineNeed:
    line: PurchaseOrderLine
    closed: bool  # takes no more receipts
    need: float   # units it expects through ShipBob in all

    def describe(self) -> str:
        line = self.line
        state = f"{line.state}, " if self.closed and line.state else ""
        return f"line {line.key.label()} part {line.part_no} ({state}{line.qty_due:g} ordered)"


@dataclass(frozen=True)
class PartNeed:
    """The lines of one part on a purchase order and what they expect through ShipBob."""

    part_no: str
    lines: tuple[LineNeed, ...]

    @property
    def need(self) -> float:
        return sum(line.need for line in self.lines)

    def describe(self) -> str:
        return ", ".join(line.describe() for line in self.lines)


def line_need(line: PurchaseOrderLine, ours: float, closed: bool) -> float:
    """Units of `line` IFS expects through ShipBob in all; `ours`: what the
    connector's receipts put on it."""
    if closed:
        return ours
    by_hand = max(line.qty_arrived - ours, 0.0)
    return max(line.qty_due - by_hand, ours)


def needs_by_part(lines: Iterable[PurchaseOrderLine], received: Mapping[PoLineKey, float],
                  is_closed: Callable[[PurchaseOrderLine], bool],
                  order_closed: bool = False) -> dict[str, PartNeed]:
    """Part -> its lines' needs, in line order; `received`: the connector's
    receipts per line; `order_closed`: the order takes no more receipts."""
    grouped: dict[str, list[LineNeed]] = defaultdict(list)
    for line in lines:
        closed = order_closed or is_closed(line)
        grouped[line.part_no].append(LineNeed(line, closed, line_need(line, received.get(line.key, 0.0), closed)))
    return {part: PartNeed(part, tuple(rows)) for part, rows in grouped.items()}


def is_live(wro: Mapping[str, Any]) -> bool:
    return wro.get("status") != CANCELLED


def announced(wros: Iterable[Mapping[str, Any]]) -> dict[int, float]:
    """Inventory id -> units these WROs expect."""
    total: dict[int, float] = defaultdict(float)
    for wro in wros:
        for item in wro.get("inventory_quantities") or []:
            total[int(item["inventory_id"])] += float(item.get("expected_quantity") or 0)
    return dict(total)


def carriers(wros: Iterable[Mapping[str, Any]]) -> dict[int, list[int]]:
    """Inventory id -> ids of the WROs that carry it."""
    found: dict[int, list[int]] = defaultdict(list)
    for wro in wros:
        for item in wro.get("inventory_quantities") or []:
            found[int(item["inventory_id"])].append(int(wro["id"]))
    return {inventory_id: sorted(set(ids)) for inventory_id, ids in found.items()}


@dataclass(frozen=True)
class Excess:
    """More announced at ShipBob than the PO still expects: a WRO cannot be
    edited, so a person must cancel or correct it there."""

    inventory_id: int
    parts: tuple[PartNeed, ...]  # empty: no line of the order has the part
    announced: float
    wro_ids: tuple[int, ...]

    @property
    def need(self) -> float:
        return sum(part.need for part in self.parts)

    def describe(self) -> str:
        lines = (", ".join(part.describe() for part in self.parts)
                 or f"inventory {self.inventory_id} (on no line of the order)")
        wros = ", ".join(str(i) for i in self.wro_ids)
        return (f"{lines}: WRO {wros} announce(s) {self.announced:g}, IFS now expects {self.need:g} "
                f"through ShipBob ({self.announced - self.need:g} too many)")


def parts_by_inventory(needs: Mapping[str, PartNeed],
                       inventory_of: Mapping[str, int | None]) -> dict[int, tuple[PartNeed, ...]]:
    """Inventory id -> the parts of the order on it (two parts may share a SKU)."""
    found: dict[int, list[PartNeed]] = defaultdict(list)
    for part, inventory_id in sorted(inventory_of.items()):
        if inventory_id is not None and part in needs:
            found[inventory_id].append(needs[part])
    return {inventory_id: tuple(parts) for inventory_id, parts in found.items()}


def excesses(needs: Mapping[str, PartNeed], inventory_of: Mapping[str, int | None],
             live_wros: list[Mapping[str, Any]]) -> list[Excess]:
    """Inventory ids the live WROs announce beyond what the lines expect."""
    parts_of = parts_by_inventory(needs, inventory_of)
    on_wros = carriers(live_wros)
    found = []
    for inventory_id, qty in sorted(announced(live_wros).items()):
        parts = parts_of.get(inventory_id, ())
        if qty > sum(part.need for part in parts):
            found.append(Excess(inventory_id, parts, qty, tuple(on_wros[inventory_id])))
    return found
