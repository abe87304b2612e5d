"""Benchmark of the daily inventory sync (flow 5). Not a test.

    .venv/bin/python bench/inventory_sync.py [--sizes 10000 50000] [--locations 3]

For each catalog size: seed both sandboxes (stock on several locations per
part at 2 IFS sites, levels at 2 ShipBob FCs; ~20 % of (site, SKU) differ),
then run `sync_inventory` three ways - dry run, a first real run (creates
every IFS level row, records every difference with its first sighting and
raises one attention item per site), a second real run (steady state: no
level to write, every difference seen again, its age kept) - and print wall
time, the sync's tracemalloc peak, and the calls each sandbox served. Each is run twice, timed without tracemalloc and measured with it. Ratios 50k/10k
close to 5 mean time and memory grow linearly, i.e. flat per SKU.

The sandboxes run in a child process (BackgroundServer threads there), so the
tracemalloc peak and the GIL belong to the connector alone; state lives in a
temporary SQLite database with a LocalCoordinator (no Redis). The ShipBob
sandbox's and the client's rate limits are raised so the bench measures our
code; the time the real 150/min limit would impose is printed beside it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.context import Context  # noqa: E402
from connector.db.session import migrate  # noqa: E402
from connector.flows.inventory_sync import sync_inventory  # noqa: E402
from connector.settings import load_settings  # noqa: E402
from connector.shipbob.ratelimit import safe_limit  # noqa: E402

SITES = {"S01": 156, "S02": 157}
REAL_LIMIT_PER_MINUTE = 150
BENCH_LIMIT_PER_MINUTE = 1_000_000
LEVELS_CALL = "GET /2026-01/inventory-level/locations"
STOCK_BATCH = 50_000
SEED_BATCH = 10_000


# ----------------------------------------------------------------- sandboxes

def serve_sandboxes(conn, rate_limit: int) -> None:
    """Child process: both sandboxes on free ports until the parent says stop."""
    import logging

    from sandbox.ifs.app import create_app as ifs_app
    from sandbox.server import BackgroundServer
    from sandbox.shipbob.app import create_app as shipbob_app
    from sandbox.shipbob.config import ShipBobSandboxConfig

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    ifs = BackgroundServer(ifs_app()).start()
    shipbob = BackgroundServer(shipbob_app(ShipBobSandboxConfig(rate_limit_per_minute=rate_limit))).start()
    conn.send((ifs.url, shipbob.url))
    conn.recv()
    ifs.stop()
    shipbob.stop()


@dataclass
class Sandboxes:
    ifs: str
    shipbob: str

    def post(self, url: str, body: dict | None = None) -> dict:
        response = requests.post(url, json=body or {}, timeout=600)
        response.raise_for_status()
        return response.json()

    def stats(self) -> tuple[dict, dict]:
        return (requests.get(f"{self.ifs}/_sandbox/stats", timeout=60).json(),
                requests.get(f"{self.shipbob}/_sandbox/stats", timeout=60).json())


# ------------------------------------------------------------------- seeding

def seed(sandboxes: Sandboxes, n_skus: int, locations: int, rng: random.Random) -> dict:
    """A realistic mix per (site, SKU): ~80 % match, ~10 % short, ~10 % over;
    1 % of parts exist in IFS only. IFS stock is split over `locations` rows."""
    for url in (sandboxes.ifs, sandboxes.shipbob):
        sandboxes.post(f"{url}/_sandbox/reset")
    skus = [f"P{i:06d}" for i in range(1, n_skus + 1)]
    levels, rows = {}, []
    for sku in skus:
        on_hand = {fc: rng.randint(0, 200) for fc in SITES.values()}
        if rng.random() >= 0.01:
            levels[sku] = {str(fc): q for fc, q in on_hand.items()}
        for site, fc in SITES.items():
            rows.extend(_stock_rows(site, sku, _ifs_quantity(on_hand[fc], rng), locations))
    names = list(levels)
    for start in range(0, len(names), SEED_BATCH):
        batch = names[start:start + SEED_BATCH]
        sandboxes.post(f"{sandboxes.shipbob}/_sandbox/seed",
                       {"skus": batch, "levels": {s: levels[s] for s in batch}})
    for start in range(0, len(rows), STOCK_BATCH):
        sandboxes.post(f"{sandboxes.ifs}/_sandbox/stock",
                       {"columns": ["Contract", "PartNo", "LocationNo", "QtyOnhand", "UoM"],
                        "rows": rows[start:start + STOCK_BATCH]})
    return {"skus": n_skus, "stock_rows": len(rows), "shipbob_skus": len(levels)}


def _ifs_quantity(on_hand: int, rng: random.Random) -> int:
    draw = rng.random()
    if draw < 0.8:
        return on_hand
    if draw < 0.9:
        return on_hand + rng.randint(1, 20)
    return max(0, on_hand - rng.randint(1, 20))


def _stock_rows(site: str, sku: str, qty: int, locations: int) -> list[list]:
    shares = [qty // locations] * locations
    shares[0] += qty - sum(shares)
    return [[site, sku, f"L-{k:02d}", share, "PCS"] for k, share in enumerate(shares, start=1)]


# ----------------------------------------------------------------- measuring

@dataclass
class Measure:
    mode: str
    seconds: float
    shipbob_calls: int
    shipbob_pages: int
    ifs_calls: int
    ifs_writes: int
    summary: str
    peak_mb: float = 0.0


def run_once(ctx: Context, sandboxes: Sandboxes, mode: str, dry_run: bool, traced: bool) -> Measure:
    """One sync. tracemalloc roughly doubles the run time, so time and memory
    come from separate runs (`traced` False / True)."""
    ifs_before, sb_before = sandboxes.stats()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    result = sync_inventory(ctx, dry_run=dry_run)
    seconds = time.perf_counter() - started
    peak = 0.0
    if traced:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    ifs_after, sb_after = sandboxes.stats()
    return Measure(
        mode, seconds,
        sb_after["total"] - sb_before["total"], _pages(sb_after) - _pages(sb_before),
        ifs_after["total_requests"] - ifs_before["total_requests"],
        ifs_after["writes"] - ifs_before["writes"],
        result.summary_line(), peak)


def bench_size(ctx: Context, sandboxes: Sandboxes, n: int, args) -> tuple[dict, list[Measure]]:
    """dry run, first real run, second real run; each timed untraced and
    measured traced. The first real run changes both systems, so its traced
    twin runs on a freshly re-seeded world."""
    def seed_world() -> dict:
        return seed(sandboxes, n, args.locations, random.Random(args.seed))

    def both(mode: str, dry_run: bool, traced_first: bool = False) -> Measure:
        if traced_first:
            peak = run_once(ctx, sandboxes, mode, dry_run, traced=True).peak_mb
            seed_world()
            timed = run_once(ctx, sandboxes, mode, dry_run, traced=False)
        else:
            timed = run_once(ctx, sandboxes, mode, dry_run, traced=False)
            peak = run_once(ctx, sandboxes, mode, dry_run, traced=True).peak_mb
        timed.peak_mb = peak
        return timed

    seeded = seed_world()
    measures = [both("dry-run", True), both("real", False, traced_first=True),
                both("real again", False)]
    return seeded, measures


def _pages(stats: dict) -> int:
    return stats.get("pages", {}).get(LEVELS_CALL, {}).get("calls", 0)


def real_limit_seconds(calls: int) -> tuple[float, float]:
    """Seconds `calls` take at ShipBob's 150/min, and at our client's budget."""
    return calls * 60 / REAL_LIMIT_PER_MINUTE, calls * 60 / safe_limit(REAL_LIMIT_PER_MINUTE)


# ------------------------------------------------------------------- output

def print_size(n: int, seeded: dict, measures: list[Measure]) -> None:
    print(f"\n== {n:,} SKUs: {seeded['stock_rows']:,} IFS stock rows at {len(SITES)} sites, "
          f"{seeded['shipbob_skus']:,} SKUs at ShipBob ({len(SITES)} FCs)")
    print(f"  {'run':<12}{'wall s':>9}{'peak MB':>9}{'SB calls':>10}{'SB pages':>10}"
          f"{'IFS calls':>11}{'IFS writes':>12}{'at 150/min':>12}")
    for m in measures:
        at_limit, _ = real_limit_seconds(m.shipbob_calls)
        print(f"  {m.mode:<12}{m.seconds:>9.2f}{m.peak_mb:>9.1f}{m.shipbob_calls:>10}"
              f"{m.shipbob_pages:>10}{m.ifs_calls:>11}{m.ifs_writes:>12}{at_limit:>11.0f}s")
    for m in measures:
        print(f"  {m.mode}: {m.summary}")


def print_ratios(sizes: list[int], results: dict[int, list[Measure]]) -> None:
    small, large = sizes[0], sizes[-1]
    factor = large / small
    print(f"\n== ratios {large // 1000}k/{small // 1000}k (x{factor:g} SKUs; "
          f"{factor:g} = linear, i.e. flat per SKU)")
    for a, b in zip(results[small], results[large]):
        print(f"  {a.mode:<12} time x{b.seconds / a.seconds:.2f}   memory x{b.peak_mb / a.peak_mb:.2f}   "
              f"per SKU: {a.peak_mb * 2**20 / small:.0f} -> {b.peak_mb * 2**20 / large:.0f} bytes, "
              f"{a.seconds / small * 1e6:.0f} -> {b.seconds / large * 1e6:.0f} µs")


# ---------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--locations", type=int, default=3, help="IFS stock rows per part and site")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    parent, child = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve_sandboxes, args=(child, BENCH_LIMIT_PER_MINUTE), daemon=True)
    server.start()
    sandboxes = Sandboxes(*parent.recv())
    print(f"rate limit raised to {BENCH_LIMIT_PER_MINUTE:,}/min in the ShipBob sandbox and the "
          f"client (real: {REAL_LIMIT_PER_MINUTE}/min); sandboxes in a child process; "
          "wall time from runs without tracemalloc, peak memory from traced twin runs", flush=True)
    try:
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            for n in args.sizes:
                ctx = _context(Path(tmp) / f"{n}", sandboxes)
                seeded, results[n] = bench_size(ctx, sandboxes, n, args)
                print_size(n, seeded, results[n])
        if len(args.sizes) > 1:
            print_ratios(args.sizes, results)
    finally:
        parent.send("stop")
        server.join(timeout=10)


def _context(directory: Path, sandboxes: Sandboxes) -> Context:
    directory.mkdir(parents=True)
    database_url = f"sqlite:///{directory}/state.db"
    migrate(database_url)
    return Context(load_settings(
        database_url=database_url, redis_url=None, ifs_base_url=sandboxes.ifs,
        shipbob_base_url=sandboxes.shipbob, reports_dir=directory / "reports",
        shipbob_rate_limit_per_minute=BENCH_LIMIT_PER_MINUTE))


if __name__ == "__main__":
    main()
