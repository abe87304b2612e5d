"""Fault-injection soak of the whole pipeline. Not part of the quick test run.

    .venv/bin/python bench/soak.py              # the full soak (make soak): >= 1,000 orders
    .venv/bin/python bench/soak.py --short      # ~150 orders in a few minutes (make soak-short, CI)
        [--orders N] [--seed S] [--shipbob-rate-limit R] [--run-dir DIR] [--json FILE] [--keep-services]
        [--no-kill-refresh]

What runs: a private PostgreSQL cluster and a private Redis (bench/soak_services.py, so
restarting them never touches the machine's own), both sandboxes, the webhook receiver
under gunicorn, 4 Celery worker processes (prefork, one child each), beat with short
intervals. ShipBob is used in OAuth mode with a 20 s access-token TTL, so token refresh
under concurrency is exercised all the time.

What happens (bench/soak_day.py): IFS orders (70 % seeded, the rest arriving in waves),
site splits, shipments split 2-3 ways, a few cancellations, late tracking, deliveries,
~5 % returns with every action (and cancelled and unknown-shipment ones), purchase orders
received in parts with a warehouse split, a daily inventory sync, and after the push
(bench/soak_life.py) orders edited in IFS before and after the pick, a line cancelled in
IFS, an order short of stock and a purchase order line raised after its WRO, with
ShipBob's inventory history recorded in IFS - while the faults come:
SIGKILL of a random worker every few seconds, Redis restarted empty once, PostgreSQL
restarted once, ShipBob 429 bursts, 5xx and expired tokens, webhooks duplicated,
reordered, delayed, some never delivered and some badly signed, IFS stale ETags,
MI_MODIFIED_ERROR, 5xx, 429, lost responses and slow responses. And the stalls
(bench/soak_stalls.py; job lease 12 s, HTTP timeout 6 s): a worker frozen (SIGSTOP) right after the read
that precedes a write, past its lease, until another worker took the job over and ran
it, then thawed - in replenishment, inbound receipt and return voucher; one worker's
PostgreSQL link (through bench/soak_proxy.py) cut while its API call is in flight, past
its lease; a worker killed while ShipBob's answer to its refresh grant is on the way
(the stored refresh token is retired; jobs wait), then the operator's re-authorisation
(`ifs-shipbob auth shipbob --code ...`; --no-kill-refresh leaves it out).

Then the faults stop, workers and beat keep running, webhooks are flushed, and the soak
waits until nothing is pending, running or unrouted and reconcile finds no unexplained
difference (time to drain); a closing inventory sync runs. The scorecard
(bench/soak_scorecard.py) compares both sandboxes with each other and with what the
warehouse did: WROs per IFS purchase order (no line on two WROs, quantities equal to the
PO lines), stock per SKU and site (IFS planning levels against ShipBob's), and each
change after the push (bench/soak_life.py). Exit 1 on
any loss, duplicate, stuck item, quantity mismatch or unexpected parked item.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [p for p in (str(BENCH), str(ROOT)) if p not in sys.path]

import soak_life  # noqa: E402
from soak_day import Chaos, Day  # noqa: E402
from soak_hooks import hook, ifs_rows  # noqa: E402
from soak_scorecard import compute, failures, render  # noqa: E402
from soak_services import Services  # noqa: E402
from soak_stalls import Stalls  # noqa: E402

WORKERS = ["w1", "w2", "w3", "w4"]
PARTITIONED_WORKER = "w4"   # reaches PostgreSQL through a proxy the soak can cut
PARKED_SHIP_VIA = "C-SOAK-SHIPVIA"
PARKED_NEW_SKU = "C-SOAK-NEWSKU"
NEW_SKU = "P-NEW-001"
CHANGE_STAMP = "LastChanged"  # the IFS tenant's change stamp on orders: the poll sees edits by it
STOCK_TOP_UP = 100  # per part and site: more than a full soak's orders take of one part


@dataclass(frozen=True)
class Profile:
    name: str
    orders: int
    parts: int
    seed_share: float            # of the orders seeded before the start; the rest arrive in waves
    purchase_orders: int
    late_purchase_orders: int
    split_ratio: float           # IFS orders with lines at two sites
    cancel_rate: float
    deliver_rate: float
    return_rate: float           # of shipments
    late_tracking_rate: float    # labels printed without tracking, added later (no webhook)
    fault_min: float             # the fault phase lasts at least this long...
    fault_max: float             # ...and at most this long (then the day finishes without faults)
    kill_every: tuple[float, float]
    restart_after: tuple[float, float]
    redis_restart_at: float      # seconds into the fault phase
    postgres_restart_at: float
    inventory_sync_at: float
    shipbob_fault_every: tuple[float, float]
    ifs_fault_every: tuple[float, float]
    ifs_error_rate: float
    drain_timeout: float
    shipbob_rate_limit: int      # requests/min the ShipBob sandbox allows
    # Rows late by this long are re-published by the sweeper. 10 s takes over fast; under a
    # backlog longer than that every due row is re-published again each grace period, which
    # outgrows what the pool can consume on this machine at full volume (see the report).
    sweep_grace_seconds: float = 10.0
    neighbour_bursts_at: tuple[float, ...] = ()   # another installation eats the rate limit...
    neighbour_burst_seconds: float = 8.0          # ...for at most this long
    # Short, so a frozen or partitioned run is taken over within the fault phase; the
    # fence needs the lease to outlast a write's timeout plus the margin (one host: no skew).
    job_lease_seconds: float = 12.0
    http_timeout_seconds: float = 6.0
    fence_margin_seconds: float = 2.0
    takeovers_per_flow: int = 1                   # replenishment, inbound receipt, return voucher
    partition_at: float = 20.0                    # seconds into the fault phase
    kill_refresh_at: float | None = 12.0          # a refresh grant's answer lost; None: not (--no-kill-refresh)
    stall_overtime: float = 60.0                  # the fault phase waits this long past fault_max for stalls
    # The topics subscribed to: 2026-07 adds tracking, delivery, address and line-item events.
    webhook_api_version: str = "2026-07"


SHORT = Profile(
    name="short", orders=150, parts=40, seed_share=0.7, purchase_orders=3, late_purchase_orders=1,
    split_ratio=0.15, cancel_rate=0.03, deliver_rate=0.35, return_rate=0.06, late_tracking_rate=0.08,
    fault_min=60, fault_max=100, kill_every=(5, 10), restart_after=(0.5, 2.0),
    redis_restart_at=18, postgres_restart_at=36, inventory_sync_at=8,
    shipbob_fault_every=(4, 8), ifs_fault_every=(3, 6), ifs_error_rate=0.02,
    drain_timeout=120, shipbob_rate_limit=600, neighbour_bursts_at=(28,))
FULL = replace(
    SHORT, name="full", orders=1000, parts=80, purchase_orders=10, late_purchase_orders=4,
    cancel_rate=0.02, return_rate=0.05, fault_min=240, fault_max=900, kill_every=(5, 10),
    shipbob_fault_every=(8, 16), ifs_fault_every=(4, 8), sweep_grace_seconds=30,
    redis_restart_at=90, postgres_restart_at=170, inventory_sync_at=30, drain_timeout=900,
    shipbob_rate_limit=1200, neighbour_bursts_at=(60, 210), neighbour_burst_seconds=10,
    takeovers_per_flow=3, partition_at=120, kill_refresh_at=60.0, webhook_api_version="2026-01")


def rate_limits(profile: Profile) -> tuple[int, int, str]:
    """The sandbox's limit and the connector's, slightly above it: its limiter
    (which keeps a 5 % margin) then lets the pool run into the sandbox's real 429s."""
    from connector.shipbob.ratelimit import safe_limit

    sandbox = profile.shipbob_rate_limit
    connector = int(sandbox * 1.08)
    text = (f"ShipBob sandbox allows {sandbox}/min; the connector's limiter is set to {connector}/min "
            f"(budget {safe_limit(connector)}/min after its 5 % margin, above the sandbox's), "
            f"plus a neighbour on the same ShipBob user and application that takes what is left of "
            f"the window (up to a third of the limit in {profile.neighbour_burst_seconds:.0f}s, "
            f"{len(profile.neighbour_bursts_at)}x: the sandbox's own 429s), plus injected 429 bursts; the real API allows 150/min")
    return sandbox, connector, text


