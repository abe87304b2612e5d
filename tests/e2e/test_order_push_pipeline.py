"""Released IFS orders reach ShipBob exactly once through the real pipeline:
Celery beat polls the IFS sandbox every second -> PostgreSQL jobs -> Redis
broker -> Celery worker processes -> the ShipBob sandbox (OAuth) -> the
ShipBob id written back onto the IFS order under its ETag.

200 good orders (one site each) and two bad ones, then 20 more released
late, with everything that goes wrong in production thrown at it at once:
the poll runs every second and by hand too (and a 30-day backfill at the
end), every job gets duplicate wake-up messages (and more once all is done),
IFS answers stale ETags, ShipBob sends two 429 bursts and expires every
access token twice, and a worker is SIGKILLed while all four of the pool's
tasks wait inside POST /order (held there by a gate in the test's own
ShipBob sandbox, which still creates the orders: answers lost with their
worker), then restarted. Its claims run out (20 s lease), the sweeper hands
them to a live worker, which meets ShipBob's duplicate-reference 422 and
adopts the orders.

Every fault is certain to be met, however slow the machine: the first round
is switched on while the gate holds the pool (196 orders still need their
POST and PATCH), the second just before the 20 late orders are released.
Access tokens live an hour, so the cached one is replaced only after ShipBob
rejected it: each expiry is seen as a 401. (Tokens running out on their own
are covered by tests/integration/test_shipbob_client_oauth.py.)

IFS must end with every good order carrying the id of its one ShipBob order,
ShipBob with exactly one order per good reference, the bad orders parked
with their reasons, and no job pending, running or failed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import redis as redis_lib
from flask import request
from sqlalchemy import func, select

from cli.stack import Stack, env_for
from connector.db.models import Flow, Job, JobState
from connector.flows.order_poll import poll_orders
from connector.polls import run_poll
from tests.conftest import FAST_RATE_LIMIT, REDIS_URL
from tests.helpers import eventually, hook, ifs_rows

N_GOOD = 200
N_LATE = 20  # released once the first faults are served: the second round meets them
PARTS = 40
ID_FIELD = "Cf_Shipbob_Order_Id"
PUSH_QUEUE = Flow.ORDER_PUSH.value
# Long enough that no token runs out on its own during the test: only the
# expire_tokens fault retires one, and the next call presenting it gets a 401.
ACCESS_TOKEN_TTL = 3600
SLOTS = 4  # two push workers, concurrency 2 each
# A request held at the gate must not time out (its worker would move on and
# the gate would count a request nobody waits for); the lease must outlast
# the timeout plus the fence margin.
HTTP_TIMEOUT_SECONDS = 15
LEASE_SECONDS = 20


class PostOrderGate:
    """Holds POST /order requests inside the ShipBob sandbox while closed.

    It runs after the sandbox's own gate (auth, faults, rate limit), so a
    held request was accepted and creates its order once let go, whether or
    not the worker that sent it is still alive to read the answer."""

    def __init__(self):
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self.held = 0

    def __call__(self):
        if request.method != "POST" or not request.path.endswith("/order") or self._open.is_set():
            return
        with self._lock:
            self.held += 1
        try:
            self._open.wait(60)
        finally:
            with self._lock:
                self.held -= 1

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()


@pytest.fixture
def post_gate():
    return PostOrderGate()


@pytest.fixture
def oauth_shipbob(post_gate):
    """A ShipBob sandbox of our own: OAuth access tokens and the gate."""
    from sandbox.server import BackgroundServer
    from sandbox.shipbob import ShipBobSandboxConfig, create_app

    config = ShipBobSandboxConfig(rate_limit_per_minute=FAST_RATE_LIMIT,
                                  access_token_ttl_seconds=ACCESS_TOKEN_TTL,
                                  webhook_retry_time_scale=0.001)
    app = create_app(config)
    app.before_request(post_gate)
    server = BackgroundServer(app).start()
    yield server
    post_gate.open()
    server.stop()


@pytest.fixture
def oauth_settings(clean_db, clean_redis, ifs_sandbox, oauth_shipbob, tmp_path):
    from connector.settings import load_settings

    hook(ifs_sandbox, "reset")
    return load_settings(
        database_url=clean_db, redis_url=REDIS_URL, redis_prefix=clean_redis,
        ifs_base_url=ifs_sandbox.url, shipbob_base_url=oauth_shipbob.url,
        shipbob_token=None, shipbob_client_id="sb-client", shipbob_client_secret="sb-secret",
        shipbob_refresh_token="sandbox-refresh-0",
        shipbob_rate_limit_per_minute=FAST_RATE_LIMIT, reports_dir=tmp_path / "reports",
    )


@pytest.fixture
def oauth_ctx(oauth_settings):
    from connector.context import Context

    return Context(oauth_settings)


@pytest.fixture
def stack(oauth_settings, ifs_sandbox, oauth_shipbob, tmp_path):
    env = env_for(oauth_settings, broker_url=REDIS_URL, shipbob_token="",
                  order_poll_seconds=1, tracking_poll_seconds=3600, replenishment_poll_seconds=3600,
                  receiving_poll_seconds=3600, returns_poll_seconds=3600,
                  sweep_seconds=1, sweep_grace_seconds=2, job_lease_seconds=LEASE_SECONDS,
                  http_timeout_seconds=HTTP_TIMEOUT_SECONDS, fence_margin_seconds=1,
                  worker_metrics_port=0)
    with Stack(env=env, logdir=tmp_path / "logs", ifs=ifs_sandbox, shipbob=oauth_shipbob) as running:
        yield running


# ------------------------------------------------------------------ helpers

def seed(ifs, shipbob) -> tuple[set[str], dict[str, str]]:
    """200 released single-site orders and two bad ones; returns the good
    order numbers and {bad order number: what its parking reason must say}."""
    hook(ifs, "seed", {"orders": N_GOOD, "parts": PARTS, "seed": 7, "sites": ["S01", "S02"],
                       "split_ratio": 0, "purchase_orders": 0})
    hook(shipbob, "seed", {"count": PARTS, "seed": 7, "level_range": [500, 1000]})
    good = {o["OrderNo"] for o in ifs_rows(ifs, "CustomerOrderSet")}
    assert len(good) == N_GOOD
    bad = hook(ifs, "orders", {"orders": [
        {"CustomerNo": "CU1001", "ShipViaCode": "UPS-GND",
         "lines": [{"PartNo": "P00001", "BuyQtyDue": 1}, {"PartNo": "NO-SUCH-PART", "BuyQtyDue": 2}]},
        {"CustomerNo": "CU1002", "ShipViaCode": "DHL-EXP",
         "lines": [{"PartNo": "P00002", "BuyQtyDue": 1}]},
    ]})["orders"]
    return good, {bad[0]["OrderNo"]: "SKU 'NO-SUCH-PART' is unknown at ShipBob",
                  bad[1]["OrderNo"]: "ship-via 'DHL-EXP' has no ShipBob shipping method"}


def release_late(ifs, count: int) -> set[str]:
    """`count` more released single-site orders of seeded customers and parts."""
    customers = sorted({o["CustomerNo"] for o in ifs_rows(ifs, "CustomerOrderSet")})
    created = hook(ifs, "orders", {"orders": [
        {"Contract": ("S01", "S02")[i % 2], "CustomerNo": customers[i % len(customers)],
         "ShipViaCode": "UPS-GND",
         "lines": [{"PartNo": f"P{1 + i % PARTS:05d}", "BuyQtyDue": 1 + i % 3}]}
        for i in range(count)]})["orders"]
    return {o["OrderNo"] for o in created}


def worker_ready(stack: Stack, name: str) -> bool:
    log = stack.logdir / f"{name}.log"
    return log.exists() and " ready." in log.read_text(errors="replace")


def running_jobs(ctx) -> set[int]:
    with ctx.session() as session:
        return set(session.execute(select(Job.id).where(Job.state == JobState.RUNNING.value)).scalars())


def push_messages(ctx) -> tuple[int, set[str]]:
    """Push messages queued, and the delivery tags of those being run (tasks
    ack late: a message is unacked until its run ended; a killed worker's
    stay unacked)."""
    broker = redis_lib.Redis.from_url(REDIS_URL)
    prefix = ctx.settings.redis_prefix
    running = {tag.decode() for tag, raw in broker.hgetall(f"{prefix}unacked").items()
               if json.loads(raw)[-1] == PUSH_QUEUE}
    return broker.llen(f"{prefix}{PUSH_QUEUE}"), running


def publish_wakeups(stack: Stack, jobs: list[tuple[int, str]], copies: int) -> None:
    """Extra wake-up messages for jobs that have theirs already, published
    the way the connector does (workers.dispatch), from a process that has
    the stack's environment (workers.app reads the broker from it)."""
    code = ("import json, sys\nfrom workers.dispatch import wake_job\n"
            "for job_id, key in json.loads(sys.argv[1]):\n    wake_job(job_id, 'order_push', key)\n")
    subprocess.run([sys.executable, "-c", code, json.dumps(sorted(jobs) * copies)],
                   env={**os.environ, **stack.env}, check=True, timeout=60, capture_output=True)


