"""Flow 5: the daily inventory sync (and on demand: `ifs-shipbob sync-inventory`).

1. Read IFS stock (one row per location, lot and handling unit) page by
   page for the mapped sites and sum it per (site, part); only the sums are
   kept (mappers/inventory.py).
2. Read ShipBob's `inventory-level/locations` pages: on hand, committed,
   fulfillable and awaiting per SKU and fulfillment center.
3. Compare per SKU and site/FC and stream every row into the drift report
   (CSV + JSON under settings.reports_dir).
4. Shortfalls become replenishment WROs, one per FC per day
   (`INVSYNC-<YYYYMMDD>-<fc>`, chunks of 10,000 SKUs `#k`), created only when
   ShipBob has no WRO with that purchase order number yet: a second run the
   same day creates nothing new (and finds the gap covered by `awaiting`).
5. ShipBob's levels go back to IFS supply planning (the external stock
   levels): only rows whose values differ from what IFS holds are written, by
   the mapping's stock-level posting (connector/ifs/stock.py; by default a new
   row is POSTed, a changed one PATCHed with the If-Match of a GET by key).
6. One InventorySnapshot row per run: counts, WROs, report paths.

`dry_run` writes nothing to either system (no WRO, no IFS write) but still
writes the report and a snapshot marked dry_run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator

from connector import jobs
from connector.context import Context, default_context
from connector.db.models import Flow, InventorySnapshot, Job, utcnow
from connector.errors import NeedsAttention
from connector.flows.replenishment import WRO_SKU_LIMIT, chunk_name
from connector.ifs.stock import ExternalStockLevel
from connector.mappers.inventory import (
    LEVELS_WRITTEN,
    REPORT_FIELDS,
    UNHANDLED,
    DriftRow,
    ShipBobLevels,
    SiteStock,
    Status,
    compare_site,
    level_for_ifs,
)
from connector.reports import ReportPaths, ReportWriter
from connector.shipbob.client import ShipBobClient
from connector.shipbob.ratelimit import WINDOW_SECONDS

log = logging.getLogger(__name__)

PO_PREFIX = "INVSYNC"
PROGRESS_EVERY = 5000         # rows between progress callbacks
# Concurrent IFS level writes: modest, as ifs-cloud.md §9 asks (public code uses 8).
IFS_WRITERS = 4
WRITE_BATCH = 1000
# Longest a WRO look-up + create may hold its lock (two ShipBob calls that may
# wait out a rate-limit window).
WRO_LOCK_SECONDS = 3 * WINDOW_SECONDS
# The snapshot keeps the drift rows themselves only up to this many; beyond
# it the report files are the record (the snapshot holds their paths).
SNAPSHOT_ROW_LIMIT = 2000
UNHANDLED_SAMPLE = 100
SNAPSHOT_ROW_FIELDS = ("sku", "part", "site", "fc", "ifs_qty", "shipbob_on_hand", "awaiting", "status")

Progress = Callable[[str, int], None]


@dataclass
class WroOutcome:
    purchase_order_number: str
    fc: int
    skus: int
    units: int
    wro_id: int | None = None
    created: bool = False  # False: it existed already (an earlier run today), or dry run

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class SyncResult:
    run_at: datetime
    sites: dict[str, int]
    dry_run: bool
    counts: Counter[str] = field(default_factory=Counter)
    ifs_rows: int = 0
    shipbob_items: int = 0
    wros: list[WroOutcome] = field(default_factory=list)
    levels: Counter[str] = field(default_factory=Counter)  # created/updated/unchanged/pending/disabled
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
            "skus_compared": self.skus_compared,
            "counts": {s.value: self.counts.get(s.value, 0) for s in Status},
            "ifs_rows": self.ifs_rows, "shipbob_items": self.shipbob_items,
            "wros": [w.as_dict() for w in self.wros], "levels": dict(self.levels),
            "report": self.report.as_dict() if self.report else None,
            "unhandled_total": self.unhandled_total, "unhandled": self.unhandled,
            "seconds": round(self.seconds, 3),
        }

    def summary_line(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items()) if n)
        created = [w.purchase_order_number for w in self.wros if w.created]
        wros = f"WROs created: {', '.join(created)}" if created else "no new WRO"
        return (f"inventory sync{' (dry run)' if self.dry_run else ''} "
                f"{', '.join(self.sites)}: {self.skus_compared} SKU/FC compared "
                f"({counts or 'nothing'}); {wros}; IFS levels {self._levels_text()}")

    def summary_text(self) -> str:
        lines = [self.summary_line()]
        for w in self.wros:
            verb = "created" if w.created else ("already there" if w.wro_id else "would create")
            lines.append(f"  WRO {w.purchase_order_number} (FC {w.fc}): {w.skus} SKUs, "
                         f"{w.units} units, {verb}" + (f", id {w.wro_id}" if w.wro_id else ""))
        if self.unhandled_total:
            lines.append(f"  {self.unhandled_total} rows need a person (surplus, one-sided SKUs, "
                         "UoM mismatches): see the report")
        if self.report:
            lines.append(f"  report: {self.report.csv} and {self.report.json}")
        return "\n".join(lines)

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
) -> SyncResult:
    """Compare, report, replenish and write levels back (see the module doc).

    `site`: one mapped IFS site, else every mapped site (settings.sites).
    `progress(phase, count)` is called every few thousand rows and at the end
    of each phase: ifs_stock, shipbob_levels, ifs_levels_read, compare, wros,
    ifs_levels_write. `each_units`: IFS units of measure counted as single
    items (default: the mapping's `each_units`); a part in any other unit is
    reported as uom_mismatch.
    """
    started = time.monotonic()
    notify = progress or _no_progress
    result = SyncResult(run_at=utcnow(), sites=_site_plan(ctx, site), dry_run=dry_run)
    shipbob = ctx.shipbob

    stock = read_ifs_stock(ctx, result.sites, each_units or ctx.mapping.each_units, notify)
    levels = read_shipbob_levels(shipbob, result.sites, site is not None, notify)
    current = read_ifs_levels(ctx, result.sites, notify)
    result.ifs_rows, result.shipbob_items = stock.rows, levels.items

    with ReportWriter(ctx.settings.reports_dir, _report_name(result, site), REPORT_FIELDS,
                      _report_header(result)) as report:
        shortfalls, pending, drift = _compare(ctx, result, stock, levels, current, report, notify)
        del stock, current  # the sums are no longer needed; the writes carry what they need
        result.wros = push_shortfalls(ctx, shipbob, result, shortfalls, levels.inventory_ids, notify)
        write_ifs_levels(ctx, result, pending, notify)
        result.seconds = time.monotonic() - started
        result.report = report.close(result.summary())
    result.snapshot_id = _save_snapshot(ctx, result, drift)
    result.seconds = time.monotonic() - started
    log.info("inventory sync done", extra={"summary": result.summary_line()})
    return result


def run(ctx: Context, job: Job) -> str:
    """The job entry: payload {"site": str | None, "dry_run": bool}."""
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
    code. Drift is not a failure (`reconcile` exits 1 for it); errors raise."""
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


# ---------------------------------------------------------------- comparing

@dataclass(frozen=True, slots=True)
class LevelWrite:
    wanted: ExternalStockLevel
    current: ExternalStockLevel | None  # None: IFS holds no level for the site and part


def _compare(ctx: Context, result: SyncResult, stock: SiteStock, levels: ShipBobLevels,
             current: CurrentLevels | None, report: ReportWriter, notify: Progress,
             ) -> tuple[dict[int, dict[str, int]], list[LevelWrite], list[list[Any]]]:
    """Stream every row into the report; keep only what later steps need:
    shortfalls per FC, the level writes that change something, and the
    non-matching rows for the snapshot (bounded)."""
    shortfalls: dict[int, dict[str, int]] = defaultdict(dict)
    pending: list[LevelWrite] = []
    drift: list[list[Any]] = []
    for row in _all_rows(ctx, result, stock, levels):
        report_row = row.as_report()
        report.write(report_row)
        result.counts[row.status.value] += 1
        if row.replenish and row.sku is not None:
            shortfalls[row.fc][row.sku] = row.replenish
        if current is not None:
            write = _level_write(row, current)
            if write is not None:
                pending.append(write)
        _note_drift(result, drift, row, report_row)
        if report.rows % PROGRESS_EVERY == 0:
            notify("compare", report.rows)
    if current is not None:
        result.levels["unchanged"] = _unchanged(result, pending)
    notify("compare", report.rows)
    return shortfalls, pending, drift


def _all_rows(ctx: Context, result: SyncResult, stock: SiteStock, levels: ShipBobLevels) -> Iterator[DriftRow]:
    for site, fc in result.sites.items():
        yield from compare_site(site, fc, stock, levels, ctx.mapping, result.dry_run)


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


def _note_drift(result: SyncResult, drift: list[list[Any]], row: DriftRow, report_row: dict[str, Any]) -> None:
    if row.status is Status.MATCH:
        return
    if row.status in UNHANDLED and len(result.unhandled) < UNHANDLED_SAMPLE:
        result.unhandled.append({"sku": row.sku or row.part, "status": row.status.value,
                                 "detail": f"{row.site}/FC {row.fc}: {row.action}"})
    if len(drift) <= SNAPSHOT_ROW_LIMIT:  # one past the limit marks it truncated
        drift.append([report_row[f] for f in SNAPSHOT_ROW_FIELDS])


# ------------------------------------------------------------- replenishing

def push_shortfalls(ctx: Context, shipbob: ShipBobClient, result: SyncResult,
                    shortfalls: dict[int, dict[str, int]], inventory_ids: dict[str, int],
                    notify: Progress) -> list[WroOutcome]:
    """One WRO per FC (chunks of 10,000 SKUs), named per day and FC; each is
    created only when ShipBob has no WRO of that purchase order number. A dry
    run only looks them up."""
    outcomes = []
    day = result.run_at.strftime("%Y%m%d")
    for fc in sorted(shortfalls):
        quantities = {inventory_ids[sku]: qty for sku, qty in shortfalls[fc].items()}
        ids = sorted(quantities)
        for index, offset in enumerate(range(0, len(ids), WRO_SKU_LIMIT), start=1):
            chunk = {i: quantities[i] for i in ids[offset:offset + WRO_SKU_LIMIT]}
            name = chunk_name(f"{PO_PREFIX}-{day}-{fc}", index)
            outcome = WroOutcome(name, fc, len(chunk), sum(chunk.values()))
            _ensure_replenishment_wro(ctx, shipbob, outcome, chunk, create=not result.dry_run)
            outcomes.append(outcome)
            notify("wros", len(outcomes))
    return outcomes


def _ensure_replenishment_wro(ctx: Context, shipbob: ShipBobClient, outcome: WroOutcome,
                              quantities: dict[int, int], create: bool) -> None:
    """Adopt today's WRO of this name if ShipBob has it (an earlier run, or a
    create whose answer was lost), else create it (unless a dry run)."""
    name = outcome.purchase_order_number
    # Look-up and create under one pool-wide lock: a CLI run beside the daily
    # job must not both find nothing and both create.
    with ctx.coordinator.lock(f"inventory-sync:wro:{name}", ttl=WRO_LOCK_SECONDS, wait=WRO_LOCK_SECONDS):
        # Exact match only: a filter that matches by prefix would also find `#k` chunks.
        found = next((w for w in shipbob.wros(PurchaseOrderNumbers=[name])
                      if w.get("purchase_order_number") == name), None)
        if found is not None:
            outcome.wro_id = found.get("id")
            return
        if create:
            _create_replenishment_wro(ctx, shipbob, outcome, quantities)


def _create_replenishment_wro(ctx: Context, shipbob: ShipBobClient, outcome: WroOutcome,
                              quantities: dict[int, int]) -> None:
    name = outcome.purchase_order_number
    wro = shipbob.create_wro({
        "fulfillment_center": {"id": outcome.fc},
        "package_type": ctx.mapping.wro_package_type,
        "box_packaging_type": ctx.mapping.wro_box_packaging_type,
        "expected_arrival_date": _tomorrow(),
        "purchase_order_number": name,
        "boxes": [{"tracking_number": name,
                   "box_items": [{"inventory_id": i, "quantity": q} for i, q in sorted(quantities.items())]}],
    })
    outcome.wro_id, outcome.created = wro.get("id"), True
    log.info("replenishment WRO created", extra={"purchase_order": name, "wro_id": wro.get("id"),
                                                 "skus": outcome.skus, "units": outcome.units})


def _tomorrow() -> str:
    return (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")


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