class Soak:
    def __init__(self, profile: Profile, seed: int, run_dir: Path, keep_services: bool):
        self.profile, self.seed, self.run_dir = profile, seed, run_dir
        self.rng = random.Random(seed)
        self.keep_services = keep_services
        self.started = time.monotonic()
        self.proc_lock = threading.Lock()
        self.services: Services | None = None
        self.stack = None
        self.ctx = None
        self.day: Day | None = None
        self.chaos: Chaos | None = None
        self.stalls: Stalls | None = None
        self.proxy = None
        self.sandboxes: list = []
        self.expected_refs: int | None = None
        self.timings: dict[str, float] = {}
        self.unexpected_exits: list = []

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    # -- the run ----------------------------------------------------------------------

    def run(self) -> int:
        self.setup()
        self.timings["setup_seconds"] = time.monotonic() - self.started
        self.fault_phase()
        drained = self.drain()
        return self.finish(drained)

    def setup(self) -> None:
        import soak_stalls
        from soak_proxy import PartitionableProxy

        from cli.stack import Stack, env_for
        from connector.context import Context
        from connector.db.session import migrate
        from connector.ifs.names import IfsNames
        from connector.settings import Settings, load_settings
        from sandbox.ifs import IfsSandboxConfig
        from sandbox.ifs.app import create_app as ifs_app
        from sandbox.ifs.tenant import TenantRenames
        from sandbox.server import BackgroundServer
        from sandbox.shipbob import ShipBobSandboxConfig
        from sandbox.shipbob import create_app as shipbob_app

        p = self.profile
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # In a fresh temporary directory, not the run directory: the postgres OS user
        # must be able to reach it, and a pytest tmp_path (0700) would not let it.
        self.services = Services(keep=self.keep_services).start()
        self.say(f"private PostgreSQL on :{self.services.postgres.port}, Redis on :{self.services.redis.port} "
                 f"(no persistence) in {self.services.root}; logs and scorecard in {self.run_dir}")
        sandbox_limit, connector_limit, limits_text = rate_limits(p)
        self.limits_text = limits_text
        self.say(limits_text)
        ifs = ifs_app(IfsSandboxConfig(token_ttl_seconds=30, fault_seed=self.seed,
                                       tenant=TenantRenames(change_stamps={"CustomerOrder": CHANGE_STAMP})))
        shipbob = shipbob_app(ShipBobSandboxConfig(rate_limit_per_minute=sandbox_limit, access_token_ttl_seconds=20,
                                                   webhook_retry_time_scale=0.01, webhook_workers=8,
                                                   webhook_api_version=p.webhook_api_version,
                                                   random_seed=self.seed))
        self.holds, self.refused = soak_stalls.install(ifs, shipbob, IfsNames())
        self.sandboxes = [BackgroundServer(ifs).start(), BackgroundServer(shipbob).start()]
        self.stack = Stack(env={}, logdir=self.run_dir / "logs", ifs=self.sandboxes[0], shipbob=self.sandboxes[1])
        self.stack.env.update(IFS_BASE_URL=self.stack.ifs.url, SHIPBOB_BASE_URL=self.stack.shipbob.url)
        self.proxy = PartitionableProxy(self.services.postgres.port).start()
        overrides = dict(
            database_url=self.services.postgres.url, redis_url=self.services.redis.url,
            broker_url=self.services.redis.url, redis_prefix="soak:",
            ifs_base_url=self.stack.ifs.url, shipbob_base_url=self.stack.shipbob.url,
            shipbob_token=None, shipbob_client_id="sb-client", shipbob_client_secret="sb-secret",
            shipbob_refresh_token="sandbox-refresh-0", shipbob_rate_limit_per_minute=connector_limit,
            order_poll_seconds=2, tracking_poll_seconds=5, shipments_poll_seconds=10, replenishment_poll_seconds=5,
            receiving_poll_seconds=5, sweep_seconds=2, sweep_grace_seconds=p.sweep_grace_seconds,
            job_lease_seconds=p.job_lease_seconds, http_timeout_seconds=p.http_timeout_seconds,
            fence_margin_seconds=p.fence_margin_seconds,
            order_poll_overlap_minutes=10, reports_dir=str(self.run_dir / "reports"),
            inventory_activity_poll_seconds=5, mapping_file=self.mapping_file(),
            shipbob_webhook_api_version=p.webhook_api_version,
            inventory_sync_hour_utc=(datetime.now(timezone.utc).hour + 12) % 24,  # beat's cron stays quiet
        )
        if "returns_poll_seconds" in Settings.model_fields:
            overrides["returns_poll_seconds"] = 5
        settings = load_settings(**overrides)
        self.stack.env.update(env_for(settings, worker_metrics_port=0, shipbob_token=""))
        os.environ.update(self.stack.env)  # this process publishes wake-ups to the same broker
        migrate(settings.database_url)
        self.ctx = Context(settings)
        self.seed_world()
        self.stack.start_receiver()
        from cli.webhooks_cmd import subscribe_receiver

        sub = subscribe_receiver(self.ctx, f"{self.stack.receiver_url}/webhooks/shipbob")
        self.say(f"receiver up under gunicorn; subscribed to {len(sub['topics'])} topics of "
                 f"{p.webhook_api_version} (OAuth token, 20 s TTL)")
        for name in WORKERS:
            self.start_worker(name)
        self.stack.start_beat()
        self.say("4 worker processes (prefork, 1 child each) and beat are up: polls every 2-5 s, "
                 f"sweep every 2 s (grace {p.sweep_grace_seconds:.0f} s), job lease {p.job_lease_seconds:g} s; "
                 f"{PARTITIONED_WORKER} reaches PostgreSQL through a proxy on :{self.proxy.port}")

    def mapping_file(self) -> Path:
        """The default mapping, with the tenant's change stamp for the order poll."""
        import yaml

        from connector import mapping

        data = yaml.safe_load(Path(mapping.__file__).with_name("default_mapping.yaml").read_text())
        data.setdefault("ifs", {}).setdefault("customer_order", {})["changed_field"] = CHANGE_STAMP
        path = self.run_dir / "mapping.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    def update_parked(self, order_no: str) -> bool:
        """Whether the order's update job is parked (the day ships the order edited
        after its pick only then: the edit must not be overtaken unseen)."""
        from sqlalchemy import select

        from connector.db.models import Flow, Job, JobState

        try:
            with self.ctx.session() as session:
                state = session.execute(select(Job.state).where(
                    Job.flow == Flow.ORDER_UPDATE.value, Job.key == order_no)).scalar_one_or_none()
        except Exception:  # noqa: BLE001 - PostgreSQL may be restarting: ask again next tick
            return False
        return state == JobState.ATTENTION.value

    def start_worker(self, name: str) -> None:
        if name != PARTITIONED_WORKER:
            self.stack.start_worker(name, concurrency=1, pool="prefork")
            return
        shared = self.stack.env
        self.stack.env = {**shared, "DATABASE_URL": shared["DATABASE_URL"].replace(
            f":{self.services.postgres.port}/", f":{self.proxy.port}/")}
        try:
            self.stack.start_worker(name, concurrency=1, pool="prefork")
        finally:
            self.stack.env = shared

    def seed_world(self) -> None:
        from collections import defaultdict

        p, ifs, sb = self.profile, self.stack.ifs.url, self.stack.shipbob.url
        seeded = int(p.orders * p.seed_share)
        summary = hook(ifs, "seed", {"orders": seeded, "parts": p.parts, "seed": self.seed, "sites": ["S01", "S02"],
                                     "split_ratio": p.split_ratio, "purchase_orders": p.purchase_orders})
        hook(ifs, "orders", {"orders": [
            {"OrderNo": PARKED_SHIP_VIA, "Contract": "S01", "CustomerNo": "CU1001", "ShipViaCode": "DHL-EXP",
             "lines": [{"PartNo": "P00001", "BuyQtyDue": 1}]},
            {"OrderNo": PARKED_NEW_SKU, "Contract": "S02", "CustomerNo": "CU1002", "ShipViaCode": "UPS-GND",
             "lines": [{"PartNo": "P00002", "BuyQtyDue": 1}, {"PartNo": NEW_SKU, "BuyQtyDue": 2}]}]})
        parts = {f"P{n:05d}" for n in range(1, p.parts + 1)}
        self.top_up_stock(parts)
        per_part: dict[str, dict[str, int]] = defaultdict(lambda: {"156": 0, "157": 0})
        fc = {"S01": "156", "S02": "157"}
        for row in ifs_rows(ifs, "InventoryPartInStockSet"):
            per_part[row["PartNo"]][fc[row["Contract"]]] += int(row.get("QtyOnhand") or 0)
        levels = {part: dict(per_part[part]) for part in sorted(parts)}
        drifted = self.rng.sample(sorted(p_ for p_ in levels if levels[p_]["156"] >= 25), 4)
        for i, sku in enumerate(drifted):
            levels[sku]["156"] += -25 if i < 3 else 15
        # The short order's part, on hand at S01 alike in both (bench/soak_life.py).
        levels[soak_life.SHORT_PART] = {"156": soak_life.SHORT_ON_HAND, "157": 0}
        hook(ifs, "stock", {"columns": ["Contract", "PartNo", "LocationNo", "QtyOnhand", "UoM"],
                            "rows": [["S01", soak_life.SHORT_PART, "SOAK-SHORT", soak_life.SHORT_ON_HAND, "PCS"]]})
        hook(sb, "seed", {"skus": sorted(levels), "levels": levels})
        self.say(f"seeded IFS: {summary['orders']} released orders ({summary['split_orders']} across two sites), "
                 f"{p.parts} parts, {p.purchase_orders} purchase orders; 2 orders that must be parked "
                 f"(unmapped ship-via, a part ShipBob does not know); ShipBob stock = IFS's except "
                 f"{', '.join(drifted)}")

    def top_up_stock(self, parts: set[str]) -> None:
        """STOCK_TOP_UP more of every part at both sites, in IFS (and so at ShipBob, seeded
        from it): the seed leaves some parts at none, and the day's orders would oversell
        them. With enough stock every `stock_shortage` item is a false alarm the scorecard
        counts as unexpected (connector/flows/stock_shortage.py)."""
        ifs = self.stack.ifs.url
        uom = {row["PartNo"]: row.get("UoM") or "PCS" for row in ifs_rows(ifs, "InventoryPartInStockSet")}
        hook(ifs, "stock", {"columns": ["Contract", "PartNo", "LocationNo", "QtyOnhand", "UoM"],
                            "rows": [[site, part, "SOAK-TOP-UP", STOCK_TOP_UP, uom.get(part, "PCS")]
                                     for site in ("S01", "S02") for part in sorted(parts)]})

    # -- the fault phase --------------------------------------------------------------

    def fault_phase(self) -> None:
        p = self.profile
        self.day = Day(self.stack.ifs.url, self.stack.shipbob.url, p, random.Random(self.seed + 1),
                       {PARKED_SHIP_VIA, PARKED_NEW_SKU}, self.say, self.update_parked)
        wave_orders = p.orders - int(p.orders * p.seed_share)
        self.day.plan(wave_orders, wave_span=p.fault_min * 0.6, late_pos=p.late_purchase_orders)
        self.chaos = Chaos(self.stack, self.services, WORKERS, self.start_worker, p, random.Random(self.seed + 2),
                           self.say, self.proc_lock, self.day)
        self.stalls = Stalls(self, self.holds, self.refused, self.proxy, PARTITIONED_WORKER)
        refresh = (f", a refresh grant's answer lost (worker killed) at {p.kill_refresh_at:.0f}s"
                   if p.kill_refresh_at is not None else "")
        self.say(f"fault phase: at least {p.fault_min:.0f}s, {wave_orders} more orders in waves; "
                 f"SIGKILL a worker every {p.kill_every[0]:.0f}-{p.kill_every[1]:.0f}s, Redis restart at "
                 f"{p.redis_restart_at:.0f}s, PostgreSQL restart at {p.postgres_restart_at:.0f}s; "
                 f"{p.takeovers_per_flow} lease takeover(s) per flow, {PARTITIONED_WORKER}'s database "
                 f"partitioned at {p.partition_at:.0f}s{refresh}")
        started = time.monotonic()
        self.day.start()
        self.chaos.start()
        self.stalls.start()
        sync_requested, last_progress = False, 0.0
        while True:
            time.sleep(1)
            t = time.monotonic() - started
            self.watch_processes()
            if not sync_requested and t >= p.inventory_sync_at:
                sync_requested = self.request_inventory_sync()
            if time.monotonic() - last_progress >= 5:
                self.progress("fault phase")
                last_progress = time.monotonic()
            if t < p.fault_min:
                continue
            outstanding = self.day.outstanding(self.expected_shipbob_orders())
            if self.stalls.busy():
                if t < p.fault_max + p.stall_overtime or self.stalls.mid_stall():
                    continue  # every stall happens (its flow's work comes when it comes)
                outstanding.append("stalls still to happen")
            if not outstanding or t >= p.fault_max:
                if outstanding:
                    self.say(f"fault phase capped at {p.fault_max:.0f}s; still to do: {'; '.join(outstanding)}")
                break
        self.stalls.stop()
        self.chaos.stop()
        self.timings["fault_seconds"] = time.monotonic() - started
        self.say(f"faults off after {self.timings['fault_seconds']:.0f}s: {len(self.chaos.record.kills)} worker "
                 "kills; every worker running again")

    def request_inventory_sync(self) -> bool:
        """What beat's daily cron does: request today's sync job and wake it."""
        from connector import jobs
        from connector.flows.inventory_sync import request_daily_sync
        from workers import dispatch

        try:
            job_ids = request_daily_sync(self.ctx)
            with self.ctx.session() as session:
                targets = jobs.wake_targets(session, job_ids)
        except Exception as exc:  # noqa: BLE001 - the database may be restarting
            self.say(f"daily inventory sync not requested yet ({type(exc).__name__}); trying again")
            return False
        for job_id, flow, key in targets:
            try:
                dispatch.wake_job(job_id, flow, key)
            except Exception:  # noqa: BLE001 - the sweeper publishes it
                pass
        self.say("the daily inventory sync is requested (as beat's cron would), to run in the pool under faults")
        return True

    def expected_shipbob_orders(self) -> int | None:
        """ShipBob orders the day should see: one per (IFS order, site), once every wave is in."""
        if self.day.waves:
            return None
        if self.expected_refs is None:
            orders = {o["OrderNo"]: o for o in ifs_rows(self.stack.ifs.url, "CustomerOrderSet")}
            refs = {(l["OrderNo"], l["Contract"]) for l in ifs_rows(self.stack.ifs.url, "CustomerOrderLineSet")
                    if l["OrderNo"] not in (PARKED_SHIP_VIA, PARKED_NEW_SKU) and l["OrderNo"] in orders}
            self.expected_refs = len(refs)
        return self.expected_refs

    def watch_processes(self) -> None:
        """A process that died on its own (not killed by the chaos) is a finding: record it, restart it."""
        with self.proc_lock:
            for name, proc in list(self.stack.processes.items()):
                if proc.poll() is None:
                    continue
                if self.chaos is not None and name in self.chaos.down:
                    continue
                t = time.monotonic() - self.started
                self.chaos.record.unexpected_exits.append((t, name, proc.returncode))
                self.say(f"!! {name} exited on its own (rc={proc.returncode}); starting it again")
                self.stack.processes.pop(name, None)
                if name in WORKERS:
                    self.start_worker(name)
                elif name == "beat":
                    self.stack.start_beat()

    def progress(self, phase: str) -> None:
        from sqlalchemy import func, select

        from connector.db.models import Job, JobAttempt, WebhookEvent

        try:
            with self.ctx.session() as session:
                states = dict(session.execute(select(Job.state, func.count()).group_by(Job.state)).all())
                retries = session.execute(select(func.count()).select_from(JobAttempt)
                                          .where(JobAttempt.outcome == "retry")).scalar_one()
                unrouted = session.execute(select(func.count()).select_from(WebhookEvent)
                                           .where(WebhookEvent.processed_at.is_(None))).scalar_one()
            jobs = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
            db = f"jobs {jobs or 'none yet'}; retries {retries}; inbox unrouted {unrouted}"
        except Exception as exc:  # noqa: BLE001 - PostgreSQL may be restarting
            db = f"database unavailable ({type(exc).__name__})"
        d = self.day.record
        kills = len(self.chaos.record.kills) if self.chaos else 0
        self.say(f"{phase}: ShipBob orders shipped {len(d.shipped_orders)}, cancelled {len(d.cancelled_orders)}, "
                 f"returns {len(d.returns)} | {db} | kills {kills}")

    # -- drain ------------------------------------------------------------------------

    def drain(self) -> bool:
        started = time.monotonic()
        deadline = started + self.profile.drain_timeout
        last_progress, why = 0.0, ""
        while time.monotonic() < deadline:
            self.watch_processes()
            try:
                done, why = self.drained()
            except Exception as exc:  # noqa: BLE001
                done, why = False, f"{type(exc).__name__}: {exc}"
            if done:
                self.timings["drain_seconds"] = time.monotonic() - started
                self.say(f"drained in {self.timings['drain_seconds']:.0f}s: nothing pending, running or unrouted; "
                         "reconcile finds no unexplained difference")
                return True
            if time.monotonic() - last_progress >= 5:
                self.progress(f"draining ({why})")
                last_progress = time.monotonic()
            time.sleep(2)
        self.timings["drain_seconds"] = time.monotonic() - started
        self.say(f"!! not drained after {self.profile.drain_timeout:.0f}s: {why}")
        return False

    def drained(self) -> tuple[bool, str]:
        from sqlalchemy import func, select

        from connector.db.models import Job, JobState, WebhookEvent
        from connector.reconcile import reconcile

        hook(self.stack.shipbob.url, "webhooks/flush", {"fast_forward": True})
        outstanding = self.day.outstanding(self.expected_shipbob_orders())
        if outstanding:
            return False, "the warehouse: " + "; ".join(outstanding)
        with self.ctx.session() as session:
            busy = session.execute(select(func.count()).select_from(Job).where(
                Job.state.in_([JobState.PENDING.value, JobState.RUNNING.value]))).scalar_one()
            unrouted = session.execute(select(func.count()).select_from(WebhookEvent)
                                       .where(WebhookEvent.processed_at.is_(None))).scalar_one()
        if busy or unrouted:
            return False, f"{busy} job(s) pending or running, {unrouted} event(s) unrouted"
        history_missing = soak_life.history_not_recorded(self.stack.ifs.url, self.stack.shipbob.url)[0]
        if history_missing:
            return False, f"{len(history_missing)} inventory history event(s) not recorded in IFS yet"
        unexplained = sum(len(r.unexplained) for r in reconcile(self.ctx))
        if unexplained:
            return False, f"reconcile: {unexplained} unexplained difference(s)"
        return True, ""

    # -- the end ----------------------------------------------------------------------

    def finish(self, drained: bool) -> int:
        from connector.flows.inventory_sync import sync_inventory
        from connector.reconcile import reconcile

        self.day.stop()
        try:  # what the next day's cron does; the scorecard compares the levels it wrote
            closing_sync = sync_inventory(self.ctx).summary_line()
        except Exception as exc:  # noqa: BLE001 - shows up as level mismatches
            closing_sync = f"failed: {type(exc).__name__}: {exc}"
        self.say(f"closing inventory sync: {closing_sync}")
        results = reconcile(self.ctx)
        rec = {"unexplained": sum(len(r.unexplained) for r in results),
               "lines": [f"{r.name}: checked {r.checked}, differences {len(r.differences)}, "
                         f"unexplained {len(r.unexplained)}" for r in results]}
        status = self.cli_status()
        self.stop_processes()
        self.timings["total_seconds"] = time.monotonic() - self.started
        expected_parked = {
            ("order_push", PARKED_SHIP_VIA): "has no ShipBob shipping method",
            ("order_push", PARKED_NEW_SKU): f"SKU '{NEW_SKU}' is unknown at ShipBob",
            # Orders the warehouse cancels at ShipBob: their IFS lines are named for a
            # person (the mapping's default on_shipbob_cancel: attention).
            **{("shipment_voucher", str(order_id)): "was cancelled at ShipBob"
               for order_id in self.day.record.cancelled_orders},
            **{("return_voucher", str(rid)): ("is not a shipment this connector posted"
                                              if self.day.record.returns[rid].kind == "foreign-shipment"
                                              else "has no original shipment")
               for rid in self.day.record.unknown_shipment_returns},
            **soak_life.expected_parked(self.day.life.record),
        }
        logs = [path.read_text(errors="replace") for path in (self.run_dir / "logs").glob("*.log")]
        refreshes = sum(text.count("shipbob oauth: access token refreshed") for text in logs)
        fenced = sum(text.count('"msg": "stopped before a write') for text in logs)
        connector_429s = sum(len(re.findall(r'"msg": "shipbob [A-Z]+ \S+ -> 429 ', text)) for text in logs)
        p = self.profile
        knobs = (f"SIGKILL every {p.kill_every[0]:g}-{p.kill_every[1]:g}s, ShipBob fault every "
                 f"{p.shipbob_fault_every[0]:g}-{p.shipbob_fault_every[1]:g}s, IFS fault every "
                 f"{p.ifs_fault_every[0]:g}-{p.ifs_fault_every[1]:g}s + {p.ifs_error_rate:.0%} random 5xx, "
                 f"sweep grace {p.sweep_grace_seconds:g}s, job lease {p.job_lease_seconds:g}s")
        run = {"profile": self.profile.name, "knobs": knobs, "token_refreshes": refreshes,
               "writes_stopped_by_the_fence": fenced,
               "connector_429s": connector_429s, "orders": self.profile.orders, "seed": self.seed,
               "rate_limits": self.limits_text, "drain_timed_out": not drained, "reconcile": rec,
               "day_errors": self.day.record.errors[:10], "cli_status": status,
               "closing_inventory_sync": closing_sync, **self.timings}
        card = compute(self.ctx, self.stack.ifs.url, self.stack.shipbob.url, self.day, self.chaos,
                       self.stalls.record, expected_parked, run)
        text = render(card)
        print(text, flush=True)
        (self.run_dir / "scorecard.txt").write_text(text + "\n")
        (self.run_dir / "scorecard.json").write_text(json.dumps(card, indent=2, default=str))
        self.card = card
        return 1 if failures(card) else 0

    def cli_status(self) -> dict | None:
        """`ifs-shipbob status --json`, as an operator would look at the pool."""
        try:
            out = subprocess.run([str(Path(sys.executable).parent / "ifs-shipbob"), "status", "--json"],
                                 env={**os.environ, **self.stack.env}, capture_output=True, text=True, timeout=60)
            return json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr[-500:]}
        except Exception as exc:  # noqa: BLE001
            return {"error": repr(exc)}

    def stop_processes(self) -> None:
        if self.stack is None:
            return
        with self.proc_lock:
            for name in ["beat", *WORKERS, "receiver"]:
                self.stack.stop_process(name, signal.SIGTERM, timeout=10)

    def cleanup(self) -> None:
        if self.stalls is not None:
            self.stalls.stop()
        for thread in (self.chaos, self.day):
            if thread is not None:
                thread.stop_event.set()
        if self.stack is not None:
            with self.proc_lock:
                for name in list(self.stack.processes):
                    self.stack.stop_process(name, signal.SIGKILL, timeout=10)
            self.stack.stop()
        for server in self.sandboxes:
            server.stop()
        if self.proxy is not None:
            self.proxy.stop()
        if self.services is not None:
            self.services.stop()


