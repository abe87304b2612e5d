"""ShipBob's inventory history to IFS activity records on real Celery
workers: the beat's poll asks for a run per fulfillment center, a worker
records the events, and a worker killed (SIGKILL) in the middle of a page
leaves a job that the sweeper hands to another worker, which records the
rest and nothing twice. A later poll with no news writes nothing to IFS.

The kill is certain, not timed: the IFS sandbox holds the third create of
the page (a gate) until the worker is dead, then lets it through, so IFS
ends up holding an event whose outcome the connector never heard of.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest
from celery import Celery
from flask import Request
from sqlalchemy import select

from cli.stack import Stack, env_for
from connector import kv
from connector.context import Context
from connector.db.models import Flow, Job, JobAttempt, JobState
from connector.flows.inventory_activity import CURSOR_KEY
from tests.conftest import FAST_RATE_LIMIT, REDIS_URL
from tests.e2e.test_lease_takeover import Gate
from tests.helpers import eventually, hook, ifs_rows

LEASE = 6  # a dead worker's job is taken over within seconds
ACTIVITY_SET = "ExternalInventoryActivitySet"
POLLS_OFF = {f"{name}_poll_seconds": 3600 for name in (
    "order", "unpushed", "tracking", "shipments", "replenishment", "receiving", "returns", "inventory_activity")}


@pytest.fixture(scope="module")
def gate():
    return Gate()


@pytest.fixture(scope="module")
def gated_ifs(gate):
    from sandbox.ifs.app import create_app
    from sandbox.server import BackgroundServer

    app = create_app()
    app.before_request(gate.before)
    app.after_request(gate.after)
    server = BackgroundServer(app).start()
    yield server
    gate.release()
    server.stop()


@pytest.fixture
def world(gated_ifs, gate, shipbob_sandbox, clean_db, clean_redis, tmp_path):
    from connector.settings import load_settings

    for server in (gated_ifs, shipbob_sandbox):
        hook(server, "reset")
    settings = load_settings(
        database_url=clean_db, redis_url=REDIS_URL, redis_prefix=clean_redis,
        ifs_base_url=gated_ifs.url, shipbob_base_url=shipbob_sandbox.url,
        shipbob_rate_limit_per_minute=FAST_RATE_LIMIT, reports_dir=tmp_path / "reports",
        job_lease_seconds=LEASE, http_timeout_seconds=2, fence_margin_seconds=1, sites=["S01"])
    env = env_for(settings, broker_url=REDIS_URL, sweep_seconds=1, sweep_grace_seconds=1,
                  worker_metrics_port=0, sites='["S01"]', **POLLS_OFF)
    app = Celery("test-client", broker=REDIS_URL,
                 broker_transport_options={"global_keyprefix": settings.redis_prefix})
    stack = Stack(env=env, logdir=tmp_path / "logs", ifs=gated_ifs, shipbob=shipbob_sandbox)
    yield Context(settings), gated_ifs, shipbob_sandbox, stack, app
    gate.release()
    stack.stop()


def adjust(shipbob, sku: str, change: int) -> int:
    return hook(shipbob, "inventory/adjust", {"sku": sku, "fulfillment_center_id": 156,
                                              "quantity_change": change, "reason": "Cycle count"})[
        "inventory_audit_event_id"]


def refs(ifs) -> list[str]:
    return [r["ExternalRef"] for r in ifs_rows(ifs, ACTIVITY_SET)]


def the_job(ctx: Context) -> Job | None:
    with ctx.session() as session:
        return session.execute(select(Job).where(Job.flow == Flow.INVENTORY_ACTIVITY.value,
                                                 Job.key == "156")).scalar_one_or_none()


def finished_runs(ctx: Context) -> int:
    with ctx.session() as session:
        return len(session.execute(select(JobAttempt).where(JobAttempt.outcome == "done")).all())


def cursor(ctx: Context) -> str | None:
    with ctx.session() as session:
        return kv.get(session, f"{CURSOR_KEY}156")


def third_activity_create() -> Callable[[Request], bool]:
    creates = 0

    def match(req: Request) -> bool:
        nonlocal creates
        if req.method == "POST" and req.path.endswith(f"/{ACTIVITY_SET}"):
            creates += 1
            return creates == 3
        return False

    return match


def test_a_worker_killed_mid_page_leaves_no_duplicate_and_the_cursor_holds(world, gate):
    ctx, ifs, shipbob, stack, app = world
    hook(shipbob, "seed", {"count": 2, "levels": {"P00001": {"156": 10}, "P00002": {"156": 10}}})
    made = [str(adjust(shipbob, sku, change)) for sku, change in
            (("P00001", -1), ("P00002", 2), ("P00001", -3), ("P00002", -1), ("P00001", 4))]
    gate.hold(third_activity_create())

    first = stack.start_worker("first", concurrency=1, queues=[Flow.INVENTORY_ACTIVITY.value, "polls", "sweep"],
                               pool="solo")
    app.send_task("workers.tasks.poll", args=["inventory_activity"], queue="polls")
    eventually(lambda: gate.held == 1, 120, "the third create of the page to reach IFS")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    gate.release()  # IFS records the third event; nobody hears the answer
    eventually(lambda: gate.answered == 1, 30, "the held create to be done")
    assert refs(ifs) == made[:3] and cursor(ctx) is None

    stack.start_worker("second", concurrency=1, queues=[Flow.INVENTORY_ACTIVITY.value, "polls", "sweep"], pool="solo")
    stack.start_beat()  # its sweeper hands the dead worker's job over once the lease lapses
    eventually(lambda: (the_job(ctx) or Job()).state == JobState.DONE.value, 120, "the job to be done")

    assert refs(ifs) == made  # each event once, in ShipBob's order
    assert cursor(ctx) == made[-1]

    # The next poll finds no news: the run writes nothing to IFS.
    writes = hook(ifs, "stats", method="GET")["writes"]
    runs = finished_runs(ctx)
    app.send_task("workers.tasks.poll", args=["inventory_activity"], queue="polls")
    eventually(lambda: finished_runs(ctx) == runs + 1, 120, "the next run to finish")
    assert hook(ifs, "stats", method="GET")["writes"] == writes and refs(ifs) == made
    log = (stack.logdir / "second.log").read_text()
    assert "unexpected error" not in log

