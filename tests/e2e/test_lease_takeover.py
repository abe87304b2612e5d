"""Two live runs of one job: the first, on a real Celery worker, is frozen
(SIGSTOP) right after the read it decides on, past its lease; a second run
takes the job over and does the work; then the first is let go (SIGCONT).
Exactly one effect must reach the far side.

The freeze is certain, not timed: the sandbox holds the deciding read (a
gate), the worker is stopped while the request waits there, and only then
is the read answered, so the frozen run wakes up holding an answer from
before the takeover. Without the write fence (connector/fencing.py) each of
these posts the effect twice.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

import pytest
from flask import Request, g, request

from cli.stack import Stack, env_for
from connector import jobs
from connector.context import Context
from connector.db.models import Flow, Job, JobState, utcnow
from connector.runner import run_job
from tests.conftest import FAST_RATE_LIMIT, REDIS_URL
from tests.helpers import eventually, hook, ifs_rows
from tests.integration.test_receiving import receive, received_by_line, replenish, wros_of
from tests.integration.test_returns import complete, create_return, returned_by_line, rmas_by_return, ship_orders

LEASE = 6  # with a 2 s HTTP timeout and a 1 s margin: a frozen run loses it fast
TAKEN_OVER = "another worker took this job over"


class Gate:
    """Holds the first request that matches inside a sandbox until released;
    the handler runs (and computes its answer) only after the release."""

    def __init__(self) -> None:
        self._match: Callable[[Request], bool] | None = None
        self._open = threading.Event()
        self.held = 0
        self.answered = 0

    def hold(self, match: Callable[[Request], bool]) -> "Gate":
        self._open.clear()
        self.held = self.answered = 0
        self._match = match
        return self

    def release(self) -> None:
        self._open.set()

    def before(self) -> None:
        if self._match is None or not self._match(request):
            return
        self._match = None  # the first match only
        g.gated = True
        self.held += 1
        self._open.wait(120)

    def after(self, response):
        if g.get("gated"):
            self.answered += 1
        return response


@pytest.fixture(scope="module")
def gates():
    return Gate(), Gate()


@pytest.fixture(scope="module")
def gated_sandboxes(gates):
    from sandbox.ifs.app import create_app as ifs_app
    from sandbox.server import BackgroundServer
    from sandbox.shipbob import ShipBobSandboxConfig
    from sandbox.shipbob import create_app as shipbob_app

    servers = []
    for app, gate in ((ifs_app(), gates[0]),
                      (shipbob_app(ShipBobSandboxConfig(rate_limit_per_minute=FAST_RATE_LIMIT)), gates[1])):
        app.before_request(gate.before)
        app.after_request(gate.after)
        servers.append(BackgroundServer(app).start())
    yield tuple(servers)
    for gate in gates:
        gate.release()
    for server in servers:
        server.stop()


@pytest.fixture
def world(gated_sandboxes, gates, clean_db, clean_redis, tmp_path):
    """Settings for both runs, and a stack for the first run's worker."""
    from connector.settings import load_settings

    for server in gated_sandboxes:
        hook(server, "reset")
    ifs, shipbob = gated_sandboxes
    settings = load_settings(
        database_url=clean_db, redis_url=REDIS_URL, redis_prefix=clean_redis,
        ifs_base_url=ifs.url, shipbob_base_url=shipbob.url,
        shipbob_rate_limit_per_minute=FAST_RATE_LIMIT, reports_dir=tmp_path / "reports",
        job_lease_seconds=LEASE, http_timeout_seconds=2, fence_margin_seconds=1,
    )
    env = env_for(settings, broker_url=REDIS_URL, sweep_seconds=1, sweep_grace_seconds=1,
                  order_poll_seconds=3600, unpushed_poll_seconds=3600, tracking_poll_seconds=3600,
                  shipments_poll_seconds=3600, replenishment_poll_seconds=3600,
                  receiving_poll_seconds=3600, returns_poll_seconds=3600, worker_metrics_port=0)
    stack = Stack(env=env, logdir=tmp_path / "logs", ifs=ifs, shipbob=shipbob)
    yield Context(settings), gated_sandboxes, gates, stack
    for gate in gates:
        gate.release()
    for process in stack.processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGCONT)
    stack.stop()


def two_live_runs(world, flow: Flow, key: str, gate: Gate, deciding_read: Callable[[Request], bool]) -> str:
    """Run job (flow, key) on a Celery worker until it sends `deciding_read`,
    freeze the worker, answer the read, let a second run take the job over
    and finish it, then thaw the worker and wait for its run to end.
    Returns the first worker's log."""
    ctx, _, _, stack = world
    gate.hold(deciding_read)
    with ctx.session() as session:
        job_id = jobs.request_job(session, flow.value, key).job_id
    worker = stack.start_worker("first", concurrency=1, queues=[flow.value, "polls", "sweep"], pool="solo")
    stack.start_beat()  # its sweeper (on the sweep queue) publishes the due job
    eventually(lambda: gate.held == 1, 120, "the first run to send its deciding read")
    os.killpg(worker.pid, signal.SIGSTOP)
    gate.release()
    eventually(lambda: gate.answered == 1, 30, "the held read to be answered")
    stack.stop_process("beat")  # the second run is this test's own
    eventually(lambda: lease_expired(ctx, job_id), 60, "the frozen run's lease to lapse")

    assert run_job(ctx, job_id).status == "done"

    os.killpg(worker.pid, signal.SIGCONT)
    log = stack.logdir / "first.log"
    eventually(lambda: TAKEN_OVER in log.read_text() or "stopped before a write" in log.read_text(),
               120, "the first run to end")
    return log.read_text()


