"""Release-to-ShipBob latency with and without the IFS event. Not a test.

    .venv/bin/python bench/release_latency.py [--trickle 12] [--trickle-every 10]
                                              [--burst 30] [--poll-seconds 60] [--keep-logs]

The real pipeline (as bench/order_push.py): both sandboxes in a child process
that timestamps every ShipBob API call, the receiver under gunicorn, a polls
worker, a push worker (2 processes) and beat, state in a temporary
PostgreSQL database, broker and limiter in Redis under a unique prefix.
ShipBob's real limit (150 requests per 60 s sliding window) and the real
order poll interval (ORDER_POLL_SECONDS, default 60 s) are used, so the
poll-only numbers are what a deployment sees.

Four phases, one after another, each waiting until its orders are at ShipBob:

- trickle, with the event: `--trickle` orders released one by one every
  `--trickle-every` seconds (a steady 100 orders/hour, compressed), and after
  each release the bench plays the IFS Event Action: it POSTs
  /events/ifs/order-released with the order number and the X-Api-Key header;
- burst, with the event: `--burst` orders released at once, one event each
  (8 at a time, as IFS's background jobs would send them);
- trickle and burst again without the event: only the poll finds them. The
  trickle's orders land evenly across the poll interval; the burst follows
  the poll that found the trickle's last order, so it waits about a whole
  interval: the worst case for a burst (on average it waits half).

A warm-up of 4 orders with events runs first and is not counted (the first
job of each worker process opens connections and fetches tokens). An order's
latency runs from the moment the IFS sandbox's hook that released
it returned to its ShipBob order's `created_date` (the same clock, one
machine). Also printed: how long the receiver took to answer the events, and
the most ShipBob calls accepted in any 60 s window beside the limit.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.order_push import Stores, hook, percentile, serve_sandboxes, window_share  # noqa: E402
from cli.stack import Stack, env_for, wait_for  # noqa: E402
from connector.db.models import Flow  # noqa: E402
from connector.settings import load_settings  # noqa: E402
from connector.shipbob.ratelimit import WINDOW_SECONDS, safe_limit  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
RATE_LIMIT = 150  # ShipBob's real limit
API_KEY = "bench-" + "k" * 32
PARTS = 20
EVENT_SENDERS = 8
GOAL_P95_TRICKLE_EVENT = 10.0


@dataclass
class Phase:
    name: str
    event: bool
    released: dict[str, float] = field(default_factory=dict)   # OrderNo -> epoch seconds
    answers: list[float] = field(default_factory=list)         # event round trips, seconds
    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


class Bench:
    def __init__(self, ifs: str, shipbob: str, receiver: str, parts: int):
        self.ifs, self.shipbob, self.receiver, self.parts = ifs, shipbob, receiver, parts
        self.counter = 0
        self.session = requests.Session()

    def _specs(self, n: int) -> list[dict]:
        specs = []
        for _ in range(n):
            self.counter += 1
            part = 1 + self.counter % self.parts
            specs.append({"Contract": ("S01", "S02")[self.counter % 2], "ShipViaCode": "UPS-GND",
                          "CustomerNo": f"CU{1001 + self.counter % 50}", "OrderId": "DTC",
                          "lines": [{"PartNo": f"P{part:05d}", "BuyQtyDue": 1}]})
        return specs

    def release(self, phase: Phase, n: int) -> list[str]:
        """Create `n` orders Released in IFS in one hook call."""
        created = hook(self.ifs, "orders", {"orders": self._specs(n)})["orders"]
        now = time.time()
        numbers = [o["OrderNo"] for o in created]
        phase.released.update({number: now for number in numbers})
        return numbers

    def send_event(self, phase: Phase, order_no: str) -> None:
        started = time.perf_counter()
        response = requests.post(f"{self.receiver}/events/ifs/order-released", json={"OrderNo": order_no},
                                 headers={"X-Api-Key": API_KEY}, timeout=30)
        phase.answers.append(time.perf_counter() - started)
        phase.statuses.append(response.status_code)

    def trickle(self, phase: Phase, n: int, every: float) -> None:
        start = time.monotonic()
        for i in range(n):
            time.sleep(max(0.0, start + i * every - time.monotonic()))
            [order_no] = self.release(phase, 1)
            if phase.event:
                self.send_event(phase, order_no)

    def burst(self, phase: Phase, n: int) -> None:
        numbers = self.release(phase, n)
        if phase.event:
            with ThreadPoolExecutor(EVENT_SENDERS) as pool:
                list(pool.map(lambda number: self.send_event(phase, number), numbers))

    def wait_pushed(self, phase: Phase, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            created = {o["reference_id"]: datetime.fromisoformat(o["created_date"]).timestamp()
                       for o in hook(self.shipbob, "dump/orders", method="GET")}
            if all(number in created for number in phase.released):
                phase.latencies = [created[number] - at for number, at in phase.released.items()]
                return
            if time.monotonic() > deadline:
                missing = [n for n in phase.released if n not in created]
                raise TimeoutError(f"{phase.name}: {len(missing)} orders not at ShipBob: {missing[:5]}")
            time.sleep(0.25)


def run(args) -> None:
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    server = spawn.Process(target=serve_sandboxes, args=(child, RATE_LIMIT), daemon=True)
    server.start()
    ifs, shipbob = parent.recv()
    stores = Stores.create()
    logdir = Path(tempfile.mkdtemp(prefix="release-latency-bench-"))
    stack = None
    started = time.monotonic()
    try:
        hook(ifs, "seed", {"orders": 0, "parts": PARTS, "seed": 7, "sites": ["S01", "S02"],
                           "split_ratio": 0, "purchase_orders": 0, "customers": 50})
        hook(shipbob, "seed", {"count": PARTS, "seed": 7, "level_range": [5000, 10000]})
        settings = load_settings(
            database_url=stores.database_url, redis_url=REDIS_URL, redis_prefix=stores.redis_prefix,
            ifs_base_url=ifs, shipbob_base_url=shipbob, shipbob_rate_limit_per_minute=RATE_LIMIT,
            ifs_events_api_key=API_KEY, reports_dir=logdir / "reports")
        env = env_for(settings, broker_url=REDIS_URL, order_poll_seconds=args.poll_seconds,
                      worker_metrics_port=0)
        stack = Stack(env=env, logdir=logdir)
        stack.start_worker("polls", concurrency=1, queues=["polls", "sweep", "webhooks"])
        stack.start_worker("push", concurrency=2, queues=[Flow.ORDER_PUSH.value])
        for name in ("polls", "push"):
            wait_for(lambda n=name: b" ready." in (logdir / f"{n}.log").read_bytes(), 60, name)
        receiver = stack.start_receiver()
        stack.start_beat()
        bench = Bench(ifs, shipbob, receiver, PARTS)
        wait = args.poll_seconds * 2 + 60

        # Not measured: each worker process's first job opens its connections
        # and fetches tokens (~4 s here), which a running deployment has done.
        warm_up = Phase("warm-up", True)
        bench.burst(warm_up, 4)
        bench.wait_pushed(warm_up, wait)

        phases = [Phase("trickle", True), Phase("burst", True), Phase("trickle", False), Phase("burst", False)]
        for phase in phases:
            print(f"{phase.name} {'with' if phase.event else 'without'} the event ...", file=sys.stderr, flush=True)
            if phase.name == "trickle":
                bench.trickle(phase, args.trickle, args.trickle_every)
            else:
                bench.burst(phase, args.burst)
            bench.wait_pushed(phase, wait)

        parent.send("counts")
        _ifs_kinds, _sb_kinds, stamps = parent.recv()
        sb_stats = hook(shipbob, "stats", method="GET")
        references = Counter(o["reference_id"] for o in hook(shipbob, "dump/orders", method="GET"))
        report(args, [warm_up, *phases], stamps, sb_stats, references, time.monotonic() - started)
    finally:
        if stack is not None:
            stack.stop()
        parent.send("stop")
        server.join(timeout=10)
        stores.drop()
        if args.keep_logs:
            print(f"logs kept in {logdir}", file=sys.stderr)
        else:
            shutil.rmtree(logdir, ignore_errors=True)


def report(args, phases: list[Phase], stamps: list[float], sb_stats: dict, references: Counter,
           elapsed: float) -> None:
    released = sum(len(p.released) for p in phases)
    warm_up, *phases = phases
    share = window_share(stamps, RATE_LIMIT, WINDOW_SECONDS)
    peak = round(share.peak * RATE_LIMIT)
    print(f"\n== release -> ShipBob order latency: order poll every {args.poll_seconds:g} s, "
          f"trickle {args.trickle} orders 1 per {args.trickle_every:g} s "
          f"({3600 / args.trickle_every:.0f}/hour), burst {args.burst} at once, "
          f"ShipBob limit {RATE_LIMIT}/{WINDOW_SECONDS:g} s")
    print(f"  {'release pattern':<10} {'IFS event':<10} {'orders':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7}"
          f"   event answered p50 / max (status)")
    for phase in phases:
        lat = phase.latencies
        answers = (f"{percentile(phase.answers, 50) * 1000:.0f} / {max(phase.answers) * 1000:.0f} ms "
                   f"({', '.join(str(s) for s in sorted(set(phase.statuses)))})") if phase.answers else "-"
        print(f"  {phase.name:<10} {'yes' if phase.event else 'no':<10} {len(lat):>6} "
              f"{percentile(lat, 50):>7.1f} {percentile(lat, 95):>7.1f} {max(lat):>7.1f}   {answers}")
    trickle_event = phases[0].latencies
    p95 = percentile(trickle_event, 95)
    print(f"\n  goal: p95 <= {GOAL_P95_TRICKLE_EVENT:g} s at a trickle with the event: {p95:.1f} s "
          f"{'ok' if p95 <= GOAL_P95_TRICKLE_EVENT else 'MISSED'}")
    print(f"  most ShipBob calls accepted in any {WINDOW_SECONDS:g} s window: {peak} "
          f"(limit {RATE_LIMIT}, client budget {safe_limit(RATE_LIMIT)}) "
          f"{'ok' if peak <= safe_limit(RATE_LIMIT) else 'EXCEEDED'}; 429s: {sb_stats['rate_limited']['total']}")
    print(f"  ShipBob orders: {len(references)} for {released} released ({len(warm_up.released)} of them "
          f"the warm-up), at most "
          f"{max(references.values(), default=0)} per IFS order; ShipBob calls: {len(stamps)}; "
          f"run took {elapsed:.0f} s")
    print("  mean latency per phase: " + ", ".join(
        f"{p.name}/{'event' if p.event else 'poll'} {statistics.fmean(p.latencies):.1f} s" for p in phases))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trickle", type=int, default=12, help="orders released one by one, per trickle phase")
    parser.add_argument("--trickle-every", type=float, default=10.0, help="seconds between trickle releases")
    parser.add_argument("--burst", type=int, default=30, help="orders released at once, per burst phase")
    parser.add_argument("--poll-seconds", type=float, default=60.0, help="ORDER_POLL_SECONDS")
    parser.add_argument("--keep-logs", action="store_true")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
