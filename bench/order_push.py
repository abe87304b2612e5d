"""Benchmark of the order push (flow 1) under ShipBob's sliding-window rate limit. Not a test.

    .venv/bin/python bench/order_push.py [--orders 1000] [--workers 4] [--rate-limit 300]
                                         [--release-rate 0] [--parts 100] [--keep-logs]
                                         [--shortage flag|hold|off] [--stock 500 1000]

The real pipeline: Celery beat polls the IFS sandbox every second, a polls
worker records the jobs, `--workers` worker processes (concurrency 1 each,
queue order_push) push them to the ShipBob sandbox, state in a temporary
PostgreSQL database, broker, limiter and caches in Redis under a unique
prefix. Both sandboxes run in a child process, where a WSGI wrapper
timestamps every ShipBob API call and sorts every IFS call by kind.

Orders (one site each, 1-3 lines, so calls per order compare) are released
through the IFS sandbox's order hook, all at once by default (a backlog:
demand far above the limit) or `--release-rate` per second. An order's
latency is from the moment the hook that released it returned (it is then
visible to the poll) to the `created_date` of its ShipBob order.

The stock check runs as configured (connector/flows/stock_shortage.py; the
mapping's `shortage`, `--shortage`, default flag): the poll reads the batch's
stock levels in bulk and each push reads them from the cache, so "ShipBob calls
per order" includes those reads (`GET /inventory-level/locations`, shown on
their own line). ShipBob holds `--stock LO HI` units of each SKU per
fulfillment center (default 500-1000: no order is short); a low range makes
orders short, and the shortage items (flag) or held orders (hold) are counted.

Rate limit, scaled for speed with the same semantics: the client's limiter
has a fixed 60 s sliding window (connector/shipbob/ratelimit.py
WINDOW_SECONDS, not configurable), so the ShipBob sandbox keeps ShipBob's
60 s window and both limits are raised together: `--rate-limit` is the
sandbox's `rate_limit_per_minute` and the workers' SHIPBOB_RATE_LIMIT_PER_MINUTE
(the client budgets 95 % of it). The default 300/min (2x the real 150)
makes 1,000 orders span four windows, three of them full, in ~3.5 minutes;
at 1,500/min they would fit in one window's budget and the limiter would
never bind.

"Rate limit used" is the accepted calls in each full 60 s window counted
from the first call, over the limit; the sliding windows beside it show how
evenly the calls fill the window. Goals from issue 3 are printed beside the
numbers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import redis as redis_lib
import requests
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cli.stack import Stack, env_for, wait_for  # noqa: E402
from connector.context import Context  # noqa: E402
from connector.db.models import Flow, Job, JobState  # noqa: E402
from connector.db.session import create_database, drop_database, migrate  # noqa: E402
from connector.mapping import load_mapping  # noqa: E402
from connector.settings import load_settings  # noqa: E402
from connector.shipbob.ratelimit import WINDOW_SECONDS, safe_limit  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
REAL_LIMIT_PER_MINUTE = 150
SITES = ["S01", "S02"]
SHIP_VIAS = ["UPS-GND", "UPS-GND", "UPS-GND", "UPS-2DAY", "FDX-ON"]  # all mapped
CUSTOMERS = 300
RELEASE_BATCH = 100
GOALS = {"shipbob_per_order": 1.05, "ifs_per_order": 3.0, "rate_limited": 0, "limit_share": 0.90}


# ----------------------------------------------------------------- sandboxes

class _Counting:
    """WSGI wrapper: what the connector asked of a sandbox, and when (API
    calls the sandbox's limiter accepted: a refused one does not count
    against its window)."""

    def __init__(self, app, classify):
        self.app = app
        self.classify = classify
        self.lock = threading.Lock()
        self.kinds: Counter = Counter()
        self.accepted: list[float] = []

    def __call__(self, environ, start_response):
        kind = self.classify(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
        if kind is None:
            return self.app(environ, start_response)
        arrived = time.time()

        def counted(status, headers, exc_info=None):
            with self.lock:
                self.kinds[kind] += 1
                if kind == "api" and not status.startswith("429"):
                    self.accepted.append(arrived)
            return start_response(status, headers, exc_info)

        return self.app(environ, counted)


def _ifs_kind(method: str, path: str) -> str | None:
    if path.startswith("/_sandbox"):
        return None
    if "/protocol/openid-connect/token" in path:
        return "token"
    if method == "PATCH":
        return "PATCH order (write-back)"
    if path.endswith("/$batch"):
        return "POST $batch (order, lines, address)"
    if "CustomerOrderLineSet" in path:
        return "GET lines (poll SKU warm-up)"
    if "OrderLinesArray" in path:
        return "GET lines"
    if "CustomerOrderAddresses" in path:
        return "GET address"
    if "CustomerOrderSet(" in path:
        return "GET order by key"
    if path.rstrip("/").endswith("CustomerOrderSet"):
        return "GET orders (poll query)"
    return f"{method} other"


def _shipbob_kind(method: str, path: str) -> str | None:
    if path.startswith("/_sandbox"):
        return None
    if path.startswith("/connect/"):
        return "token"
    return "api"


def serve_sandboxes(conn, rate_limit: int) -> None:
    """Child process: both sandboxes until the parent says stop; answers
    'counts' with what each was asked."""
    import logging

    from sandbox.ifs.app import create_app as ifs_app
    from sandbox.server import BackgroundServer
    from sandbox.shipbob import ShipBobSandboxConfig
    from sandbox.shipbob import create_app as shipbob_app

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    ifs_wsgi = ifs_app()
    ifs_counts = _Counting(ifs_wsgi.wsgi_app, _ifs_kind)
    ifs_wsgi.wsgi_app = ifs_counts
    sb_wsgi = shipbob_app(ShipBobSandboxConfig(rate_limit_per_minute=rate_limit,
                                               rate_window_seconds=WINDOW_SECONDS))
    sb_counts = _Counting(sb_wsgi.wsgi_app, _shipbob_kind)
    sb_wsgi.wsgi_app = sb_counts
    ifs = BackgroundServer(ifs_wsgi).start()
    shipbob = BackgroundServer(sb_wsgi).start()
    conn.send((ifs.url, shipbob.url))
    while True:
        message = conn.recv()
        if message == "counts":
            with ifs_counts.lock, sb_counts.lock:
                conn.send((dict(ifs_counts.kinds), dict(sb_counts.kinds), list(sb_counts.accepted)))
        else:
            break
    ifs.stop()
    shipbob.stop()


def hook(url: str, path: str, body: dict | None = None, method: str = "POST"):
    response = requests.request(method, f"{url}/_sandbox/{path}", json=body, timeout=600)
    response.raise_for_status()
    return response.json()


# -------------------------------------------------------------- state stores

@dataclass
class Stores:
    database: str
    database_url: str
    redis_prefix: str

    @classmethod
    def create(cls) -> "Stores":
        run = uuid.uuid4().hex[:10]
        name = f"ifs_shipbob_bench_{run}"
        url = create_database(PG_ADMIN_URL, name)
        migrate(url)
        return cls(name, url, f"ifs-shipbob-bench-{run}:")

    def drop(self) -> None:
        drop_database(PG_ADMIN_URL, self.database)
        client = redis_lib.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{self.redis_prefix}*", count=1000):
            client.delete(key)


# ------------------------------------------------------------------ the run

@dataclass
class Run:
    released: dict[str, float] = field(default_factory=dict)  # OrderNo -> epoch seconds
    first_release: float = 0.0
    last_release: float = 0.0
    finished: float = 0.0


def order_specs(n: int, parts: int, rng: random.Random) -> list[dict]:
    specs = []
    for _ in range(n):
        chosen = rng.sample(range(1, parts + 1), rng.choice((1, 1, 2, 2, 3)))
        specs.append({
            "Contract": rng.choice(SITES), "CustomerNo": f"CU{1001 + rng.randrange(CUSTOMERS)}",
            "ShipViaCode": rng.choice(SHIP_VIAS), "OrderId": "DTC",
            "lines": [{"PartNo": f"P{p:05d}", "BuyQtyDue": rng.choice((1, 1, 2, 3))} for p in chosen],
        })
    return specs


def release(ifs: str, specs: list[dict], rate: float, run: Run) -> None:
    """Create the orders Released in IFS: all at once, or `rate` per second."""
    batch = RELEASE_BATCH if rate <= 0 else max(1, round(rate / 4))
    started = time.monotonic()
    run.first_release = time.time()
    for start in range(0, len(specs), batch):
        if rate > 0:
            time.sleep(max(0.0, started + start / rate - time.monotonic()))
        created = hook(ifs, "orders", {"orders": specs[start:start + batch]})["orders"]
        now = time.time()
        run.released.update({o["OrderNo"]: now for o in created})
    run.last_release = time.time()


def job_states(ctx: Context, flow: Flow = Flow.ORDER_PUSH) -> Counter:
    with ctx.session() as session:
        return Counter(dict(session.execute(
            select(Job.state, func.count()).where(Job.flow == flow.value)
            .group_by(Job.state)).all()))


@dataclass
class Shortages:
    """The stock check's verdicts against ShipBob's truth once all is pushed (nothing
    ships during the bench, so every pushed unit is still committed)."""

    flagged: int = 0          # orders pushed short (stock_shortage items)
    held: int = 0             # orders held unpushed
    missed: list[str] = field(default_factory=list)       # SKU/FC committed beyond on hand, never flagged
    false_flags: list[str] = field(default_factory=list)  # flagged SKU/FC that ShipBob can cover
    false_holds: list[str] = field(default_factory=list)  # held for a SKU/FC that could take it


def shortage_verdicts(ctx: Context, shipbob: str) -> Shortages:
    from connector.flows.stock_shortage import HELD, HOLD, SHORTFALLS

    levels = {(item["sku"], loc["location_id"]): loc for item in hook(shipbob, "dump/inventory", method="GET")
              for loc in item["locations"]}
    with ctx.session() as session:
        flagged = session.execute(select(Job).where(Job.flow == Flow.STOCK_SHORTAGE.value)).scalars().all()
        held = session.execute(select(Job).where(
            Job.flow == Flow.ORDER_PUSH.value, Job.state == JobState.ATTENTION.value,
            Job.waits_for == HOLD)).scalars().all()
    over = {key for key, loc in levels.items() if loc["committed_quantity"] > loc["on_hand_quantity"]}
    named = {(s["sku"], s["center"]) for j in flagged for s in j.payload[SHORTFALLS]}
    verdicts = Shortages(len(flagged), len(held))
    verdicts.missed = [f"{sku}@{fc}" for sku, fc in sorted(over - named)]
    verdicts.false_flags = [f"{sku}@{fc}" for sku, fc in sorted(named - over)]
    for job in held:
        for s in job.payload[HELD]:
            if levels[(s["sku"], s["center"])]["fulfillable_quantity"] >= s["need"]:
                verdicts.false_holds.append(f"{job.key} {s['sku']}@{s['center']}")
    return verdicts


def mapping_file(policy: str, directory: Path) -> Path:
    """The default mapping with the bench's `shortage` policy, for the workers."""
    data = load_mapping(None).model_dump(mode="json")
    data["shortage"] = policy
    path = directory / "mapping.json"
    path.write_text(json.dumps(data))
    return path


