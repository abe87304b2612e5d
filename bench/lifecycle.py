"""ShipBob calls per order over its whole life, and the orders per day that
fit in ShipBob's 150 requests/minute at that rate. Not a test.

    .venv/bin/python bench/lifecycle.py [--orders 200] [--edit-share 0.1] [--split-share 0.2]
                                        [--late-tracking-share 0.3] [--poll-scale 15]
                                        [--webhooks 2026-01|2026-07] [--rate-limit 600] [--keep-logs]

The real stack, as in production: both sandboxes over HTTP in a child
process that sorts every ShipBob request by what it was for
(bench/lifecycle_calls.py: method, path and query only, so whatever flows
the code has are measured), the webhook receiver under gunicorn, subscribed
through `webhooks subscribe`'s own call, a polls worker (polls, webhooks), a
flows worker (every flow's queue), and beat running every poll. State in a
temporary PostgreSQL database, broker, limiter and caches in Redis under a
unique prefix. The IFS tenant has a change stamp on its orders that the
mapping's `ifs.customer_order.changed_field` names (README "Edits after the
push"), so edits after the push are visible to a poll that looks for them.

`--orders` orders (1-3 lines, one site each, an own delivery address) live
their whole life, in phases so each phase's calls can be told apart (every
order is in the same phase at once; the polls run throughout):

1. push: released in IFS, `--release-batch` per order-poll interval, until
   each has its ShipBob order and every job is idle;
2. edit: `--edit-share` of them edited in IFS after the push (in turn the
   delivery address, a line's quantity, the ship-via), then two order polls;
   the report says how many edits ShipBob's shipments show;
3. ship: the warehouse ships every order (`--split-share` of those with 2+
   SKUs in two shipments; `--late-tracking-share` of the orders without
   tracking), until every shipment has its IFS voucher;
4. tracking: the late tracking is added at ShipBob, until every voucher
   has its tracking number;
5. deliver: every shipment delivered, until every voucher shows delivery.

Polls run at their production intervals divided by `--poll-scale` (each
`*_POLL_SECONDS` default, and the sweeper), so a run takes minutes. Their
calls are shown twice: as measured (a share per order of this run, which a
shorter interval inflates) and projected to the production intervals
(calls per day at that rate, shared by the orders a day that fill the
limit). The rate limit is raised for speed (`--rate-limit`, sandbox and
client alike): calls per order do not depend on it; 429s are counted apart.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.lifecycle_calls import ONE_OFF, PER_ORDER, POLL, ROUTES, Purpose, purpose  # noqa: E402
from bench.order_push import REDIS_URL, Stores, hook  # noqa: E402
from cli.stack import Stack, env_for, wait_for  # noqa: E402
from connector import kv, mapping  # noqa: E402
from connector.context import Context  # noqa: E402
from connector.db.models import Job, JobState, WebhookEvent  # noqa: E402
from connector.settings import Settings, load_settings  # noqa: E402
from connector.shipbob.ratelimit import WINDOW_SECONDS  # noqa: E402

REAL_LIMIT_PER_MINUTE = 150
PER_DAY = REAL_LIMIT_PER_MINUTE * 60 * 24  # 216,000 requests
STAMP = "LastChanged"  # the tenant's change stamp on CustomerOrder
SITES = ["S01", "S02"]
SHIP_VIAS = {"UPS-GND": "Standard", "UPS-2DAY": "Expedited", "FDX-ON": "Overnight"}  # the default mapping
CITIES = [("Portland", "OR", "97201"), ("Denver", "CO", "80202"), ("Austin", "TX", "78701"),
          ("Chicago", "IL", "60601"), ("Boston", "MA", "02108")]
EDITED_CITY = ("Seattle", "WA", "98109")
EDIT_KINDS = ("address", "quantity", "ship-via")
PHASES = ("setup", "push", "edit", "ship", "tracking", "deliver")
ORDER_POLL_KEY = "poll.orders.last_success"


# ----------------------------------------------------------------- sandboxes

class _Counting:
    """WSGI wrapper: the connector's ShipBob requests by purpose (429s apart:
    a refused request does not count against ShipBob's window)."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.calls: Counter = Counter()
        self.purposes: dict[str, Purpose] = {}
        self.limited = 0

    def __call__(self, environ, start_response):
        found = purpose(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                        environ.get("QUERY_STRING", ""))
        if found is None:
            return self.app(environ, start_response)

        def counted(status, headers, exc_info=None):
            with self.lock:
                if status.startswith("429"):
                    self.limited += 1
                else:
                    self.calls[found.name] += 1
                    self.purposes[found.name] = found
            return start_response(status, headers, exc_info)

        return self.app(environ, counted)


