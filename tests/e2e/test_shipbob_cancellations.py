"""Cancellations made at ShipBob reach IFS, through the real pipeline:
ShipBob sandbox -> signed webhooks -> gunicorn receiver -> PostgreSQL inbox
-> Redis broker -> Celery worker -> IFS sandbox, all over HTTP.

An IFS order of three lines is pushed; then the merchant cancels it at
ShipBob. Per the mapping's `on_shipbob_cancel`, IFS cancels the lines under
If-Match exactly once (a lost answer to the first try, a duplicated
webhook and a later poll or event change nothing), or an attention item
names the order, the ShipBob order and shipment and the lines. A
cancellation in ShipBob's dashboard fires no webhook: the shipments poll
finds it. A partly shipped order whose rest is cancelled gets its voucher
and the rest cancelled. `ifs-shipbob reconcile` exits 1 while a ShipBob
cancellation is not in IFS. An order cancelled in IFS first ends there.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from cli import main
from cli.stack import BIN, Stack, env_for
from connector import jobs, kv, mapping
from connector.context import Context
from connector.db.models import Flow, Job, JobState, WebhookEvent
from connector.flows.order_poll import poll_cancellations, poll_orders
from connector.reconcile import reconcile as reconcile_report
from connector.runner import run_job
from connector.settings import load_settings
from tests.conftest import REDIS_URL, WEBHOOK_SECRET
from tests.helpers import eventually, hook, ifs_rows, shipbob_api

pytestmark = pytest.mark.integration

TOPICS = ["order.shipped", "order.shipment.delivered", "order.shipment.exception",
          "order.shipment.on_hold", "order.shipment.cancelled"]
CANCEL_ACTION = "IfsApp.CustomerOrderHandling.CustomerOrder_CancelLines"
LINES = [{"PartNo": "P00001", "BuyQtyDue": 1}, {"PartNo": "P00002", "BuyQtyDue": 2},
         {"PartNo": "P00003", "BuyQtyDue": 3}]


@contextmanager
def running(settings, sandboxes, tmp_path, policy: str | None):
    """The stack with the mapping's `on_shipbob_cancel` set to `policy`
    (None: the default), subscribed to the shipment topics; one IFS order
    pushed. Yields (ctx, stack, IFS order number, the ShipBob order)."""
    ifs, shipbob = sandboxes
    data = yaml.safe_load(Path(mapping.__file__).with_name("default_mapping.yaml").read_text())
    if policy is not None:
        data["on_shipbob_cancel"] = policy
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(yaml.safe_dump(data))
    settings = load_settings(**{**settings.model_dump(), "mapping_file": mapping_file})
    ctx = Context(settings)
    hook(ifs, "seed", {"orders": 0, "parts": 5, "seed": 7, "sites": ["S01"], "split_ratio": 0,
                       "purchase_orders": 0})
    hook(shipbob, "seed", {"count": 5, "seed": 7, "level_range": [500, 1000]})
    [created] = hook(ifs, "orders", {"orders": [{"CustomerNo": "CU1001", "ShipViaCode": "UPS-GND",
                                                 "lines": LINES}]})["orders"]
    assert {run_job(ctx, j).status for j in poll_orders(ctx)} == {"done"}
    [order] = hook(shipbob, "dump/orders", method="GET")
    env = env_for(settings, broker_url=REDIS_URL, sweep_seconds=1, sweep_grace_seconds=2,
                  job_lease_seconds=30, http_timeout_seconds=10, order_poll_seconds=3600,
                  unpushed_poll_seconds=3600, tracking_poll_seconds=3600, shipments_poll_seconds=3600,
                  replenishment_poll_seconds=3600, receiving_poll_seconds=3600,
                  returns_poll_seconds=3600, worker_metrics_port=0)
    with Stack(env=env, logdir=tmp_path / "logs", ifs=ifs, shipbob=shipbob) as stack:
        stack.start_receiver()
        shipbob_api(shipbob, "POST", "webhook", {
            "topics": TOPICS, "url": f"{stack.receiver_url}/webhooks/shipbob", "secret": WEBHOOK_SECRET})
        yield ctx, stack, created["OrderNo"], order


# ------------------------------------------------------------------ helpers

def deliver(shipbob) -> None:
    hook(shipbob, "webhooks/flush", {"fast_forward": True})


def settled(ctx) -> bool:
    """Every stored event routed and every job finished."""
    with ctx.session() as session:
        unrouted = session.scalars(select(WebhookEvent.id).where(WebhookEvent.processed_at.is_(None))).all()
        busy = session.scalars(select(Job.id).where(
            Job.state.in_([JobState.PENDING.value, JobState.RUNNING.value]))).all()
    return not unrouted and not busy


def voucher_job(ctx, order_id: int) -> Job | None:
    with ctx.session() as session:
        return session.scalars(select(Job).where(Job.flow == Flow.SHIPMENT_VOUCHER.value,
                                                 Job.key == str(order_id))).one_or_none()


def ifs_lines(ifs, order_no: str) -> dict[str, dict]:
    return {line["LineNo"]: line for line in ifs_rows(ifs, "CustomerOrderLineSet") if line["OrderNo"] == order_no}


def ifs_order(ifs, order_no: str) -> dict:
    [order] = [o for o in ifs_rows(ifs, "CustomerOrderSet") if o["OrderNo"] == order_no]
    return order


def cancel_actions(ifs) -> int:
    return hook(ifs, "stats", method="GET")["actions"].get(CANCEL_ACTION, 0)


def poll_shipments(ctx, stack) -> None:
    """One shipments poll, run by the worker; returns once it ran and the
    jobs it woke have finished."""
    with ctx.session() as session:
        before = kv.get(session, "poll.shipments.last_success")
    code = "from workers.app import app\napp.send_task('workers.tasks.poll', args=['shipments'], queue='polls')\n"
    subprocess.run([str(BIN / "python"), "-c", code], env={**os.environ, **stack.env}, check=True, timeout=60)

    def polled_and_settled() -> bool:
        with ctx.session() as session:
            polled = kv.get(session, "poll.shipments.last_success") != before
        return polled and settled(ctx)

    eventually(polled_and_settled, 90, "the shipments poll and the jobs it woke to finish")


def reconcile(stack, monkeypatch, tmp_path) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)  # the CLI reads ./.env: not a developer's own
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["reconcile"], catch_exceptions=False)
    return result.exit_code, result.output


# -------------------------------------------------------------------- tests

def test_cancel_in_ifs_cancels_the_lines_once_though_the_answer_is_lost_and_the_webhook_doubled(
        settings, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    with running(settings, sandboxes, tmp_path, "cancel_in_ifs") as (ctx, stack, order_no, order):
        stack.start_worker(concurrency=2)
        hook(shipbob, "faults", {"webhooks": {"duplicate_rate": 1.0}})
        # IFS cancels, and the connector never hears: its retry must see the effect.
        hook(ifs, "faults", {"lost_response": 1})
        assert shipbob_api(shipbob, "POST", f"order/{order['id']}:cancel")["status"] == "Success"
        deliver(shipbob)
        eventually(lambda: ifs_order(ifs, order_no)["Objstate"] == "Cancelled" and settled(ctx), 120,
                   "the IFS order cancelled and the jobs finished")

        assert {n: line["Objstate"] for n, line in ifs_lines(ifs, order_no).items()} == {
            "1": "Cancelled", "2": "Cancelled", "3": "Cancelled"}
        assert hook(ifs, "stats", method="GET")["faults_served"].get("lost_response") == 1
        assert cancel_actions(ifs) == 1
        job = voucher_job(ctx, order["id"])
        assert job.state == JobState.DONE.value, (job.state, job.last_error)
        messages = hook(shipbob, "dump/webhook_messages", method="GET")
        assert sum(m["topic"] == "order.shipment.cancelled" and m["duplicate"] for m in messages) >= 1

        # Later news for the order and the poll: nothing is cancelled twice.
        with ctx.session() as session:
            jobs.request_job(session, Flow.SHIPMENT_VOUCHER.value, str(order["id"]))
        assert run_job(ctx, job.id).status == "done"
        poll_shipments(ctx, stack)
        assert cancel_actions(ifs) == 1


def test_attention_names_the_order_the_shipbob_order_and_shipment_and_the_lines(settings, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    with running(settings, sandboxes, tmp_path, None) as (ctx, stack, order_no, order):
        stack.start_worker(concurrency=2)
        [shipment] = order["shipments"]
        shipbob_api(shipbob, "POST", f"order/{order['id']}:cancel")
        deliver(shipbob)
        eventually(lambda: settled(ctx), 120, "the cancellation to be routed and its job to finish")

        job = voucher_job(ctx, order["id"])
        assert job.state == JobState.ATTENTION.value, (job.state, job.reason, job.last_error)
        for text in (order_no, f"ShipBob order {order['id']}", f"ShipBob shipment {shipment['id']}",
                     "line 1/1 (1)", "line 2/1 (2)", "line 3/1 (3)"):
            assert text in job.reason, (text, job.reason)
        assert {line["Objstate"] for line in ifs_lines(ifs, order_no).values()} == {"Released"}
        assert cancel_actions(ifs) == 0
        # reconcile lists it, explained by the parked item
        [check] = [c for c in reconcile_report(ctx) if c.name == "ShipBob cancellations not in IFS"]
        [difference] = check.differences
        assert difference.key == str(shipment["id"]) and order_no in difference.detail
        assert difference.explained_by.startswith("parked for attention"), difference


def test_a_dashboard_cancellation_without_a_webhook_is_found_by_the_shipments_poll(
        settings, sandboxes, tmp_path, monkeypatch):
    ifs, shipbob = sandboxes
    with running(settings, sandboxes, tmp_path, "cancel_in_ifs") as (ctx, stack, order_no, order):
        stack.start_worker(concurrency=2)
        hook(shipbob, f"orders/{order['id']}/cancel")  # ShipBob's dashboard: no webhook
        deliver(shipbob)
        assert not [m for m in hook(shipbob, "dump/webhook_messages", method="GET")
                    if m["topic"] == "order.shipment.cancelled"]

        # Not in IFS yet, and nothing explains it.
        code, output = reconcile(stack, monkeypatch, tmp_path)
        assert code == 1, output
        assert "ShipBob cancellations not in IFS" in output and f"ShipBob order {order['id']}" in output

        poll_shipments(ctx, stack)
        assert ifs_order(ifs, order_no)["Objstate"] == "Cancelled"
        assert cancel_actions(ifs) == 1
        code, output = reconcile(stack, monkeypatch, tmp_path)
        assert code == 0, output


def test_a_partly_shipped_order_gets_its_voucher_and_its_cancelled_rest_cancelled_in_ifs(
        settings, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    with running(settings, sandboxes, tmp_path, "cancel_in_ifs") as (ctx, stack, order_no, order):
        stack.start_worker(concurrency=2)
        # Line 1 whole and 1 of line 3's 3 ship; the rest (line 2, 2 of line 3) stays behind.
        hook(shipbob, f"orders/{order['id']}/ship", {
            "shipments": [[{"sku": "P00001", "quantity": 1}, {"sku": "P00003", "quantity": 1}]]})
        rest = next(s for s in hook(shipbob, "dump/shipments", method="GET") if s["status"] == "Processing")
        assert shipbob_api(shipbob, "POST", f"shipment/{rest['id']}:cancel") is not None
        deliver(shipbob)
        eventually(lambda: ifs_rows(ifs, "FulfillmentVoucherSet") and cancel_actions(ifs) and settled(ctx),
                   120, "the voucher and the cancellation in IFS")

        [voucher] = ifs_rows(ifs, "FulfillmentVoucherSet")
        assert voucher["OrderNo"] == order_no
        lines = ifs_lines(ifs, order_no)
        assert (lines["1"]["Objstate"], lines["1"]["QtyShipped"]) == ("Delivered", 1)
        assert lines["2"]["Objstate"] == "Cancelled"
        assert (lines["3"]["Objstate"], lines["3"]["BuyQtyDue"], lines["3"]["QtyShipped"]) == ("Delivered", 1, 1)
        assert ifs_order(ifs, order_no)["Objstate"] == "Delivered"
        assert cancel_actions(ifs) == 1
        assert voucher_job(ctx, order["id"]).state == JobState.DONE.value


def test_an_order_cancelled_in_ifs_first_ends_done_when_shipbob_reports_the_cancel(settings, sandboxes, tmp_path):
    """The other way round (the order push cancels at ShipBob): the webhook that follows finds
    nothing open in IFS, so nothing is cancelled again and nobody is asked."""
    ifs, shipbob = sandboxes
    with running(settings, sandboxes, tmp_path, "cancel_in_ifs") as (ctx, stack, order_no, order):
        stack.start_worker(concurrency=2)
        # A user cancels the order in IFS (the header: IFS's lines are not touched here).
        hook(ifs, "bump", {"set": "CustomerOrderSet", "key": {"OrderNo": order_no},
                           "changes": {"Objstate": "Cancelled"}})
        [push_job] = poll_cancellations(ctx)
        assert run_job(ctx, push_job).status == "done"
        assert shipbob_api(shipbob, "GET", f"order/{order['id']}")["status"] == "Cancelled"
        deliver(shipbob)
        eventually(lambda: voucher_job(ctx, order["id"]) is not None and settled(ctx), 120,
                   "the cancellation webhook's job to finish")

        job = voucher_job(ctx, order["id"])
        assert job.state == JobState.DONE.value, (job.state, job.reason, job.last_error)
        assert cancel_actions(ifs) == 0
        [check] = [c for c in reconcile_report(ctx) if c.name == "ShipBob cancellations not in IFS"]
        assert (check.checked, check.differences) == (1, [])
