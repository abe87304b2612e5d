"""IFS stock and ShipBob levels -> one drift row per (SKU, fulfillment center).
Pure functions and small accumulators; no I/O.

IFS stock comes one row per location, lot and handling unit (ifs-cloud.md §5);
`SiteStock` keeps only the running sum per (site, part), so memory grows with
the number of parts, not rows. ShipBob levels come per inventory item with one
entry per fulfillment center (shipbob.md §5); `ShipBobLevels` keeps one small
tuple per (FC, SKU) that holds any stock.

Quantities are compared as each-units: IFS on-hand stock (which includes
reserved stock) against ShipBob `on_hand_quantity` (which includes committed
stock). A part whose IFS unit of measure is not an each-unit is reported, not
converted: we do not know the pack size.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, NamedTuple

from connector.ifs.stock import ExternalStockLevel, StockRow
from connector.mapping import Mapping

DEFAULT_EACH_UNITS = frozenset({"PCS", "EA", "EACH", "UNIT"})
# IFS quantities are decimals; two sums closer than this are equal.
_EPSILON = 1e-6


class Status(str, enum.Enum):
    MATCH = "match"                # ShipBob on hand == IFS on hand
    SHORTFALL = "shortfall"        # IFS expects more than ShipBob has or awaits: replenish
    AWAITING = "awaiting"          # short on hand, but inbound WROs cover the gap
    SURPLUS = "surplus"            # ShipBob has more than IFS: drift, report only
    IFS_ONLY = "ifs_only"          # no SKU for the part, or ShipBob does not know the SKU
    SHIPBOB_ONLY = "shipbob_only"  # stock at ShipBob for a SKU with no IFS part
    UOM_MISMATCH = "uom_mismatch"  # IFS counts the part in a unit that is not an each


# What a person must look at after a real run (shortfalls were pushed as WROs,
# awaiting rows resolve themselves).
UNHANDLED = frozenset({Status.SURPLUS, Status.IFS_ONLY, Status.SHIPBOB_ONLY, Status.UOM_MISMATCH})
# Rows whose ShipBob levels are written back to IFS supply planning.
LEVELS_WRITTEN = frozenset({Status.MATCH, Status.SHORTFALL, Status.AWAITING, Status.SURPLUS})


class Level(NamedTuple):
    """ShipBob's quantities for one SKU at one fulfillment center."""

    on_hand: int = 0
    committed: int = 0
    fulfillable: int = 0
    awaiting: int = 0

    @classmethod
    def from_location(cls, location: dict[str, Any]) -> "Level":
        return cls(int(location.get("on_hand_quantity") or 0),
                   int(location.get("committed_quantity") or 0),
                   int(location.get("fulfillable_quantity") or 0),
                   int(location.get("awaiting_quantity") or 0))

    @property
    def is_empty(self) -> bool:
        return not (self.on_hand or self.committed or self.fulfillable or self.awaiting)


NO_LEVEL = Level()


# ------------------------------------------------------------------ IFS side

class SiteStock:
    """Running sums of IFS stock per (site, part), fed one row at a time."""

    def __init__(self, each_units: Iterable[str] = DEFAULT_EACH_UNITS):
        self.each_units = frozenset(u.upper() for u in each_units)
        self.totals: dict[str, dict[str, float]] = {}
        # Only the exceptions are kept: (site, part) -> the non-each UoM(s).
        self.odd_uoms: dict[tuple[str, str], str] = {}
        self.rows = 0

    def add(self, row: StockRow) -> None:
        site, part = row.site, row.part_no
        parts = self.totals.setdefault(site, {})
        parts[part] = parts.get(part, 0.0) + row.quantity
        uom = (row.uom or "").strip().upper()
        if uom not in self.each_units:
            self._note_odd_uom(site, part, uom or "(none)")
        self.rows += 1

    def _note_odd_uom(self, site: str, part: str, uom: str) -> None:
        known = self.odd_uoms.get((site, part))
        if known is None:
            self.odd_uoms[(site, part)] = uom
        elif uom not in known.split("/"):
            self.odd_uoms[(site, part)] = f"{known}/{uom}"

    def has_part(self, part: str) -> bool:
        return any(part in parts for parts in self.totals.values())

    @property
    def part_count(self) -> int:
        return sum(len(parts) for parts in self.totals.values())


# -------------------------------------------------------------- ShipBob side

class ShipBobLevels:
    """Every SKU ShipBob knows (with its inventory id) and the non-empty levels
    per fulfillment center, fed one `inventory-level/locations` item at a time."""

    def __init__(self, fc_ids: Iterable[int]):
        self.inventory_ids: dict[str, int] = {}
        self.by_fc: dict[int, dict[str, Level]] = {int(fc): {} for fc in fc_ids}
        self.items = 0

    def add(self, item: dict[str, Any]) -> None:
        sku = str(item.get("sku") or "")
        if not sku:
            return
        self.inventory_ids[sku] = int(item["inventory_id"])
        for location in item.get("locations") or []:
            levels = self.by_fc.get(int(location.get("location_id") or 0))
            level = Level.from_location(location)
            if levels is not None and not level.is_empty:
                levels[sku] = level
        self.items += 1


# ----------------------------------------------------------------- comparing

