"""IFS stock and ShipBob levels -> one drift row per (SKU, fulfillment center).
Pure functions and small accumulators; no I/O.

IFS stock comes one row per location, lot and handling unit (ifs-cloud.md §5);
`SiteStock` keeps only the running sum per (site, part), so memory grows with
the number of parts, not rows. ShipBob levels come per inventory item with one
entry per fulfillment center (shipbob.md §5); `ShipBobLevels` keeps one small
tuple per (FC, SKU) that holds any stock.

Like is compared with like: IFS on-hand stock (which includes reserved
stock) against ShipBob's `on_hand_quantity` (which includes committed stock)
brought to what IFS should hold at this moment by the documents still on
their way (`Pending`): units that left ShipBob's on hand (picked or shipped)
but are not on an IFS voucher yet, and units on ShipBob's on hand that IFS
has not received yet (stowed from a WRO, restocked from a return). Units in
transit to ShipBob (its awaiting quantity) are on neither side's on hand: IFS
receives a purchase order when ShipBob stows it. They are shown, never netted.
A part whose IFS unit of measure is not an each-unit is reported, not
converted: we do not know the pack size.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Iterator, NamedTuple

from connector.ifs.stock import ExternalStockLevel, StockRow
from connector.mapping import Mapping

DEFAULT_EACH_UNITS = frozenset({"PCS", "EA", "EACH", "UNIT"})
# IFS quantities are decimals; two sums closer than this are equal.
_EPSILON = 1e-6


class Status(str, enum.Enum):
    MATCH = "match"                # IFS holds what ShipBob accounts for
    SHORTFALL = "shortfall"        # ShipBob accounts for fewer than IFS holds
    SURPLUS = "surplus"            # ShipBob accounts for more than IFS holds
    ADJUSTED = "adjusted"          # differed; IFS was counted to ShipBob's figure this run
    IFS_ONLY = "ifs_only"          # no SKU for the part, or ShipBob does not know the SKU
    SHIPBOB_ONLY = "shipbob_only"  # stock at ShipBob for a SKU with no IFS part
    UOM_MISMATCH = "uom_mismatch"  # IFS counts the part in a unit that is not an each


# A difference a person must look at (reported, with its age, until it is gone).
UNHANDLED = frozenset({Status.SHORTFALL, Status.SURPLUS, Status.IFS_ONLY, Status.SHIPBOB_ONLY,
                       Status.UOM_MISMATCH})
# Differences in quantity only: IFS can be counted to ShipBob's figure.
ADJUSTABLE = frozenset({Status.SHORTFALL, Status.SURPLUS})
# Rows whose ShipBob levels are written back to IFS supply planning.
LEVELS_WRITTEN = frozenset({Status.MATCH, Status.SHORTFALL, Status.SURPLUS, Status.ADJUSTED})


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


@dataclass(frozen=True, slots=True)
class Pending:
    """Units of one SKU at one fulfillment center that one side counts and
    the other does not yet, because a document is still on its way."""

    shipped: float = 0      # off ShipBob's on hand (picked or shipped), not on an IFS voucher yet
    stowed: float = 0       # on ShipBob's on hand from a WRO, not received in IFS yet
    restocked: float = 0    # on ShipBob's on hand from a return, not received in IFS yet

    @property
    def ahead(self) -> float:
        """How far ShipBob's on hand is ahead of IFS's because of them."""
        return self.stowed + self.restocked - self.shipped

    def __add__(self, other: Pending) -> Pending:
        return Pending(self.shipped + other.shipped, self.stowed + other.stowed,
                       self.restocked + other.restocked)

    def __bool__(self) -> bool:
        return bool(self.shipped or self.stowed or self.restocked)

    def describe(self) -> str:
        parts = [f"{_fmt(self.shipped)} shipped, not on an IFS voucher yet" if self.shipped else "",
                 f"{_fmt(self.stowed)} stowed, not received in IFS yet" if self.stowed else "",
                 f"{_fmt(self.restocked)} restocked from returns, not received in IFS yet"
                 if self.restocked else ""]
        return "; ".join(p for p in parts if p)


NO_PENDING = Pending()
# (fulfillment center, SKU) -> what is on its way.
InFlight = dict[tuple[int, str], Pending]


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
    pending: Pending = NO_PENDING
    # When a difference was first seen (set by the flow from its ledger).
    first_seen: datetime | None = None

    @property
    def expected(self) -> float | None:
        """What IFS should hold now by ShipBob's count: its on hand, less
        what IFS has not received yet, plus what IFS has not delivered yet."""
        if self.level is None:
            return None
        return self.level.on_hand - self.pending.ahead

    @property
    def difference(self) -> float | None:
        """What ShipBob accounts for minus IFS on hand (positive: ShipBob has more)."""
        expected = self.expected
        if self.status is Status.UOM_MISMATCH or self.ifs_qty is None or expected is None:
            return None
        return expected - self.ifs_qty

    @property
    def key(self) -> tuple[str, str, str]:
        """(site, part, SKU), "" for a side that has none: the row's identity across runs."""
        return self.site, self.part or "", self.sku or ""

    def as_report(self, run_at: datetime | None = None) -> dict[str, Any]:
        level, pending = self.level, self.pending
        age = None
        if self.first_seen is not None and run_at is not None:
            age = max(0, (run_at - self.first_seen).days)
        return {
            "sku": self.sku or "", "part": self.part or "", "site": self.site, "fc": self.fc,
            "ifs_qty": _number(self.ifs_qty),
            "shipbob_on_hand": level.on_hand if level else None,
            "shipbob_fulfillable": level.fulfillable if level else None,
            "awaiting": level.awaiting if level else None,
            "shipped_not_posted": _number(pending.shipped),
            "stowed_not_received": _number(pending.stowed),
            "restocked_not_received": _number(pending.restocked),
            "difference": _number(self.difference),
            "status": self.status.value,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "age_days": age,
            "action": self.action,
        }


