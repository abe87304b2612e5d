"""Flow 5: the daily inventory sync (and on demand: `ifs-shipbob sync-inventory`).

1. Note what is on its way before IFS is read (flows/inventory_in_flight.py).
2. Read IFS stock (one row per location, lot and handling unit) page by
   page for the mapped sites and sum it per (site, part); only the sums are
   kept (mappers/inventory.py).
3. Read ShipBob's `inventory-level/locations` pages: on hand, committed,
   fulfillable and awaiting per SKU and fulfillment center.
4. Read what is on its way now: units picked or shipped at ShipBob that are
   not on an IFS voucher yet; units stowed from WROs or restocked from
   returns at ShipBob that IFS has not received yet.
5. Compare like with like per SKU and site/FC: IFS on hand against ShipBob's
   on hand brought to what IFS should hold once (4) is posted. Every row
   goes into the drift report (CSV + JSON under settings.reports_dir); each
   difference with the day it was first seen.
6. Per the mapping's `inventory_drift`: `report` leaves each difference to
   its site's attention item; `adjust` posts ShipBob's count to IFS as a
   counted adjustment (the stock gateway's count posting, under If-Match:
   nothing is posted when IFS's stock moved since the read, or when IFS
   holds the count already), so a rerun posts nothing.
7. The differences that remain are remembered with their first sighting
   and listed, oldest first, on one attention item per site, until a run
   finds them gone (flows/inventory_drift.py): none is ever hidden.
8. ShipBob's levels go back to IFS supply planning (the external stock
   levels): only rows whose values differ from what IFS holds are written, by
   the mapping's stock-level posting (connector/ifs/stock.py; by default a new
   row is POSTed, a changed one PATCHed with the If-Match of a GET by key).
9. One InventorySnapshot row per run: counts, differences, report paths.

Shortfalls are not sent to ShipBob as WROs any more. Earlier versions made a
replenishment WRO (`INVSYNC-<day>-<fc>`) for every shortfall; but a WRO
announces a shipment to the warehouse, and nobody shipped those units: the
WRO stayed awaiting, its awaiting quantity covered the gap, and the drift was
classed "awaiting" and never reported again. Stock reaches ShipBob through
purchase orders (flow 4a); a difference is reported, or counted, until it is
gone. The inbound receipt still closes the WROs those versions made.

`dry_run` writes nothing to either system (no count, no IFS write) and
changes no item or first sighting, but still writes the report and a
snapshot marked dry_run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator

from connector import jobs
from connector.context import Context, default_context
from connector.db.models import Flow, InventorySnapshot, Job, utcnow
from connector.errors import ConfigError, NeedsAttention
from connector.flows import inventory_drift
from connector.flows.inventory_drift import SiteDrift
from connector.flows.inventory_in_flight import InFlightReader
from connector.ifs.errors import IfsBusinessError, IfsNotFound
from connector.ifs.stock import CountPosted, ExternalStockLevel, StockCount
from connector.mappers.inventory import (
    ADJUSTABLE,
    LEVELS_WRITTEN,
    REPORT_FIELDS,
    UNHANDLED,
    DriftRow,
    InFlight,
    ShipBobLevels,
    SiteStock,
    Status,
    compare_site,
    level_for_ifs,
)
from connector.reports import ReportPaths, ReportWriter
from connector.shipbob.client import ShipBobClient

log = logging.getLogger(__name__)

# The purchase order numbers of the shortfall WROs earlier versions made
# (the inbound receipt closes them).
PO_PREFIX = "INVSYNC"
PROGRESS_EVERY = 5000         # rows between progress callbacks
# Concurrent IFS level writes: modest, as ifs-cloud.md §9 asks (public code uses 8).
IFS_WRITERS = 4
WRITE_BATCH = 1000
# The snapshot keeps the drift rows themselves only up to this many; beyond
# it the report files are the record (the snapshot holds their paths).
SNAPSHOT_ROW_LIMIT = 2000
UNHANDLED_SAMPLE = 100
SNAPSHOT_ROW_FIELDS = ("sku", "part", "site", "fc", "ifs_qty", "shipbob_on_hand", "awaiting", "difference",
                       "status", "first_seen")
REPORT = "report"
ADJUST = "adjust"

Progress = Callable[[str, int], None]


@dataclass
class SyncResult:
    run_at: datetime
    sites: dict[str, int]
    dry_run: bool
    mode: str = REPORT  # the mapping's inventory_drift
    counts: Counter[str] = field(default_factory=Counter)
    ifs_rows: int = 0
    shipbob_items: int = 0
    in_flight: Counter[str] = field(default_factory=Counter)  # skus/shipped/stowed/restocked
    adjusted: Counter[str] = field(default_factory=Counter)  # count postings by outcome
    levels: Counter[str] = field(default_factory=Counter)  # created/updated/unchanged/pending/disabled
    # Per site with differences left: the attention item's text, and what became of the item.
    reasons: dict[str, str] = field(default_factory=dict)
    items: dict[str, str] = field(default_factory=dict)
    oldest: dict[str, datetime] = field(default_factory=dict)
    open: Counter[str] = field(default_factory=Counter)  # differences left per site
    gone: int = 0  # differences earlier runs found that this one did not
    report: ReportPaths | None = None
    snapshot_id: int | None = None
    unhandled: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def skus_compared(self) -> int:
        return sum(self.counts.values())

    @property
    def unhandled_total(self) -> int:
        return sum(n for status, n in self.counts.items() if Status(status) in UNHANDLED)

    def summary(self) -> dict[str, Any]:
        return {
            "run_at": self.run_at.isoformat(), "sites": self.sites, "dry_run": self.dry_run,
            "inventory_drift": self.mode, "skus_compared": self.skus_compared,
            "counts": {s.value: self.counts.get(s.value, 0) for s in Status},
            "ifs_rows": self.ifs_rows, "shipbob_items": self.shipbob_items,
            "in_flight": dict(self.in_flight), "adjusted": dict(self.adjusted),
            "differences": {site: {"open": self.open[site], "oldest_first_seen": self.oldest[site].isoformat(),
                                   "item": self.items.get(site)} for site in sorted(self.oldest)},
            "differences_gone": self.gone, "levels": dict(self.levels),
            "report": self.report.as_dict() if self.report else None,
            "unhandled_total": self.unhandled_total, "unhandled": self.unhandled,
            "seconds": round(self.seconds, 3),
        }

    def summary_line(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items()) if n)
        return (f"inventory sync{' (dry run)' if self.dry_run else ''} "
                f"{', '.join(self.sites)}: {self.skus_compared} SKU/FC compared "
                f"({counts or 'nothing'}); {self._drift_text()}; IFS levels {self._levels_text()}")

    def summary_text(self) -> str:
        lines = [self.summary_line()]
        if self.in_flight.get("skus"):
            lines.append(f"  on their way, netted: {self.in_flight.get('shipped', 0):g} shipped not yet on an "
                         f"IFS voucher, {self.in_flight.get('stowed', 0):g} stowed and "
                         f"{self.in_flight.get('restocked', 0):g} restocked not yet received in IFS "
                         f"({self.in_flight['skus']} SKU/FC)")
        for site, reason in sorted(self.reasons.items()):
            item = self.items.get(site)
            lines.append(f"  {site}: {reason}" + (f" [attention item {item}]" if item else ""))
        if self.report:
            lines.append(f"  report: {self.report.csv} and {self.report.json}")
        return "\n".join(lines)

    def _drift_text(self) -> str:
        counted = self.adjusted.get(CountPosted.POSTED.value, 0) + self.adjusted.get(CountPosted.ALREADY.value, 0)
        parts = [f"{counted} counted in IFS to ShipBob's figure"] if counted else []
        if self.unhandled_total:
            oldest = min(self.oldest.values()).date().isoformat() if self.oldest else "today"
            parts.append(f"{self.unhandled_total} difference(s) reported, the oldest since {oldest}")
        return "; ".join(parts) or "no difference"

    def _levels_text(self) -> str:
        if self.levels.get("disabled"):
            return "disabled"
        parts = [f"{n} {k}" for k, n in sorted(self.levels.items()) if n]
        return ", ".join(parts) or "nothing to write"

    def __str__(self) -> str:
        return self.summary_line()


# ------------------------------------------------------------------ entries

def sync_inventory(
    ctx: Context,
    site: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    each_units: Iterable[str] | None = None,
    running_item: int | None = None,
) -> SyncResult:
    """Compare, report or count, and write levels back (see the module doc).

    `site`: one mapped IFS site, else every mapped site (settings.sites).
    `progress(phase, count)` is called every few thousand rows and at the end
    of each phase: ifs_stock, shipbob_levels, ifs_levels_read, in_flight,
    compare, ifs_levels_write. `each_units`: IFS units of measure counted as
    single items (default: the mapping's `each_units`); a part in any other
    unit is reported as uom_mismatch. `running_item`: the id of the drift
    item whose own run (a replay) this is.
    """
    started = time.monotonic()
    notify = progress or _no_progress
    mode = ctx.mapping.inventory_drift
    if mode == ADJUST and not ctx.stock.counting_enabled:
        raise ConfigError("mapping inventory_drift: adjust needs the IFS count names (ifs.stock.count_set "
                          "and count_projection), which are empty")
    result = SyncResult(run_at=utcnow(), sites=_site_plan(ctx, site), dry_run=dry_run, mode=mode)
    shipbob = ctx.shipbob
    on_the_way = InFlightReader(ctx, result.sites.values())

    on_the_way.before_ifs_read()
    stock = read_ifs_stock(ctx, result.sites, each_units or ctx.mapping.each_units, notify)
    levels = read_shipbob_levels(shipbob, result.sites, site is not None, notify)
    current = read_ifs_levels(ctx, result.sites, notify)
    in_flight = on_the_way.read({i: sku for sku, i in levels.inventory_ids.items()})
    _count_in_flight(result, in_flight, notify)
    result.ifs_rows, result.shipbob_items = stock.rows, levels.items
    with ctx.session() as session:
        seen_before = inventory_drift.first_seen(session, result.sites)

    with ReportWriter(ctx.settings.reports_dir, _report_name(result, site), REPORT_FIELDS,
                      _report_header(result)) as report:
        pending, drift, snapshot_rows = _compare(ctx, result, stock, levels, current, in_flight, seen_before,
                                                 report, notify)
        del stock, current  # the sums are no longer needed; the writes carry what they need
        _remember(ctx, result, drift, str(report.paths.csv), running_item)
        write_ifs_levels(ctx, result, pending, notify)
        result.seconds = time.monotonic() - started
        result.report = report.close(result.summary())
    result.snapshot_id = _save_snapshot(ctx, result, snapshot_rows)
    result.seconds = time.monotonic() - started
    log.info("inventory sync done", extra={"summary": result.summary_line()})
    return result


def run(ctx: Context, job: Job) -> str:
    """The job entry: the daily sync, payload {"site": str | None, "dry_run":
    bool}; or a site's drift item (a replay syncs that site again)."""
    site = inventory_drift.site_of(job.key)
    if site is not None:
        result = sync_inventory(ctx, site=site, running_item=job.id)
        if site in result.reasons:
            raise NeedsAttention(result.reasons[site])
        return f"no stock difference left at {site}: {result.summary_line()}"
    payload = job.payload or {}
    # The runner's heartbeat keeps the lease of this long job alive.
    result = sync_inventory(ctx, site=payload.get("site"), dry_run=bool(payload.get("dry_run")))
    return result.summary_line()


def request_daily_sync(ctx: Context) -> list[int]:
    """The beat's daily request: one job per UTC day; [job id] when it should run."""
    key = f"daily-{utcnow().date().isoformat()}"
    with ctx.session() as session:
        requested = jobs.request_job(session, Flow.INVENTORY_SYNC.value, key,
                                     payload={"site": None, "dry_run": False})
    return [requested.job_id] if requested.wake else []


def main_cli(site: str | None = None, dry_run: bool = False, json_output: bool = False,
             ctx: Context | None = None) -> int:
    """`ifs-shipbob sync-inventory [--site S] [--dry-run] [--json]`: run, print
    the summary (text, or the snapshot's JSON summary) and return the exit
    code. Drift is not a failure (its attention item and `reconcile` say so);
    errors raise."""
    result = sync_inventory(ctx or default_context(), site=site, dry_run=dry_run)
    print(json.dumps(result.summary(), indent=2, default=str) if json_output else result.summary_text())
    return 0


# ------------------------------------------------------------------ reading

def read_ifs_stock(ctx: Context, sites: dict[str, int], each_units: Iterable[str],
                   notify: Progress) -> SiteStock:
    stock = SiteStock(each_units)
    for row in ctx.stock.rows(list(sites)):
        stock.add(row)
        if stock.rows % PROGRESS_EVERY == 0:
            notify("ifs_stock", stock.rows)
    notify("ifs_stock", stock.rows)
    return stock


def read_shipbob_levels(shipbob: ShipBobClient, sites: dict[str, int], one_site: bool,
                        notify: Progress) -> ShipBobLevels:
    levels = ShipBobLevels(sites.values())
    # One FC: let ShipBob filter the locations; several: one pass covers all.
    location = next(iter(sites.values())) if one_site else None
    for item in shipbob.inventory_level_locations(location_id=location):
        levels.add(item)
        if levels.items % PROGRESS_EVERY == 0:
            notify("shipbob_levels", levels.items)
    notify("shipbob_levels", levels.items)
    return levels


CurrentLevels = dict[tuple[str, str], ExternalStockLevel]


def read_ifs_levels(ctx: Context, sites: dict[str, int], notify: Progress) -> CurrentLevels | None:
    """What IFS supply planning holds now, per (site, part): the baseline that
    decides which rows need a write. None when the write-back is off."""
    if not ctx.stock.levels_enabled:
        return None
    current = {(level.site, level.part_no): level for level in ctx.stock.levels(list(sites))}
    notify("ifs_levels_read", len(current))
    return current


def _count_in_flight(result: SyncResult, in_flight: InFlight, notify: Progress) -> None:
    for pending in in_flight.values():
        result.in_flight["skus"] += 1
        for name in ("shipped", "stowed", "restocked"):
            if getattr(pending, name):
                result.in_flight[name] += getattr(pending, name)
    notify("in_flight", len(in_flight))


# ---------------------------------------------------------------- comparing

@dataclass(frozen=True, slots=True)
class LevelWrite:
    wanted: ExternalStockLevel
    current: ExternalStockLevel | None  # None: IFS holds no level for the site and part


def _compare(ctx: Context, result: SyncResult, stock: SiteStock, levels: ShipBobLevels,
             current: CurrentLevels | None, in_flight: InFlight, seen_before: dict[tuple[str, str, str], datetime],
             report: ReportWriter, notify: Progress,
             ) -> tuple[list[LevelWrite], list[DriftRow], list[list[Any]]]:
    """Stream every row into the report (counting differences first in adjust
    mode); keep only what later steps need: the level writes that change
    something, the differences left, and the non-matching rows for the
    snapshot (bounded)."""
    pending: list[LevelWrite] = []
    drift: list[DriftRow] = []
    snapshot_rows: list[list[Any]] = []
    for row in _all_rows(ctx, result, stock, levels, in_flight):
        if row.status in UNHANDLED:
            row = dataclasses.replace(row, first_seen=seen_before.get(row.key, result.run_at))
        if row.status in ADJUSTABLE and result.mode == ADJUST:
            row = _adjust(ctx, result, row)
        report_row = row.as_report(result.run_at)
        report.write(report_row)
        result.counts[row.status.value] += 1
        if current is not None:
            write = _level_write(row, current)
            if write is not None:
                pending.append(write)
        if row.status in UNHANDLED:
            drift.append(row)
            _note_unhandled(result, row)
        if row.status is not Status.MATCH and len(snapshot_rows) <= SNAPSHOT_ROW_LIMIT:
            snapshot_rows.append([report_row[f] for f in SNAPSHOT_ROW_FIELDS])  # one past the limit: truncated
        if report.rows % PROGRESS_EVERY == 0:
            notify("compare", report.rows)
    if current is not None:
        result.levels["unchanged"] = _unchanged(result, pending)
    notify("compare", report.rows)
    return pending, drift, snapshot_rows


def _all_rows(ctx: Context, result: SyncResult, stock: SiteStock, levels: ShipBobLevels,
              in_flight: InFlight) -> Iterator[DriftRow]:
    for site, fc in result.sites.items():
        yield from compare_site(site, fc, stock, levels, ctx.mapping, in_flight)


def _level_write(row: DriftRow, current: CurrentLevels) -> LevelWrite | None:
    """The write a row needs: None when its levels are not written back or
    IFS holds them already."""
    wanted = level_for_ifs(row)
    if wanted is None:
        return None
    have = current.get((wanted.site, wanted.part_no))
    if have is not None and not wanted.changed_from(have):
        return None
    return LevelWrite(wanted, have)


def _unchanged(result: SyncResult, pending: list[LevelWrite]) -> int:
    eligible = sum(result.counts.get(s.value, 0) for s in LEVELS_WRITTEN)
    return eligible - len(pending)


def _note_unhandled(result: SyncResult, row: DriftRow) -> None:
    if len(result.unhandled) < UNHANDLED_SAMPLE:
        since = (row.first_seen or result.run_at).date().isoformat()
        result.unhandled.append({"sku": row.sku or row.part, "part": row.part, "site": row.site,
                                 "status": row.status.value, "first_seen": since,
                                 "detail": f"{row.site}/FC {row.fc}: {row.action}; first seen {since}"})


# ------------------------------------------------------------------ counting

def _adjust(ctx: Context, result: SyncResult, row: DriftRow) -> DriftRow:
    """Count IFS to what ShipBob accounts for: ShipBob's on hand less what IFS
    has not received yet, plus what IFS has not delivered yet. The row comes
    back adjusted, or still a difference saying why it was not."""
    counted, part, level = row.expected, row.part, row.level
    assert counted is not None and part is not None and row.ifs_qty is not None and level is not None
    target = _fmt(counted)
    if result.dry_run:
        return dataclasses.replace(row, action=f"would count IFS from {_fmt(row.ifs_qty)} to {target}")
    if counted < 0:
        return _not_adjusted(row, f"ShipBob's figure comes to {target}, below zero")
    on_the_way = f"; {row.pending.describe()}" if row.pending else ""
    count = StockCount(site=row.site, part_no=part, counted=counted, books=row.ifs_qty,
                       reference=f"ShipBob FC {row.fc} {result.run_at:%Y-%m-%dT%H:%MZ}",
                       note=f"ShipBob on hand {_fmt(level.on_hand)}{on_the_way}")
    try:
        outcome = ctx.stock.post_count(count)
    except IfsNotFound:
        return _not_adjusted(row, "IFS has no count record for the part at the site")
    except IfsBusinessError as exc:
        return _not_adjusted(row, f"IFS refused the count: {exc.ifs_message or exc}")
    result.adjusted[outcome.value] += 1
    if outcome is CountPosted.MOVED:
        return _not_adjusted(row, "IFS stock moved while the sync read it; compared again next run")
    log.info("stock counted in IFS", extra={"site": row.site, "part": part, "from": row.ifs_qty, "to": counted,
                                            "outcome": outcome.value})
    return dataclasses.replace(row, status=Status.ADJUSTED, first_seen=None,
                               action=f"counted IFS from {_fmt(row.ifs_qty)} to {target}"
                                      + (" (already counted)" if outcome is CountPosted.ALREADY else ""))


def _not_adjusted(row: DriftRow, why: str) -> DriftRow:
    return dataclasses.replace(row, action=f"{row.action}; not counted: {why}")


def _fmt(value: float) -> str:
    return f"{value:g}"


# ------------------------------------------------------------ differences

def _remember(ctx: Context, result: SyncResult, drift: list[DriftRow], report: str,
              running_item: int | None) -> None:
    """Per site: the text of its attention item; then (not in a dry run) the
    differences with their first sighting, and the items raised, updated or
    closed."""
    by_site: dict[str, list[DriftRow]] = defaultdict(list)
    for row in drift:
        by_site[row.site].append(row)
    for site, rows in by_site.items():
        found = SiteDrift(site, result.sites[site], rows)
        result.reasons[site] = found.reason(result.run_at, report)
        result.oldest[site] = min(r.first_seen or result.run_at for r in rows)
        result.open[site] = len(rows)
    if result.dry_run:
        return
    with ctx.session() as session:
        result.gone = inventory_drift.record(session, result.sites, result.run_at, drift)
        for site, fc in result.sites.items():
            left = SiteDrift(site, fc, by_site[site]) if by_site.get(site) else None
            outcome = inventory_drift.update_item(session, site, left, result.reasons.get(site), running_item)
            if outcome != "none":
                result.items[site] = outcome


# -------------------------------------------------------- levels back to IFS

def write_ifs_levels(ctx: Context, result: SyncResult, pending: list[LevelWrite],
                     notify: Progress) -> None:
    if not ctx.stock.levels_enabled:
        result.levels["disabled"] = 1
        return
    if result.dry_run:
        result.levels["pending"] = len(pending)
        return
    stamp = result.run_at.replace(microsecond=0)

    def post(write: LevelWrite) -> str:
        level = dataclasses.replace(write.wanted, last_sync=stamp)
        return ctx.stock.post_level(level, write.current).value

    # A few writes in flight: each is two round trips (GET by key, PATCH), and
    # a first run writes one row per (site, part). Batches bound the futures
    # held; an error stops the run after its batch (the retry skips what is done).
    with ThreadPoolExecutor(max_workers=IFS_WRITERS, thread_name_prefix="ifs-levels") as pool:
        for offset in range(0, len(pending), WRITE_BATCH):
            batch = pending[offset:offset + WRITE_BATCH]
            for outcome in pool.map(post, batch):
                result.levels[outcome] += 1
            notify("ifs_levels_write", offset + len(batch))


# ------------------------------------------------------------------- record

def _save_snapshot(ctx: Context, result: SyncResult, drift: list[list[Any]]) -> int:
    truncated = len(drift) > SNAPSHOT_ROW_LIMIT
    rows = {
        "report": result.report.as_dict() if result.report else None,
        "total": result.skus_compared,
        "fields": list(SNAPSHOT_ROW_FIELDS),
        # Non-matching rows only; the report files hold all of them.
        "drift": [] if truncated else drift,
        "drift_truncated": truncated,
    }
    with ctx.session() as session:
        snapshot = InventorySnapshot(run_at=result.run_at, dry_run=int(result.dry_run),
                                     summary=result.summary(), rows=rows)
        session.add(snapshot)
        session.flush()
        return snapshot.id


def _report_name(result: SyncResult, site: str | None) -> str:
    name = f"inventory-drift-{result.run_at:%Y%m%dT%H%M%SZ}"
    if site:
        name += f"-{site}"
    return name + ("-dry-run" if result.dry_run else "")


def _report_header(result: SyncResult) -> dict[str, Any]:
    return {"report": "inventory-drift", "run_at": result.run_at.isoformat(),
            "sites": result.sites, "dry_run": result.dry_run}


# ------------------------------------------------------------------ helpers

def _site_plan(ctx: Context, site: str | None) -> dict[str, int]:
    """The sites to compare and their FCs; one FC per site and vice versa."""
    sites = [site] if site else ctx.settings.mapped_sites()
    unmapped = [s for s in sites if s not in ctx.mapping.sites]
    if unmapped:
        raise NeedsAttention(f"inventory sync: site {', '.join(unmapped)} has no fulfillment center "
                             "in the mapping")
    plan = {s: int(ctx.mapping.sites[s]) for s in sites}
    shared = sorted({fc for fc in plan.values() if list(plan.values()).count(fc) > 1})
    if shared:
        # Two sites' stock in one FC cannot be told apart at ShipBob: comparing
        # would mean guessing how to split it.
        raise NeedsAttention(f"inventory sync: fulfillment center {shared} is mapped from several "
                             "sites; sync those sites one at a time with --site")
    return plan


def _no_progress(_phase: str, _count: int) -> None:
    pass