@dataclass(frozen=True, slots=True)
class DriftRow:
    sku: str | None
    part: str | None
    site: str
    fc: int
    ifs_qty: float | None
    level: Level | None
    status: Status
    action: str
    replenish: int = 0  # units to send to ShipBob (shortfalls only)

    @property
    def difference(self) -> float | None:
        """ShipBob on hand minus IFS on hand (positive: ShipBob has more)."""
        if self.status is Status.UOM_MISMATCH or self.ifs_qty is None or self.level is None:
            return None
        return self.level.on_hand - self.ifs_qty

    def as_report(self) -> dict[str, Any]:
        level = self.level
        return {
            "sku": self.sku or "", "part": self.part or "", "site": self.site, "fc": self.fc,
            "ifs_qty": _number(self.ifs_qty),
            "shipbob_on_hand": level.on_hand if level else None,
            "shipbob_fulfillable": level.fulfillable if level else None,
            "awaiting": level.awaiting if level else None,
            "difference": _number(self.difference),
            "status": self.status.value, "action": self.action,
        }


REPORT_FIELDS = ("sku", "part", "site", "fc", "ifs_qty", "shipbob_on_hand", "shipbob_fulfillable",
                 "awaiting", "difference", "status", "action")


def classify(ifs_qty: float, level: Level, dry_run: bool = False) -> tuple[Status, str, int]:
    """Compare one SKU at one FC whose both sides are known and in each-units:
    (status, action, units to replenish)."""
    gap = ifs_qty - level.on_hand
    if abs(gap) <= _EPSILON:
        return Status.MATCH, "none", 0
    if gap < 0:
        return Status.SURPLUS, f"report: ShipBob has {_fmt(-gap)} more than IFS", 0
    uncovered = gap - level.awaiting
    if uncovered <= _EPSILON:
        return Status.AWAITING, f"none: {level.awaiting} awaiting at ShipBob covers {_fmt(gap)}", 0
    # Whole units only: a fraction of an each still has to be shipped as one.
    units = math.ceil(uncovered - _EPSILON)
    return Status.SHORTFALL, f"{'would replenish' if dry_run else 'replenish'} {units}", units


def compare_site(
    site: str,
    fc: int,
    stock: SiteStock,
    levels: ShipBobLevels,
    mapping: Mapping,
    dry_run: bool = False,
) -> Iterator[DriftRow]:
    """Every drift row of one site/FC: first the IFS parts (sorted), then the
    ShipBob SKUs with stock there that no IFS part of the site claimed."""
    fc_levels = dict(levels.by_fc.get(fc, {}))  # a copy: claimed SKUs are popped
    claimed: dict[str, str] = {}
    for part in sorted(stock.totals.get(site, {})):
        qty = stock.totals[site][part]
        sku = mapping.sku_for(part)
        if sku is not None and sku in claimed:
            yield DriftRow(sku, part, site, fc, qty, None, Status.IFS_ONLY,
                           f"report: SKU {sku} is also mapped from part {claimed[sku]}; fix the mapping")
            continue
        if sku is not None:
            claimed[sku] = part
        yield _ifs_row(site, fc, part, sku, qty, fc_levels.pop(sku, NO_LEVEL) if sku else NO_LEVEL,
                       stock, levels, dry_run)
    part_for = mapping.part_for
    for sku in sorted(fc_levels):
        yield _shipbob_row(site, fc, sku, part_for(sku), fc_levels[sku], stock, dry_run)


def _ifs_row(site: str, fc: int, part: str, sku: str | None, qty: float, level: Level, stock: SiteStock,
            levels: ShipBobLevels, dry_run: bool) -> DriftRow:
    odd_uom = stock.odd_uoms.get((site, part))
    if sku is None:
        return DriftRow(None, part, site, fc, qty, None, Status.IFS_ONLY,
                        "report: no SKU mapped for the part")
    if odd_uom is not None:
        return DriftRow(sku, part, site, fc, qty, level, Status.UOM_MISMATCH,
                        f"report: IFS UoM {odd_uom} is not an each-unit; not compared")
    if sku not in levels.inventory_ids:
        return DriftRow(sku, part, site, fc, qty, None, Status.IFS_ONLY,
                        "report: SKU unknown at ShipBob")
    status, action, units = classify(qty, level, dry_run)
    return DriftRow(sku, part, site, fc, qty, level, status, action, units)


def _shipbob_row(site: str, fc: int, sku: str, part: str | None, level: Level, stock: SiteStock,
                 dry_run: bool) -> DriftRow:
    if part is None or not stock.has_part(part):
        why = "no IFS part mapped to the SKU" if part is None else "no IFS stock rows for the part"
        return DriftRow(sku, part, site, fc, None, level, Status.SHIPBOB_ONLY, f"report: {why}")
    # The part is an IFS part (it has stock at another site), just none here.
    status, action, units = classify(0.0, level, dry_run)
    return DriftRow(sku, part, site, fc, 0.0, level, status, action, units)


# ------------------------------------------------------- levels back to IFS

def level_for_ifs(row: DriftRow) -> ExternalStockLevel | None:
    """ShipBob's levels of a row as IFS supply planning holds them; None for a
    row whose levels are not written back (see LEVELS_WRITTEN). Pick activity
    is ShipBob's committed quantity: units allocated to open orders, i.e. what
    the warehouse is about to pick."""
    if row.status not in LEVELS_WRITTEN or row.sku is None or row.part is None or row.level is None:
        return None
    level = row.level
    return ExternalStockLevel(site=row.site, part_no=row.part, sku=row.sku, on_hand=level.on_hand,
                              committed=level.committed, fulfillable=level.fulfillable,
                              awaiting=level.awaiting, picked=level.committed)


# ------------------------------------------------------------------ helpers

def _number(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(value, 6)


def _fmt(value: float) -> str:
    return f"{_number(value)}"