def lease_expired(ctx: Context, job_id: int) -> bool:
    with ctx.session() as session:
        job = session.get(Job, job_id)
        if job.state != JobState.RUNNING.value or job.lease_until is None:
            return False
        until = job.lease_until if job.lease_until.tzinfo else job.lease_until.replace(tzinfo=utcnow().tzinfo)
        return until < utcnow()


def test_a_frozen_replenishment_run_never_sends_a_second_wro(world):
    ctx, (ifs, shipbob), (_, shipbob_gate), _ = world
    inventory = hook(shipbob, "seed", {"skus": ["TK-A", "TK-B"]})["inventory_ids"]
    [po] = hook(ifs, "purchase_orders", {"purchase_orders": [
        {"lines": [{"PartNo": "TK-A", "BuyQtyDue": 5}, {"PartNo": "TK-B", "BuyQtyDue": 2}]}]})["purchase_orders"]
    po_no = po["OrderNo"]

    # The look-up right before the create: "does ShipBob have a WRO for P?"
    def wro_lookup(req: Request) -> bool:
        return (req.method == "GET" and req.path.endswith("/receiving")
                and ",".join(req.args.getlist("PurchaseOrderNumbers")) == po_no)

    log = two_live_runs(world, Flow.REPLENISHMENT, po_no, shipbob_gate, wro_lookup)

    [wro] = wros_of(shipbob, po_no)
    assert {i["inventory_id"]: i["expected_quantity"] for i in wro["inventory_quantities"]} == {
        inventory["TK-A"]: 5, inventory["TK-B"]: 2}
    assert "stopped before a write" in log


def test_a_frozen_run_for_an_increased_line_never_sends_a_second_top_up(world):
    ctx, (ifs, shipbob), (_, shipbob_gate), _ = world
    po_no, inventory = replenish(ctx, (ifs, shipbob), [("TK-A", 5), ("TK-B", 2)])
    hook(ifs, f"purchase_orders/{po_no}/lines/1/1", {"BuyQtyDue": 8})

    # The look-up right before the top-up's create: "does ShipBob have a WRO for P#2?"
    def top_up_lookup(req: Request) -> bool:
        return (req.method == "GET" and req.path.endswith("/receiving")
                and ",".join(req.args.getlist("PurchaseOrderNumbers")) == f"{po_no}#2")

    log = two_live_runs(world, Flow.REPLENISHMENT, po_no, shipbob_gate, top_up_lookup)

    first, top_up = wros_of(shipbob, po_no)
    assert [w["purchase_order_number"] for w in (first, top_up)] == [po_no, f"{po_no}#2"]
    assert {i["inventory_id"]: i["expected_quantity"] for i in top_up["inventory_quantities"]} == {
        inventory["TK-A"]: 3}
    assert "stopped before a write" in log


def test_a_frozen_receipt_run_never_receives_a_stow_twice(world):
    ctx, (ifs, shipbob), (ifs_gate, _), _ = world
    # Room on the line for a doubled receipt: IFS itself would refuse one
    # beyond what was ordered, and the test would prove nothing.
    po_no, inventory = replenish(ctx, (ifs, shipbob), [("TK-A", 10), ("TK-B", 4)])
    [wro] = wros_of(shipbob, po_no)
    receive(shipbob, wro["id"], {inventory["TK-A"]: 3})  # a partial stow

    # What IFS already holds for the order, read before computing the rest.
    def receipts_read(req: Request) -> bool:
        return req.method == "GET" and req.path.endswith("/PurchaseReceiptSet")

    two_live_runs(world, Flow.INBOUND_RECEIPT, po_no, ifs_gate, receipts_read)

    assert received_by_line(ifs, po_no) == {"1": 3}
    assert len([r for r in ifs_rows(ifs, "PurchaseReceiptSet") if r["OrderNo"] == po_no]) == 1


def test_a_frozen_return_run_never_posts_a_second_rma(world):
    ctx, (ifs, shipbob), (ifs_gate, _), _ = world
    # Two shipped, one returned: room for a doubled RMA that IFS would accept.
    shipped = ship_orders(ctx, (ifs, shipbob), {"C9101": {"lines": {"TK-R": 2}}})["C9101"]
    return_id = create_return(shipbob, "RET-TK", shipped["shipments"][0], {shipped["inventory"]["TK-R"]: 1})
    complete(shipbob, return_id, [{"inventory_id": shipped["inventory"]["TK-R"], "action": "Restock",
                                   "quantity_processed": 1}])

    # The order's lines, read to know what may still be returned.
    def order_lines_read(req: Request) -> bool:
        return req.method == "GET" and "OrderLinesArray" in req.path

    two_live_runs(world, Flow.RETURN_VOUCHER, str(return_id), ifs_gate, order_lines_read)

    [rma] = rmas_by_return(ifs)[str(return_id)]
    assert rma["Objstate"] == "Received"
    assert returned_by_line(ifs, "C9101") == {"TK-R": 1}