def _terminate(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the CI version: ~150 orders, a few minutes")
    parser.add_argument("--orders", type=int, help="IFS orders in the day (default: 1000, --short 150)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shipbob-rate-limit", type=int, help="requests/min the ShipBob sandbox allows")
    parser.add_argument("--run-dir", type=Path, help="logs, reports and the scorecard (default state/soak/<time>)")
    parser.add_argument("--json", type=Path, help="also write the scorecard JSON here")
    parser.add_argument("--keep-services", action="store_true", help="keep the PostgreSQL/Redis data directory")
    parser.add_argument("--kill-refresh", action=argparse.BooleanOptionalAction, default=True,
                        help="lose a refresh grant's answer (kill its worker) and re-authorise "
                             "with `ifs-shipbob auth shipbob` (default: on)")
    args = parser.parse_args(argv)
    profile = SHORT if args.short else FULL
    if args.orders:
        profile = replace(profile, orders=args.orders)
    if args.shipbob_rate_limit:
        profile = replace(profile, shipbob_rate_limit=args.shipbob_rate_limit)
    if not args.kill_refresh:
        profile = replace(profile, kill_refresh_at=None)
    run_dir = args.run_dir or ROOT / "state" / "soak" / datetime.now().strftime("%Y%m%d-%H%M%S")
    signal.signal(signal.SIGTERM, _terminate)
    # Also when started in the background, where SIGINT arrives ignored: Ctrl-C / kill -INT clean up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    soak = Soak(profile, args.seed, run_dir.resolve(), args.keep_services)
    try:
        code = soak.run()
        if args.json:
            args.json.write_text(json.dumps(soak.card, indent=2, default=str))
        return code
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        soak.cleanup()


if __name__ == "__main__":
    sys.exit(main())