class _CountingIfs:
    """WSGI wrapper: the connector's IFS requests (not the bench's hooks)."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.calls = 0

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").startswith("/_sandbox"):
            with self.lock:
                self.calls += 1
        return self.app(environ, start_response)


def serve_sandboxes(conn, rate_limit: int, webhook_version: str | None) -> None:
    """Child process: both sandboxes until the parent says stop; answers
    'counts' with the requests so far."""
    import logging

    from sandbox.ifs.app import create_app as ifs_app
    from sandbox.ifs.config import IfsSandboxConfig
    from sandbox.ifs.tenant import TenantRenames
    from sandbox.server import BackgroundServer
    from sandbox.shipbob import ShipBobSandboxConfig
    from sandbox.shipbob import create_app as shipbob_app

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    ifs_wsgi = ifs_app(IfsSandboxConfig(tenant=TenantRenames(change_stamps={"CustomerOrder": STAMP})))
    ifs_counts = _CountingIfs(ifs_wsgi.wsgi_app)
    ifs_wsgi.wsgi_app = ifs_counts
    sb_wsgi = shipbob_app(ShipBobSandboxConfig(rate_limit_per_minute=rate_limit,
                                               rate_window_seconds=WINDOW_SECONDS,
                                               webhook_api_version=webhook_version, random_seed=7))
    sb_counts = _Counting(sb_wsgi.wsgi_app)
    sb_wsgi.wsgi_app = sb_counts
    ifs = BackgroundServer(ifs_wsgi).start()
    shipbob = BackgroundServer(sb_wsgi).start()
    conn.send((ifs.url, shipbob.url))
    while conn.recv() == "counts":
        with sb_counts.lock, ifs_counts.lock:
            conn.send((Counter(sb_counts.calls), dict(sb_counts.purposes), sb_counts.limited,
                       ifs_counts.calls))
    ifs.stop()
    shipbob.stop()


# ------------------------------------------------------------------ the run

@dataclass
class Snapshot:
    at: float
    calls: Counter
    limited: int
    ifs: int
    webhooks: int


@dataclass
class Measured:
    phases: dict[str, tuple[Snapshot, Snapshot]] = field(default_factory=dict)
    purposes: dict[str, Purpose] = field(default_factory=dict)
    poll_runs: Counter = field(default_factory=Counter)     # poll name -> runs beat sent
    orders: list[str] = field(default_factory=list)
    edits: dict[str, str] = field(default_factory=dict)     # OrderNo -> kind
    edits_seen: Counter = field(default_factory=Counter)    # kind -> reflected at ShipBob
    shipments: int = 0
    split: int = 0
    late_tracking: int = 0
    job_states: dict[str, int] = field(default_factory=dict)


class Lifecycle:
    def __init__(self, args, conn, ifs: str, shipbob: str, ctx: Context, stack: Stack):
        self.args, self.conn, self.ifs, self.shipbob = args, conn, ifs, shipbob
        self.ctx, self.stack = ctx, stack
        self.rng = random.Random(args.seed)
        self.measured = Measured()
        self.order_poll_seconds = Settings.model_fields["order_poll_seconds"].default / args.poll_scale

    # -- measuring ------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        self.conn.send("counts")
        calls, purposes, limited, ifs_calls = self.conn.recv()
        self.measured.purposes.update(purposes)
        webhooks = hook(self.shipbob, "stats", method="GET")["webhooks"]["messages"]
        return Snapshot(time.time(), calls, limited, ifs_calls, webhooks)

    def phase(self, name: str, body) -> None:
        print(f"{name} ...", file=sys.stderr, flush=True)
        before = self.snapshot()
        body()
        self.measured.phases[name] = (before, self.snapshot())

    # -- waiting --------------------------------------------------------------

    def settled(self) -> bool:
        """No webhook on its way, none unrouted, no job due or running."""
        hooks = hook(self.shipbob, "stats", method="GET")["webhooks"]
        if hooks.get("pending") or hooks.get("sending"):
            return False
        with self.ctx.session() as session:
            unrouted = session.execute(select(func.count()).select_from(WebhookEvent).where(
                WebhookEvent.processed_at.is_(None))).scalar_one()
            busy = session.execute(select(func.count()).select_from(Job).where(
                Job.state.in_([JobState.PENDING.value, JobState.RUNNING.value]))).scalar_one()
        return unrouted == 0 and busy == 0

    def wait(self, done, what: str) -> None:
        """Until `done()` holds and everything has settled."""
        deadline = time.monotonic() + self.args.phase_timeout
        last_report = time.monotonic()
        while True:
            progress = done()
            if progress is True and self.settled():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not done after {self.args.phase_timeout:.0f}s ({progress})")
            if time.monotonic() - last_report > 15:
                print(f"  ... {what}: {progress}", file=sys.stderr, flush=True)
                last_report = time.monotonic()
            time.sleep(0.5)

    def order_polls_after(self, runs: int) -> None:
        """Until the order poll has run `runs` more times and everything settled."""
        seen: list[str | None] = []

        def polled():
            with self.ctx.session() as session:
                stamp = kv.get(session, ORDER_POLL_KEY)
            if not seen or stamp != seen[-1]:
                seen.append(stamp)
            return True if len(seen) > runs else f"{len(seen) - 1} of {runs} order polls"

        self.wait(polled, "order polls after the edits")

    # -- the sandboxes' truth -------------------------------------------------

    def our_orders(self) -> dict[str, dict]:
        """ShipBob orders by IFS order number (one site each: reference_id)."""
        wanted = set(self.measured.orders)
        return {o["reference_id"]: o for o in hook(self.shipbob, "dump/orders", method="GET")
                if o["reference_id"] in wanted}

    def vouchers(self) -> dict[str, dict]:
        return {v["ExternalRef"]: v for v in
                hook(self.ifs, "dump/FulfillmentVoucherSet", method="GET")["value"]}

    def shipped_ids(self) -> list[int]:
        return [s["id"] for o in self.our_orders().values() for s in o["shipments"]
                if s["status"] == "Completed"]

    # -- the phases -----------------------------------------------------------

    def specs(self) -> list[dict]:
        specs = []
        for i in range(self.args.orders):
            parts = self.rng.sample(range(1, self.args.parts + 1), self.rng.choice((1, 1, 2, 2, 3)))
            city, state, zip_code = CITIES[i % len(CITIES)]
            specs.append({
                "Contract": self.rng.choice(SITES), "CustomerNo": f"CU{1001 + i % 50}", "OrderId": "DTC",
                "ShipViaCode": self.rng.choice(["UPS-GND", "UPS-GND", "UPS-2DAY"]),
                "address": {"Name": f"Customer {i}", "Address1": f"{100 + i} Main St", "City": city,
                            "State": state, "ZipCode": zip_code, "Country": "US",
                            "EmailAddress": f"c{i}@example.com"},
                "lines": [{"PartNo": f"P{p:05d}", "BuyQtyDue": self.rng.choice((1, 1, 2, 3))} for p in parts],
            })
        return specs

    def push(self) -> None:
        specs = self.specs()
        batch = self.args.release_batch
        for start in range(0, len(specs), batch):
            created = hook(self.ifs, "orders", {"orders": specs[start:start + batch]})["orders"]
            self.measured.orders += [o["OrderNo"] for o in created]
            if start + batch < len(specs):
                time.sleep(self.order_poll_seconds)  # a steady flow, one batch per poll

        def pushed():
            have = len(self.our_orders())
            return True if have == len(self.measured.orders) else f"{have}/{len(self.measured.orders)} at ShipBob"

        self.wait(pushed, "push")

    def edit(self) -> None:
        n = math.ceil(len(self.measured.orders) * self.args.edit_share)
        chosen = self.rng.sample(self.measured.orders, n) if n else []
        for i, order_no in enumerate(chosen):
            kind = EDIT_KINDS[i % len(EDIT_KINDS)]
            self.measured.edits[order_no] = kind
            if kind == "address":
                city, state, zip_code = EDITED_CITY
                change = ("CustomerOrderAddresses", {"OrderNo": order_no},
                          {"Address1": "400 Broad St", "City": city, "State": state, "ZipCode": zip_code})
            elif kind == "quantity":
                line = self.ifs_line(order_no, "1")
                change = ("CustomerOrderLineSet", line_key(order_no, "1"), {"BuyQtyDue": line["BuyQtyDue"] + 2})
            else:
                header = self.ifs_order(order_no)
                new = "FDX-ON" if header["ShipViaCode"] != "FDX-ON" else "UPS-GND"
                change = ("CustomerOrderSet", {"OrderNo": order_no}, {"ShipViaCode": new})
            entity_set, key, changes = change
            hook(self.ifs, "bump", {"set": entity_set, "key": key, "changes": changes})
        self.order_polls_after(2)
        self.measured.edits_seen = self.edits_at_shipbob()

    def ifs_order(self, order_no: str) -> dict:
        [row] = [o for o in hook(self.ifs, "dump/CustomerOrderSet", method="GET")["value"]
                 if o["OrderNo"] == order_no]
        return row

    def ifs_line(self, order_no: str, line_no: str) -> dict:
        [row] = [r for r in hook(self.ifs, "dump/CustomerOrderLineSet", method="GET")["value"]
                 if r["OrderNo"] == order_no and r["LineNo"] == line_no]
        return row

    def edits_at_shipbob(self) -> Counter:
        """How many edits ShipBob's shipment now shows (IFS's values)."""
        seen: Counter = Counter()
        orders = self.our_orders()
        headers = {o["OrderNo"]: o for o in hook(self.ifs, "dump/CustomerOrderSet", method="GET")["value"]}
        lines = {(r["OrderNo"], r["LineNo"]): r
                 for r in hook(self.ifs, "dump/CustomerOrderLineSet", method="GET")["value"]}
        for order_no, kind in self.measured.edits.items():
            [shipment] = orders[order_no]["shipments"][:1] or [{}]
            if kind == "address":
                ok = (shipment.get("recipient") or {}).get("address", {}).get("city") == EDITED_CITY[0]
            elif kind == "quantity":
                line = lines[(order_no, "1")]
                ok = units(shipment).get(line["PartNo"]) == line["BuyQtyDue"]
            else:
                ok = shipment.get("ship_option") == SHIP_VIAS[headers[order_no]["ShipViaCode"]]
            seen[kind] += int(ok)
        return seen

    def ship(self) -> None:
        for order in self.our_orders().values():
            [shipment] = [s for s in order["shipments"] if s["status"] == "Processing"][:1]
            have = units(shipment)
            groups = None
            if len(have) >= 2 and self.rng.random() < self.args.split_share:
                skus = sorted(have)
                groups = [[{"sku": s, "quantity": have[s]} for s in skus[::2]],
                          [{"sku": s, "quantity": have[s]} for s in skus[1::2]]]
                self.measured.split += 1
            late = self.rng.random() < self.args.late_tracking_share
            self.measured.late_tracking += int(late)
            hook(self.shipbob, f"orders/{order['id']}/ship",
                 {"shipments": groups, "with_tracking": not late})
        shipped = {str(i) for i in self.shipped_ids()}
        self.measured.shipments = len(shipped)

        def vouchered():
            missing = shipped - set(self.vouchers())
            return True if not missing else f"{len(shipped) - len(missing)}/{len(shipped)} vouchers"

        self.wait(vouchered, "ship")

    def tracking(self) -> None:
        for order in self.our_orders().values():
            for s in order["shipments"]:
                if s["status"] == "Completed" and not (s.get("tracking") or {}).get("tracking_number"):
                    hook(self.shipbob, f"shipments/{s['id']}/tracking", {})
        shipped = {str(i) for i in self.shipped_ids()}

        def tracked():
            vouchers = self.vouchers()
            have = sum(1 for i in shipped if (vouchers.get(i) or {}).get("TrackingNo"))
            return True if have == len(shipped) else f"{have}/{len(shipped)} vouchers with tracking"

        self.wait(tracked, "tracking")

    def deliver(self) -> None:
        shipped = [str(i) for i in self.shipped_ids()]
        for shipment_id in shipped:
            hook(self.shipbob, f"shipments/{shipment_id}/deliver")

        def delivered():
            vouchers = self.vouchers()
            have = sum(1 for i in shipped if (vouchers.get(i) or {}).get("DeliveredDate"))
            return True if have == len(shipped) else f"{have}/{len(shipped)} vouchers delivered"

        self.wait(delivered, "deliver")

    def run(self, subscribe) -> Measured:
        self.phase("setup", subscribe)
        for name in PHASES[1:]:
            self.phase(name, getattr(self, name))
        with self.ctx.session() as session:
            self.measured.job_states = {f"{flow} {state}": n for flow, state, n in session.execute(
                select(Job.flow, Job.state, func.count()).group_by(Job.flow, Job.state)).all()}
        self.measured.poll_runs = poll_runs(self.stack.logdir / "beat.log")
        return self.measured


def poll_runs(beat_log: Path) -> Counter:
    """Runs of each poll beat sent ("Sending due task poll-tracking ...")."""
    text = beat_log.read_text(errors="replace") if beat_log.exists() else ""
    return Counter(re.findall(r"Sending due task poll-([\w-]+)", text))


def line_key(order_no: str, line_no: str) -> dict:
    return {"OrderNo": order_no, "LineNo": line_no, "RelNo": "1", "LineItemNo": 0}


def units(shipment: dict) -> dict[str, int]:
    return {p["sku"]: sum(i["quantity"] for i in p.get("inventory_items") or [])
            for p in shipment.get("products") or []}


def scaled_intervals(scale: float) -> dict[str, float]:
    """Every poll interval (and the sweeper) at its production default / scale."""
    names = [n for n in Settings.model_fields if n.endswith("_poll_seconds")]
    names += ["sweep_seconds", "sweep_grace_seconds"]
    return {n: Settings.model_fields[n].default / scale for n in names}


def mapping_file(directory: Path) -> Path:
    """The default mapping, with the tenant's change stamp as the orders' changed field."""
    data = yaml.safe_load(Path(mapping.__file__).with_name("default_mapping.yaml").read_text())
    data["ifs"] = {"customer_order": {"changed_field": STAMP}}
    path = directory / "mapping.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run_bench(args) -> None:
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    webhook_version = None if args.webhooks == "2026-01" else args.webhooks
    server = spawn.Process(target=serve_sandboxes, args=(child, args.rate_limit, webhook_version), daemon=True)
    server.start()
    ifs, shipbob = parent.recv()
    stores = Stores.create()
    logdir = Path(tempfile.mkdtemp(prefix="lifecycle-bench-"))
    stack = None
    try:
        hook(ifs, "seed", {"orders": 0, "parts": args.parts, "seed": 7, "sites": SITES,
                           "split_ratio": 0, "purchase_orders": 0, "customers": 50})
        hook(shipbob, "seed", {"count": args.parts, "seed": 7, "level_range": [5000, 10000]})
        settings = load_settings(
            database_url=stores.database_url, redis_url=REDIS_URL, redis_prefix=stores.redis_prefix,
            ifs_base_url=ifs, shipbob_base_url=shipbob, shipbob_rate_limit_per_minute=args.rate_limit,
            shipbob_webhook_api_version=webhook_version, mapping_file=mapping_file(logdir),
            reports_dir=logdir / "reports")
        env = env_for(settings, broker_url=REDIS_URL, worker_metrics_port=0,
                      # beat's daily inventory sync stays out of the window
                      inventory_sync_hour_utc=(datetime.now(timezone.utc).hour + 12) % 24,
                      **scaled_intervals(args.poll_scale))
        stack = Stack(env=env, logdir=logdir)
        receiver = stack.start_receiver()
        from workers.app import QUEUES  # lazily, as Stack does: it reads the broker from the env

        stack.start_worker("polls", concurrency=1, queues=["polls", "webhooks"])
        stack.start_worker("flows", concurrency=2, queues=[q for q in QUEUES if q not in ("polls", "webhooks")])
        for name in ("polls", "flows"):
            wait_for(lambda n=name: b" ready." in (logdir / f"{n}.log").read_bytes(), 60, name)
        ctx = Context(settings)

        def subscribe() -> None:
            from cli.webhooks_cmd import subscribe_receiver

            subscribe_receiver(ctx, f"{receiver}/webhooks/shipbob")
            stack.start_beat()

        print(f"{args.orders} orders through their life; polls at 1/{args.poll_scale:g} of their "
              f"production intervals; webhooks {args.webhooks}; ShipBob limit {args.rate_limit}/min",
              file=sys.stderr, flush=True)
        measured = Lifecycle(args, parent, ifs, shipbob, ctx, stack).run(subscribe)
        report(args, measured)
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


# ------------------------------------------------------------------- report

@dataclass
class PollCost:
    """One poll's ShipBob calls: in this run, and a day at its production interval."""

    name: str
    calls: int
    runs: int                  # beat's runs in this run; 0 = not a poll beat names
    interval: float | None     # its production interval, seconds
    per_day: float