REPORT_FIELDS = ("sku", "part", "site", "fc", "ifs_qty", "shipbob_on_hand", "shipbob_fulfillable",
                 "awaiting", "shipped_not_posted", "stowed_not_received", "restocked_not_received",
                 "difference", "status", "first_seen", "age_days", "action")


def classify(ifs_qty: float, level: Level, pending: Pending = NO_PENDING) -> tuple[Status, str]:
    """Compare one SKU at one FC whose both sides are known and in each-units:
    (status, action)."""
    gap = level.on_hand - pending.ahead - ifs_qty
    if abs(gap) <= _EPSILON:
        return Status.MATCH, f"none: {pending.describe()}" if pending else "none"
    after = f" ({pending.describe()})" if pending else ""
    if gap > 0:
        return Status.SURPLUS, f"report: ShipBob has {_fmt(gap)} more than IFS{after}"
    return Status.SHORTFALL, f"report: ShipBob has {_fmt(-gap)} fewer than IFS{after}"


def compare_site(
    site: str,
    fc: int,
    stock: SiteStock,
    levels: ShipBobLevels,
    mapping: Mapping,
    in_flight: InFlight | None = None,
) -> Iterator[DriftRow]:
    """Every drift row of one site/FC: first the IFS parts (sorted), then the
    ShipBob SKUs with stock there that no IFS part of the site claimed."""
    fc_levels = dict(levels.by_fc.get(fc, {}))  # a copy: claimed SKUs are popped
    on_the_way = in_flight or {}
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
        level = fc_levels.pop(sku, NO_LEVEL) if sku else NO_LEVEL
        pending = on_the_way.get((fc, sku), NO_PENDING) if sku else NO_PENDING
        yield _ifs_row(site, fc, part, sku, qty, level, pending, stock, levels)
    part_for = mapping.part_for
    for sku in sorted(fc_levels):
        yield _shipbob_row(site, fc, sku, part_for(sku), fc_levels[sku],
                           on_the_way.get((fc, sku), NO_PENDING), stock)


def _ifs_row(site: str, fc: int, part: str, sku: str | None, qty: float, level: Level, pending: Pending,
             stock: SiteStock, levels: ShipBobLevels) -> DriftRow:
    odd_uom = stock.odd_uoms.get((site, part))
    if sku is None:
        return DriftRow(None, part, site, fc, qty, None, Status.IFS_ONLY,
                        "report: no SKU mapped for the part")
    if odd_uom is not None:
        return DriftRow(sku, part, site, fc, qty, level, Status.UOM_MISMATCH,
                        f"report: IFS UoM {odd_uom} is not an each-unit; not compared", pending)
    if sku not in levels.inventory_ids:
        return DriftRow(sku, part, site, fc, qty, None, Status.IFS_ONLY,
                        "report: SKU unknown at ShipBob")
    status, action = classify(qty, level, pending)
    return DriftRow(sku, part, site, fc, qty, level, status, action, pending)


def _shipbob_row(site: str, fc: int, sku: str, part: str | None, level: Level, pending: Pending,
                 stock: SiteStock) -> DriftRow:
    if part is None or not stock.has_part(part):
        why = "no IFS part mapped to the SKU" if part is None else "no IFS stock rows for the part"
        return DriftRow(sku, part, site, fc, None, level, Status.SHIPBOB_ONLY, f"report: {why}", pending)
    # The part is an IFS part (it has stock at another site), just none here.
    status, action = classify(0.0, level, pending)
    return DriftRow(sku, part, site, fc, 0.0, level, status, action, pending)


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