def wait_until_pushed(ctx: Context, n: int, timeout: float) -> Counter:
    deadline = time.monotonic() + timeout
    last_report = 0.0
    while True:
        states = job_states(ctx)
        finished = sum(v for k, v in states.items() if k not in (JobState.PENDING.value,
                                                                 JobState.RUNNING.value))
        if finished >= n:
            return states
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {finished} of {n} orders finished: {dict(states)}")
        if time.monotonic() - last_report > 10:
            print(f"  ... {finished}/{n} orders finished", file=sys.stderr, flush=True)
            last_report = time.monotonic()
        time.sleep(0.5)


def run_bench(args) -> None:
    ctx_spawn = multiprocessing.get_context("spawn")
    parent, child = ctx_spawn.Pipe()
    server = ctx_spawn.Process(target=serve_sandboxes, args=(child, args.rate_limit), daemon=True)
    server.start()
    ifs, shipbob = parent.recv()
    stores = Stores.create()
    logdir = Path(tempfile.mkdtemp(prefix="order-push-bench-"))
    stack = None
    try:
        hook(ifs, "seed", {"orders": 0, "parts": args.parts, "seed": 7, "sites": SITES,
                           "split_ratio": 0, "purchase_orders": 0, "customers": CUSTOMERS})
        hook(shipbob, "seed", {"count": args.parts, "seed": 7, "level_range": list(args.stock)})
        settings = load_settings(
            database_url=stores.database_url, redis_url=REDIS_URL, redis_prefix=stores.redis_prefix,
            ifs_base_url=ifs, shipbob_base_url=shipbob,
            shipbob_rate_limit_per_minute=args.rate_limit, reports_dir=logdir / "reports",
            mapping_file=mapping_file(args.shortage, logdir))
        ctx = Context(settings)
        env = env_for(settings, broker_url=REDIS_URL, order_poll_seconds=args.poll_seconds,
                      tracking_poll_seconds=3600, replenishment_poll_seconds=3600,
                      receiving_poll_seconds=3600, returns_poll_seconds=3600,
                      worker_metrics_port=0)
        stack = Stack(env=env, logdir=logdir)
        names = ["polls"] + [f"push{i}" for i in range(1, args.workers + 1)]
        stack.start_worker("polls", concurrency=1, queues=["polls", "sweep"])
        for name in names[1:]:
            stack.start_worker(name, concurrency=1, queues=[Flow.ORDER_PUSH.value])
        for name in names:
            wait_for(lambda n=name: b" ready." in (logdir / f"{n}.log").read_bytes(), 60, name)
        stack.start_beat()

        specs = order_specs(args.orders, args.parts, random.Random(args.seed))
        print(f"releasing {args.orders:,} orders "
              f"{'at once' if args.release_rate <= 0 else f'at {args.release_rate:g}/s'}; "
              f"{args.workers} push workers; ShipBob limit {args.rate_limit}/{WINDOW_SECONDS:g}s "
              f"(client budget {safe_limit(args.rate_limit)})", file=sys.stderr, flush=True)
        run = Run()
        release(ifs, specs, args.release_rate, run)
        states = wait_until_pushed(ctx, args.orders, args.timeout)
        run.finished = time.time()

        parent.send("counts")
        ifs_kinds, sb_kinds, stamps = parent.recv()
        report(args, run, states, ifs, shipbob, ifs_kinds, sb_kinds, stamps, logdir,
               shortage_verdicts(ctx, shipbob))
    finally:
        if stack is not None:
            stack.stop()
        parent.send("stop")
        server.join(timeout=10)
        stores.drop()
        if args.keep_logs:
            print(f"worker logs kept in {logdir}", file=sys.stderr)
        else:
            shutil.rmtree(logdir, ignore_errors=True)


