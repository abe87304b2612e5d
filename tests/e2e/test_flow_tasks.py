"""What Flower shows: one task per flow carrying the row id and the business
key, and a parked item ending FAILURE with its reason, never SUCCESS.

A real prefork worker runs the orders poll and the pushes it wakes; the test
watches the Celery events Flower itself consumes (switched on the way Flower
does, by the `enable_events` broadcast) and the broker's unacked messages.
"""

from __future__ import annotations

import threading

import pytest
import redis as redis_lib
import requests
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from cli.stack import Stack, env_for, free_port
from connector.context import Context
from connector.db.models import Flow, Job, JobState
from tests.conftest import REDIS_URL
from tests.helpers import eventually, hook, ifs_rows

PARKED_REASON = "line 1/1 SKU 'NO-SUCH-PART' is unknown at ShipBob"


class EventLog:
    """Collects every Celery event of the test's broker in a thread."""

    def __init__(self, app: Celery):
        self.app = app
        self.events: list[dict] = []
        self._receiver = None
        self._thread = threading.Thread(target=self._capture, daemon=True)

    def _capture(self) -> None:
        with self.app.connection() as connection:
            self._receiver = self.app.events.Receiver(connection, handlers={"*": self.events.append})
            self._receiver.capture(limit=None, timeout=None, wakeup=False)

    def start(self) -> "EventLog":
        """Returns once the receiver is subscribed: a probe event arrived."""
        self._thread.start()
        with self.app.connection() as connection:
            dispatcher = self.app.events.Dispatcher(connection)

            def probed() -> bool:
                dispatcher.send("probe-sent")
                return bool(self.of("probe-sent"))

            eventually(probed, 30, "the event receiver to subscribe")
        return self

    def stop(self) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True
        self._thread.join(timeout=10)

    def of(self, kind: str) -> list[dict]:
        return [e for e in list(self.events) if e["type"] == kind]

    def task(self, uuid: str, kind: str) -> dict | None:
        return next((e for e in self.of(kind) if e["uuid"] == uuid), None)