def push_jobs(ctx) -> list[Job]:
    with ctx.session() as session:
        return list(session.execute(select(Job).where(Job.flow == PUSH_QUEUE)).scalars())


def job_states(ctx) -> Counter:
    with ctx.session() as session:
        return Counter(dict(session.execute(select(Job.state, func.count()).group_by(Job.state)).all()))


def shipbob_orders(shipbob) -> list[dict]:
    return hook(shipbob, "dump/orders", method="GET")


def rate_limited(shipbob) -> int:
    return hook(shipbob, "stats", method="GET")["rate_limited"]["injected"]


def settled(ctx, expected_jobs: int) -> bool:
    states = job_states(ctx)
    return (sum(states.values()) >= expected_jobs
            and not states & Counter({JobState.PENDING.value: 1, JobState.RUNNING.value: 1}))


# --------------------------------------------------------------------- test

def test_released_orders_reach_shipbob_exactly_once_whatever_goes_wrong(
        oauth_ctx, ifs_sandbox, oauth_shipbob, post_gate, stack):
    ctx, ifs, shipbob = oauth_ctx, ifs_sandbox, oauth_shipbob
    started = time.monotonic()
    good, bad = seed(ifs, shipbob)
    hook(ifs, "faults", {"stale_etag": 25})
    post_gate.close()

    # Both push workers are up before there is any job, so the pool's four
    # slots reach the gate together, however slowly a worker boots.
    stack.start_worker("push1", concurrency=2, queues=[PUSH_QUEUE])
    stack.start_worker("push2", concurrency=2, queues=[PUSH_QUEUE])
    eventually(lambda: worker_ready(stack, "push1") and worker_ready(stack, "push2"), 120,
               "both push workers to be ready")
    stack.start_worker("polls", concurrency=1, queues=["polls", "sweep"])
    stack.start_beat()

    # The beat's poll records a job per order (the overlap window makes every
    # later poll see them again); a manual poll alongside must add nothing.
    eventually(lambda: len(push_jobs(ctx)) == N_GOOD + len(bad), 120, "the poll to find every order")
    assert run_poll(ctx, "orders") == (PUSH_QUEUE, [])
    job_ids = [(j.id, j.key) for j in push_jobs(ctx)]
    publish_wakeups(stack, job_ids, copies=2)

    # Every slot of the pool is inside POST /order, so exactly the four held
    # jobs run. The first round of trouble is switched on now, while at least
    # 196 orders still need a POST and a PATCH: a 429 burst, and every access
    # token expired (the held requests are past the sandbox's checks). Then
    # push1 (two of the held tasks) is killed and the requests let through;
    # ShipBob creates push1's orders too, their answers lost.
    eventually(lambda: post_gate.held == SLOTS, 120, "every task to wait in POST /order", interval=0.1)
    held_jobs = running_jobs(ctx)
    assert len(held_jobs) == SLOTS, held_jobs
    hook(shipbob, "faults", {"too_many": 6, "retry_after": 1, "expire_tokens": True})
    stack.stop_process("push1", signal.SIGKILL)
    post_gate.open()
    stack.start_worker("push1", concurrency=2, queues=[PUSH_QUEUE])

    # Once the first round is served: the second (a fault count is set, not
    # added to), then orders that can only be pushed through it.
    eventually(lambda: rate_limited(shipbob) == 6, 120, "the first 429 burst to be served")
    eventually(lambda: hook(ifs, "faults", method="GET")["stale_etag"] == 0, 120,
               "the first stale ETags to be served", interval=0.2)
    hook(shipbob, "faults", {"too_many": 6, "retry_after": 1, "expire_tokens": True})
    hook(ifs, "faults", {"stale_etag": 10})
    good |= release_late(ifs, N_LATE)
    expected_jobs = N_GOOD + N_LATE + len(bad)

    eventually(lambda: settled(ctx, expected_jobs), 300, "every job to finish", interval=1)

    # Once all is done: more duplicate wake-ups, the poll again, a backfill.
    job_ids = [(j.id, j.key) for j in push_jobs(ctx)]
    posts_before = hook(shipbob, "stats", method="GET")["requests"].get("POST /2026-01/order", 0)
    _, unacked_before = push_messages(ctx)
    publish_wakeups(stack, job_ids, copies=1)
    assert run_poll(ctx, "orders") == (PUSH_QUEUE, [])
    assert poll_orders(ctx, since=datetime.now(timezone.utc) - timedelta(days=31)) == []
    def wakeups_run() -> bool:
        queued, running = push_messages(ctx)
        return queued == 0 and running <= unacked_before

    eventually(wakeups_run, 60, "the duplicate wake-ups to be run")
    eventually(lambda: settled(ctx, expected_jobs), 60, "every job to settle again")

    # ShipBob: exactly one order per good reference, none for the bad ones.
    orders = shipbob_orders(shipbob)
    per_ref = Counter(o["reference_id"] for o in orders)
    assert set(per_ref) == good, (set(per_ref) - good, good - set(per_ref))
    assert [r for r, n in per_ref.items() if n > 1] == []
    shipbob_id = {o["reference_id"]: str(o["id"]) for o in orders}

    # IFS: every good order carries its one ShipBob id; the bad ones none.
    headers = {o["OrderNo"]: o for o in ifs_rows(ifs, "CustomerOrderSet")}
    wrong = {n: (headers[n].get(ID_FIELD), shipbob_id[n]) for n in good
             if headers[n].get(ID_FIELD) != shipbob_id[n]}
    assert wrong == {}
    assert all(headers[n].get(ID_FIELD) is None for n in bad)

    # Jobs: one per order, good ones done, bad ones parked with their reason.
    jobs = {j.key: j for j in push_jobs(ctx)}
    assert set(jobs) == good | set(bad)
    assert {jobs[n].state for n in good} == {JobState.DONE.value}
    for order_no, reason in bad.items():
        assert jobs[order_no].state == JobState.ATTENTION.value
        assert reason in (jobs[order_no].reason or ""), jobs[order_no].reason
    assert set(job_states(ctx)) == {JobState.DONE.value, JobState.ATTENTION.value}
    assert all(jobs[n].shipbob_refs == [shipbob_id[n]] for n in good)

    # The trouble really happened (every fault is counted where it was
    # served, in the sandboxes), and nothing was pushed twice.
    sb_stats = hook(shipbob, "stats", method="GET")
    ifs_stats = hook(ifs, "stats", method="GET")
    assert sb_stats["requests"].get("POST /2026-01/order", 0) == posts_before
    assert sb_stats["rate_limited"]["injected"] == 12, sb_stats["rate_limited"]
    assert sb_stats["statuses"].get("401", 0) >= 2, sb_stats["statuses"]  # each expiry met once at least
    assert sb_stats["statuses"].get("422", 0) >= 2, sb_stats["statuses"]  # push1's two lost creates adopted
    assert sb_stats["requests"].get("GET /2026-01/order", 0) >= 1
    assert ifs_stats["faults_served"].get("stale_etag") == 35, ifs_stats["faults_served"]
    # push1's two held jobs were run again to the end by another worker.
    held = [j for j in jobs.values() if j.id in held_jobs]
    assert all(j.state == JobState.DONE.value for j in held), [(j.key, j.state) for j in held]
    assert sum(j.attempts >= 2 for j in held) >= 2, [(j.key, j.attempts) for j in held]
    print(f"\norder push e2e: {len(orders)} ShipBob orders in {time.monotonic() - started:.1f}s; "
          f"ShipBob statuses {sb_stats['statuses']}; "
          f"calls {sb_stats['total']}; IFS requests {ifs_stats['total_requests']}, "
          f"tokens {ifs_stats['tokens_issued']}")