def poll_costs(measured: Measured, calls: Counter, window: float, scale: float) -> list[PollCost]:
    """Each poll's calls a day at its production interval: calls per run here
    times runs a day there. A poll beat does not name (or whose interval is
    not a setting) is scaled by its rate in this run instead."""
    costs = []
    for name, count in sorted(calls.items()):
        found = measured.purposes.get(name)
        if found is None or found.charge != POLL:
            continue
        setting = Settings.model_fields.get(f"{found.poll}_poll_seconds") if found.poll else None
        runs = measured.poll_runs.get(found.poll or "", 0)
        if setting is not None and runs:
            interval = float(setting.default)
            costs.append(PollCost(name, count, runs, interval, 86400 / interval * count / runs))
        else:
            costs.append(PollCost(name, count, 0, None, count / window * 86400 / scale if window else 0.0))
    # A poll that made no call here still lists its first page on every run.
    seen = {measured.purposes[c.name].poll for c in costs}
    for found in {r.purpose for r in ROUTES if r.purpose.poll and r.purpose.poll not in seen}:
        setting = Settings.model_fields.get(f"{found.poll}_poll_seconds")
        if setting is not None:
            interval = float(setting.default)
            costs.append(PollCost(found.name, 0, measured.poll_runs.get(found.poll or "", 0), interval,
                                  86400 / interval))
    return costs