@pytest.fixture
def world(settings, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    env = env_for(settings, broker_url=REDIS_URL, order_poll_seconds=3600, unpushed_poll_seconds=3600,
                  tracking_poll_seconds=3600, shipments_poll_seconds=3600, replenishment_poll_seconds=3600,
                  receiving_poll_seconds=3600, returns_poll_seconds=3600, worker_metrics_port=free_port())
    # As in docker-compose.yml: prefork children count into files the
    # worker's main process sums on its metrics port.
    (tmp_path / "metrics").mkdir()
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    # The test's own client of the workers' broker (same key prefix).
    app = Celery("flower-like", broker=REDIS_URL,
                 broker_transport_options={"global_keyprefix": settings.redis_prefix})
    events = EventLog(app).start()
    with Stack(env=env, logdir=tmp_path / "logs", ifs=ifs, shipbob=shipbob) as stack:
        yield Context(settings), sandboxes, stack, app, events
    events.stop()


def seed_one_good_one_parked(ifs, shipbob) -> tuple[str, str]:
    hook(ifs, "seed", {"orders": 0, "parts": 5, "seed": 7, "sites": ["S01"], "split_ratio": 0,
                       "purchase_orders": 0})
    hook(shipbob, "seed", {"count": 5, "seed": 7, "level_range": [500, 1000]})
    [good, bad] = hook(ifs, "orders", {"orders": [
        {"CustomerNo": "CU1001", "ShipViaCode": "UPS-GND", "lines": [{"PartNo": "P00001", "BuyQtyDue": 1}]},
        {"CustomerNo": "CU1002", "ShipViaCode": "UPS-GND", "lines": [{"PartNo": "NO-SUCH-PART", "BuyQtyDue": 2}]},
    ]})["orders"]
    assert {o["OrderNo"] for o in ifs_rows(ifs, "CustomerOrderSet")} == {good["OrderNo"], bad["OrderNo"]}
    return good["OrderNo"], bad["OrderNo"]


def worker_runs(stack: Stack) -> dict[tuple[str, str], float]:
    """ifs_shipbob_job_runs_total by (flow, outcome) from the worker's endpoint."""
    text = requests.get(f"http://127.0.0.1:{stack.env['WORKER_METRICS_PORT']}/metrics", timeout=10).text
    return {(s.labels["flow"], s.labels["outcome"]): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == "ifs_shipbob_job_runs_total"}


def job_of(ctx, key: str) -> Job:
    with ctx.session() as session:
        return session.execute(select(Job).where(Job.flow == Flow.ORDER_PUSH.value, Job.key == key)).scalar_one()


def test_each_flow_has_its_own_task_with_the_key_and_a_parked_item_is_not_success(world):
    ctx, (ifs, shipbob), stack, app, events = world
    good, bad = seed_one_good_one_parked(ifs, shipbob)
    stack.start_worker("flows", concurrency=2, queues=[Flow.ORDER_PUSH.value, "polls"])
    eventually(lambda: app.control.ping(timeout=1), 60, "the worker to answer a ping")
    # What Flower does on start: ask every worker to send task events.
    eventually(lambda: app.control.enable_events(reply=True, timeout=1), 30, "events to be enabled")

    app.send_task("workers.tasks.poll", args=["orders"], queue="polls")

    def pushes() -> dict[str, dict]:
        return {e["uuid"]: e for e in events.of("task-received") if e["name"] == "workers.tasks.order_push"}

    eventually(lambda: len(pushes()) == 2, 60, "two order_push tasks")
    good_job, bad_job = job_of(ctx, good), job_of(ctx, bad)
    by_key = {}
    for uuid, received in pushes().items():
        assert received["args"] == "()"  # everything is named: Flower shows job_id=…, key=…
        by_key[received["kwargs"]] = uuid
    good_uuid = by_key[repr({"job_id": good_job.id, "key": good})]
    bad_uuid = by_key[repr({"job_id": bad_job.id, "key": bad})]

    succeeded = eventually(lambda: events.task(good_uuid, "task-succeeded"), 60, "the good push to succeed")
    assert succeeded["result"] == "'done'"
    failed = eventually(lambda: events.task(bad_uuid, "task-failed"), 60, "the parked push's task to end")
    assert failed["exception"] == f"Parked({PARKED_REASON!r})"
    assert events.task(bad_uuid, "task-succeeded") is None and events.task(bad_uuid, "task-retried") is None
    assert job_of(ctx, bad).state == JobState.ATTENTION.value
    assert job_of(ctx, good).state == JobState.DONE.value

    # acks_late: the failed task was acknowledged, so it is never redelivered.
    unacked = redis_lib.Redis.from_url(REDIS_URL)
    eventually(lambda: unacked.hlen(f"{ctx.settings.redis_prefix}unacked") == 0, 30, "every message acked")
    assert unacked.llen(f"{ctx.settings.redis_prefix}{Flow.ORDER_PUSH.value}") == 0

    # A message of the former generic task, queued before an upgrade, still runs.
    with ctx.session() as session:
        from connector import jobs

        jobs.replay(session, bad_job.id)
    legacy = app.send_task("workers.tasks.run_job", args=[bad_job.id], queue=Flow.ORDER_PUSH.value).id
    failed = eventually(lambda: events.task(legacy, "task-failed"), 60, "the legacy task to run")
    assert failed["exception"] == f"Parked({PARKED_REASON!r})"
    assert len([e for e in events.of("task-received") if e["uuid"] == bad_uuid]) == 1

    # Worker metrics under prefork: the runs of both children, summed.
    workers = {e["pid"] for e in events.of("task-succeeded") + events.of("task-failed")}
    runs = eventually(lambda: worker_runs(stack), 30, "the worker's metrics endpoint")
    assert runs == {("order_push", "done"): 1, ("order_push", "attention"): 2}, (runs, workers)