# ------------------------------------------------------------------- report

@dataclass
class Share:
    """How much of the limit the accepted calls used, per `window` seconds."""

    tumbling: list[float]     # each full window from the first call on
    sliding_mean: float       # windows ending at each call, one window or more after the first
    sliding_min: float
    peak: float               # the busiest sliding window
    busy: float               # seconds from the first to the last call


def window_share(stamps: list[float], limit: int, window: float) -> Share:
    stamps = sorted(stamps)
    if not stamps:
        return Share([], 0.0, 0.0, 0.0, 0.0)
    first, last = stamps[0], stamps[-1]
    full, lo, peak = [], 0, 0
    for hi, end in enumerate(stamps):
        while stamps[lo] <= end - window:
            lo += 1
        peak = max(peak, hi - lo + 1)
        if end - first >= window:
            full.append(hi - lo + 1)
    tumbling = [sum(1 for t in stamps if first + k * window <= t < first + (k + 1) * window) / limit
                for k in range(int((last - first) // window))]
    if not full:  # shorter than a window: the one window there was
        full = [len(stamps)]
    return Share(tumbling, statistics.fmean(full) / limit, min(full) / limit, peak / limit,
                 last - first)


def timeline(stamps: list[float], bucket: float = 5.0) -> str:
    """Accepted calls per `bucket` seconds from the first call."""
    if not stamps:
        return ""
    first = min(stamps)
    counts = Counter(int((t - first) // bucket) for t in stamps)
    return " ".join(str(counts.get(k, 0)) for k in range(max(counts) + 1))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(args, run: Run, states: Counter, ifs: str, shipbob: str, ifs_kinds: dict,
           sb_kinds: dict, stamps: list[float], logdir: Path, shortages: Shortages) -> None:
    n = args.orders
    sb_stats = hook(shipbob, "stats", method="GET")
    ifs_stats = hook(ifs, "stats", method="GET")
    orders = hook(shipbob, "dump/orders", method="GET")
    per_ref = Counter(o["reference_id"] for o in orders)
    created = {o["reference_id"]: datetime.fromisoformat(o["created_date"]).timestamp() for o in orders}
    latencies = [created[r] - t for r, t in run.released.items() if r in created]
    written = sum(1 for o in hook(ifs, "dump/CustomerOrderSet", method="GET")["value"]
                  if o.get("Cf_Shipbob_Order_Id"))

    sb_calls = sb_stats["total"]
    sb_tokens = sb_kinds.get("token", 0)
    ifs_calls = sum(ifs_kinds.values())
    limited = sb_stats["rate_limited"]["total"]
    share = window_share(stamps, args.rate_limit, WINDOW_SECONDS)
    polls = _count(logdir / "polls.log", b"workers.tasks.poll[") // 2  # received + succeeded
    span = run.finished - run.first_release

    flow_calls = sum(v for k, v in ifs_kinds.items() if k != "token" and "(poll" not in k)
    lookups = sb_stats["requests"].get("GET /2026-01/product", 0)
    stock_reads = sb_stats["requests"].get("GET /2026-01/inventory-level/locations", 0)
    windows = statistics.fmean(share.tumbling) if share.tumbling else None
    slow_n, slow_s, limited_retries = _worker_waits(logdir)
    rows = [
        ("orders released / pushed to ShipBob", f"{n:,} / {len(per_ref):,}", ""),
        ("ShipBob orders per reference (max)", f"{max(per_ref.values(), default=0)}", "1"),
        ("IFS orders carrying their ShipBob id", f"{written:,}", f"{n:,}"),
        ("jobs by state", ", ".join(f"{k} {v}" for k, v in sorted(states.items())), ""),
        ("ShipBob calls per order", f"{sb_calls / n:.3f}",
         f"<= {GOALS['shipbob_per_order']}  {_mark(sb_calls / n <= GOALS['shipbob_per_order'])}"),
        ("  without the SKU look-ups (GET /product)", f"{(sb_calls - lookups) / n:.3f}", ""),
        (f"  stock check ({args.shortage}): stock reads (GET /inventory-level/locations)",
         f"{stock_reads}", ""),
        ("  orders pushed short and flagged / held for stock", f"{shortages.flagged} / {shortages.held}", ""),
        ("  SKU/FC committed beyond on hand, never flagged", f"{len(shortages.missed)}",
         f"0  {_mark(not shortages.missed)}"),
        ("  false alarms: flagged SKU/FC ShipBob covers / held orders that fit",
         f"{len(shortages.false_flags)} / {len(shortages.false_holds)}",
         f"0 / 0  {_mark(not shortages.false_flags and not shortages.false_holds)}"),
        ("IFS calls per order (all: polls, tokens, retries)", f"{ifs_calls / n:.3f}",
         f"<= {GOALS['ifs_per_order']:g}  {_mark(ifs_calls / n <= GOALS['ifs_per_order'])}"),
        ("  the push's own calls only", f"{flow_calls / n:.3f}", ""),
        ("429s received", f"{limited}",
         f"{GOALS['rate_limited']}  {_mark(limited <= GOALS['rate_limited'])}"),
        (f"rate limit used: calls per full {WINDOW_SECONDS:g}s window / limit",
         "n/a" if windows is None else f"{windows:.1%}",
         f">= {GOALS['limit_share']:.0%}  "
         + ("(no full window)" if windows is None else _mark(windows >= GOALS["limit_share"]))),
        ("  each full window, from the first call", " ".join(f"{x:.1%}" for x in share.tumbling) or "-", ""),
        ("  sliding windows (ending at each call): mean / min / max",
         f"{share.sliding_mean:.0%} / {share.sliding_min:.0%} / {share.peak:.0%}", "max <= 100%"),
        ("release -> ShipBob latency p50 / p95 / max",
         f"{percentile(latencies, 50):.1f} / {percentile(latencies, 95):.1f} / {max(latencies):.1f} s", ""),
        ("busy period (first to last ShipBob call)", f"{share.busy:.1f} s", ""),
        ("first release -> every order finished", f"{span:.1f} s", ""),
        ("orders per minute over that time", f"{n / span * 60:,.0f}",
         f"limit {args.rate_limit}, client budget {safe_limit(args.rate_limit)}"),
        ("x-remaining-calls slow-downs (sleeps, total)", f"{slow_n} / {slow_s:.0f} s", ""),
        ("jobs deferred by the limiter (RateLimited)", f"{limited_retries}", ""),
    ]
    width = max(len(r[0]) for r in rows) + 2
    print(f"\n== order push: {n:,} orders, {args.workers} worker processes, "
          f"ShipBob limit {args.rate_limit}/{WINDOW_SECONDS:g}s sliding "
          f"({args.rate_limit / REAL_LIMIT_PER_MINUTE:g}x the real {REAL_LIMIT_PER_MINUTE}/min), "
          f"release {'all at once' if args.release_rate <= 0 else f'{args.release_rate:g}/s'}, "
          f"poll every {args.poll_seconds:g}s, stock check {args.shortage}, "
          f"ShipBob stock {args.stock[0]}-{args.stock[1]} per SKU and center")
    print(f"  {'measure':<{width}}{'value':>24}   goal")
    for name, value, goal in rows:
        print(f"  {name:<{width}}{value:>24}   {goal}")
    for name in ("missed", "false_flags", "false_holds"):
        if getattr(shortages, name):
            print(f"  {name}: {', '.join(getattr(shortages, name)[:20])}")
    print(f"\n  ShipBob calls accepted per 5 s: {timeline(stamps)}")
    print("  ShipBob calls: " + ", ".join(f"{k} {v}" for k, v in sorted(sb_stats["requests"].items()))
          + f"; token {sb_tokens}")
    print("  IFS calls: " + ", ".join(f"{k} {v}" for k, v in sorted(ifs_kinds.items()))
          + f"  (sandbox: {ifs_stats['total_requests']} projection calls, "
            f"{ifs_stats['tokens_issued']} tokens; ~{polls} polls ran)")


def _worker_waits(logdir: Path) -> tuple[int, float, int]:
    """From the push workers' JSON logs: x-remaining-calls slow-downs (count,
    seconds) and jobs that gave up waiting for a limiter slot."""
    slow_n, slow_s, deferred = 0, 0.0, 0
    for path in logdir.glob("push*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if "slowing down" in line:
                match = re.search(r"slowing down ([0-9.]+)s", line)
                slow_n += 1
                slow_s += float(match.group(1)) if match else 0.0
            elif "retry in" in line and "RateLimited" in line:
                deferred += 1
    return slow_n, slow_s, deferred


def _count(path: Path, needle: bytes) -> int:
    try:
        return path.read_bytes().count(needle)
    except OSError:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4, help="push worker processes (concurrency 1)")
    parser.add_argument("--rate-limit", type=int, default=300,
                        help="ShipBob requests per 60 s window, sandbox and client alike")
    parser.add_argument("--release-rate", type=float, default=0,
                        help="orders released per second; 0 = all at once")
    parser.add_argument("--parts", type=int, default=100, help="distinct SKUs the orders draw from")
    parser.add_argument("--poll-seconds", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--shortage", choices=["flag", "hold", "off"], default="flag",
                        help="the mapping's stock check policy (default flag)")
    parser.add_argument("--stock", type=int, nargs=2, default=(500, 1000), metavar=("LO", "HI"),
                        help="ShipBob's units per SKU and fulfillment center, drawn from LO..HI")
    run_bench(parser.parse_args())


if __name__ == "__main__":
    main()