@dataclass
class Totals:
    per_order: float      # calls charged to orders, per order (c)
    polls_window: float   # poll calls in this run, per order
    one_off: int          # calls made once per installation
    polls_per_day: float  # poll calls a day at the production intervals (F)
    window_seconds: float

    @property
    def in_run(self) -> float:
        return self.per_order + self.polls_window

    @property
    def orders_per_day(self) -> float:
        """Orders a day that fill the limit with the polls at their production
        intervals: D * c + F = PER_DAY."""
        return max(0.0, PER_DAY - self.polls_per_day) / self.per_order if self.per_order else math.inf

    @property
    def at_production(self) -> float:
        """Calls per order at that many orders a day, the polls' share included."""
        d = self.orders_per_day
        return self.per_order + (self.polls_per_day / d if d else math.inf)


def charge_of(measured: Measured, name: str) -> str:
    found = measured.purposes.get(name)
    return found.charge if found else PER_ORDER


def report(args, measured: Measured) -> None:
    n = len(measured.orders)
    deltas = {p: measured.phases[p][1].calls - measured.phases[p][0].calls for p in PHASES}
    whole: Counter = sum(deltas.values(), Counter())
    first, last = measured.phases[PHASES[0]][0], measured.phases[PHASES[-1]][1]
    window = last.at - first.at
    polls = poll_costs(measured, whole, window, args.poll_scale)
    by_charge = Counter()
    for name, count in whole.items():
        by_charge[charge_of(measured, name)] += count
    t = Totals(by_charge[PER_ORDER] / n, by_charge[POLL] / n, by_charge[ONE_OFF],
               sum(p.per_day for p in polls), window)
    order = (PER_ORDER, POLL, ONE_OFF)
    names = sorted(whole, key=lambda k: (order.index(charge_of(measured, k)), k))
    width = max([len(k) for k in names] + [36]) + 2

    def row(label: str, values: list[float], raw: int) -> str:
        return (f"  {label:<{width}}" + "".join(f"{v:>9.3f}" if v else f"{'-':>9}" for v in values)
                + f"{sum(values):>9.3f}{raw:>8}")

    print(f"\n== ShipBob calls per order over its whole life: {n} orders, {len(measured.edits)} edited after "
          f"the push, {measured.shipments} shipments ({measured.split} orders split in two, "
          f"{measured.late_tracking} shipped without tracking), webhooks {args.webhooks}, polls at "
          f"1/{args.poll_scale:g} of their production intervals")
    print(f"  {'calls per order, by purpose':<{width}}" + "".join(f"{p:>9}" for p in PHASES)
          + f"{'all':>9}{'calls':>8}")
    for charge in order:
        for name in [k for k in names if charge_of(measured, k) == charge]:
            print(row(name, [deltas[p][name] / n for p in PHASES], whole[name]))
        charged = [sum(v for k, v in deltas[p].items() if charge_of(measured, k) == charge) / n for p in PHASES]
        print(row(f"  = {charge}", charged, by_charge[charge]))
    phases = [measured.phases[p] for p in PHASES]
    print(f"  {'IFS calls per order (all)':<{width}}"
          + "".join(f"{(b.ifs - a.ifs) / n:>9.2f}" for a, b in phases)
          + f"{(last.ifs - first.ifs) / n:>9.2f}")
    print(f"  {'webhooks received per order':<{width}}"
          + "".join(f"{(b.webhooks - a.webhooks) / n:>9.2f}" for a, b in phases)
          + f"{(last.webhooks - first.webhooks) / n:>9.2f}")
    print(f"  {'seconds':<{width}}" + "".join(f"{b.at - a.at:>9.0f}" for a, b in phases) + f"{window:>9.0f}")

    edits = ", ".join(f"{k} {measured.edits_seen[k]}/{sum(1 for v in measured.edits.values() if v == k)}"
                      for k in EDIT_KINDS if k in measured.edits.values())
    print(f"\n  edits after the push that ShipBob's shipment shows: {edits or 'none made'}")
    print(f"  429s: {last.limited - first.limited}; jobs: "
          + ", ".join(f"{k} {v}" for k, v in sorted(measured.job_states.items())))
    print("  polls: " + ("; ".join(
        f"{p.name}: {p.calls} calls in {p.runs} runs{'' if p.calls else ' (taken as 1 a run)'}, "
        f"every {p.interval:g} s in production -> {p.per_day:,.0f}/day" if p.interval else
        f"{p.name}: {p.calls} calls at this run's rate -> {p.per_day:,.0f}/day" for p in polls) or "none"))

    print(f"\n  calls per order, this run (polls' share {t.polls_window:.3f}): {t.in_run:.3f}"
          f" -> {PER_DAY:,} / {t.in_run:.3f} = {PER_DAY / t.in_run:,.0f} orders/day")
    print(f"  polls at production intervals, {t.polls_per_day:,.0f} calls/day: orders/day filling "
          f"{REAL_LIMIT_PER_MINUTE}/min = ({PER_DAY:,} - {t.polls_per_day:,.0f}) / {t.per_order:.3f} = "
          f"{t.orders_per_day:,.0f}, at {t.at_production:.3f} calls per order "
          f"(polls' share {t.at_production - t.per_order:.4f})")
    print(f"  one-off calls (subscription, token, channels): {t.one_off}, not per order. Not in these "
          f"figures: returns, purchase orders/WROs and the daily inventory sync, which share the limit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--edit-share", type=float, default=0.1, help="orders edited in IFS after the push")
    parser.add_argument("--split-share", type=float, default=0.2,
                        help="orders with 2+ SKUs shipped in two shipments")
    parser.add_argument("--late-tracking-share", type=float, default=0.3,
                        help="orders shipped without tracking, which comes later")
    parser.add_argument("--poll-scale", type=float, default=15,
                        help="poll intervals are their production defaults divided by this")
    parser.add_argument("--webhooks", choices=["2026-01", "2026-07"], default="2026-01",
                        help="the API version of the subscription's topics (SHIPBOB_WEBHOOK_API_VERSION)")
    parser.add_argument("--rate-limit", type=int, default=600,
                        help="ShipBob requests per 60 s window, sandbox and client alike")
    parser.add_argument("--release-batch", type=int, default=20, help="orders released per order-poll interval")
    parser.add_argument("--parts", type=int, default=40, help="distinct SKUs the orders draw from")
    parser.add_argument("--phase-timeout", type=float, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    if args.orders < 1 or args.poll_scale <= 0:
        parser.error("--orders must be at least 1 and --poll-scale above 0")
    run_bench(args)


if __name__ == "__main__":
    main()
