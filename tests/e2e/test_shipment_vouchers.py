"""Shipments come back as IFS fulfillment vouchers through the real pipeline:
ShipBob sandbox -> signed webhooks -> gunicorn receiver -> PostgreSQL inbox ->
Redis broker -> Celery worker -> IFS sandbox.

150 orders, some split into 2-3 shipments, 30 % of webhooks duplicated and
the rest shuffled; then the same with the worker stopped while webhooks
arrive, and with Redis flushed mid-run. IFS must end with exactly one voucher
per shipment and the shipped quantities.
"""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
import redis as redis_lib
from sqlalchemy import func, select

from cli.stack import Stack, env_for
from connector.db.models import Job, JobState, WebhookEvent
from connector.flows.order_poll import poll_orders
from connector.runner import run_job
from tests.conftest import REDIS_URL, WEBHOOK_SECRET
from tests.helpers import eventually, hook, ifs_rows, seed_world, shipbob_api

TOPICS = ["order.shipped", "order.shipment.delivered", "order.shipment.exception",
          "order.shipment.on_hold", "order.shipment.cancelled"]


@pytest.fixture
def stack(settings, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    env = env_for(settings, broker_url=REDIS_URL, sweep_seconds=1, sweep_grace_seconds=2,
                  job_lease_seconds=30, http_timeout_seconds=10, order_poll_seconds=3600, tracking_poll_seconds=3600,
                  replenishment_poll_seconds=3600, receiving_poll_seconds=3600,
                  worker_metrics_port=0)
    with Stack(env=env, logdir=tmp_path / "logs", ifs=ifs, shipbob=shipbob) as running:
        running.start_receiver()
        shipbob_api(shipbob, "POST", "webhook", {
            "topics": TOPICS, "url": f"{running.receiver_url}/webhooks/shipbob", "secret": WEBHOOK_SECRET})
        yield running


def push_orders(ctx, n_orders: int) -> list[dict]:
    """Seeded IFS orders pushed to ShipBob (inline: this test is about shipments)."""
    job_ids = poll_orders(ctx)
    assert len(job_ids) == n_orders
    assert {run_job(ctx, j).status for j in job_ids} == {"done"}


def ship_everything(shipbob, rng: random.Random) -> dict[int, dict[str, int]]:
    """Ship every order, splitting some into 2-3 shipments; deliver a third.
    Returns the shipped quantities per shipment id."""
    shipped: dict[int, dict[str, int]] = {}
    for order in hook(shipbob, "dump/orders", method="GET"):
        units = [(p["reference_id"], p["quantity"]) for p in order["products"]]
        parts = min(len(units), rng.choice([1, 1, 2, 3]))
        groups = [units[i::parts] for i in range(parts)]
        hook(shipbob, f"orders/{order['id']}/ship", {
            "shipments": [[{"sku": s, "quantity": q} for s, q in g] for g in groups], "with_tracking": True})
    for shipment in hook(shipbob, "dump/shipments", method="GET"):
        if shipment["status"] != "Completed":
            continue
        qty = defaultdict(int)
        for product in shipment["products"]:
            qty[product["reference_id"]] += sum(i["quantity"] for i in product["inventory_items"])
        shipped[shipment["id"]] = dict(qty)
        if rng.random() < 1 / 3:
            hook(shipbob, f"shipments/{shipment['id']}/deliver")
    return shipped


def deliver_webhooks(shipbob) -> None:
    hook(shipbob, "webhooks/flush", {"fast_forward": True})


def vouchers_by_shipment(ifs) -> dict[str, list[dict]]:
    found = defaultdict(list)
    for voucher in ifs_rows(ifs, "FulfillmentVoucherSet?expand=FulfillmentVoucherLineArray"):
        found[voucher["ExternalRef"]].append(voucher)
    return found


def wait_until_converged(ctx, ifs, shipbob, shipped, delivered_ids, timeout=240):
    def converged():
        deliver_webhooks(shipbob)
        vouchers = vouchers_by_shipment(ifs)
        if len(vouchers) < len(shipped):
            return False
        delivered = {ref for ref, vs in vouchers.items() if vs[0].get("DeliveredDate")}
        if not {str(i) for i in delivered_ids} <= delivered:
            return False
        with ctx.session() as session:
            busy = session.execute(select(func.count()).select_from(Job).where(
                Job.state.in_([JobState.PENDING.value, JobState.RUNNING.value]))).scalar_one()
            unrouted = session.execute(select(func.count()).select_from(WebhookEvent).where(
                WebhookEvent.processed_at.is_(None))).scalar_one()
        return busy == 0 and unrouted == 0

    eventually(converged, timeout, "every shipment to have its voucher", interval=1)


def assert_exactly_one_voucher_per_shipment(ctx, ifs, shipbob, shipped):
    vouchers = vouchers_by_shipment(ifs)
    assert set(vouchers) == {str(s) for s in shipped}
    assert all(len(vs) == 1 for vs in vouchers.values()), {k: len(v) for k, v in vouchers.items() if len(v) > 1}
    # right quantities: per voucher, and per IFS order line in total
    lines = ifs_rows(ifs, "CustomerOrderLineSet")
    for shipment_id, qty in shipped.items():
        [voucher] = vouchers[str(shipment_id)]
        assert sum(l["Qty"] for l in voucher["FulfillmentVoucherLineArray"]) == sum(qty.values())
        assert voucher["TrackingNo"]
    for line in lines:
        if line["OrderNo"] in {v[0]["OrderNo"] for v in vouchers.values()}:
            assert line["QtyShipped"] == line["BuyQtyDue"], line
    with ctx.session() as session:
        states = dict(session.execute(select(Job.state, func.count()).group_by(Job.state)).all())
    assert set(states) == {JobState.DONE.value}, states


def delivered_shipments(shipbob) -> set[int]:
    return {s["id"] for s in hook(shipbob, "dump/shipments", method="GET") if s.get("delivery_date")}


N_ORDERS = 150  # ~200 shipments: enough to interleave 4 workers, duplicates and shuffling


def test_duplicated_and_shuffled_webhooks_give_one_voucher_per_shipment(ctx, sandboxes, stack):
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=N_ORDERS, parts=60, split_ratio=0.2)
    push_orders(ctx, N_ORDERS)
    stack.start_worker(concurrency=4)
    hook(shipbob, "faults", {"webhooks": {"duplicate_rate": 0.3, "shuffle": True}})
    shipped = ship_everything(shipbob, random.Random(1))
    per_order = defaultdict(int)
    for shipment in hook(shipbob, "dump/shipments", method="GET"):
        per_order[shipment["order_id"]] += 1
    assert max(per_order.values()) >= 3, "some orders are split into 2-3 shipments"
    wait_until_converged(ctx, ifs, shipbob, shipped, delivered_shipments(shipbob))
    assert_exactly_one_voucher_per_shipment(ctx, ifs, shipbob, shipped)
    stats = hook(shipbob, "stats", method="GET")["webhooks"]
    assert stats["messages"] > len(shipped), stats  # duplicates were really sent


def test_webhooks_arriving_while_the_worker_is_stopped_are_not_lost(ctx, sandboxes, stack):
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=N_ORDERS, parts=60, split_ratio=0.2)
    push_orders(ctx, N_ORDERS)
    hook(shipbob, "faults", {"webhooks": {"duplicate_rate": 0.3, "shuffle": True}})
    shipped = ship_everything(shipbob, random.Random(2))
    deliver_webhooks(shipbob)
    # the receiver stored them; nothing reached IFS
    with ctx.session() as session:
        assert session.execute(select(func.count()).select_from(WebhookEvent)).scalar_one() > 0
    assert vouchers_by_shipment(ifs) == {}
    stack.start_worker(concurrency=4)
    wait_until_converged(ctx, ifs, shipbob, shipped, delivered_shipments(shipbob))
    assert_exactly_one_voucher_per_shipment(ctx, ifs, shipbob, shipped)


def test_a_redis_flush_mid_run_loses_nothing(ctx, settings, sandboxes, stack):
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=N_ORDERS, parts=60, split_ratio=0.2)
    push_orders(ctx, N_ORDERS)
    hook(shipbob, "faults", {"webhooks": {"duplicate_rate": 0.3, "shuffle": True}})
    shipped = ship_everything(shipbob, random.Random(3))
    deliver_webhooks(shipbob)
    # every queued wake-up (and the limiter, locks and caches) is gone
    client = redis_lib.Redis.from_url(REDIS_URL)
    flushed = 0
    for key in client.scan_iter(match=f"{settings.redis_prefix}*", count=1000):
        flushed += client.delete(key)
    assert flushed > 0
    stack.start_worker(concurrency=4)
    stack.start_beat()  # its sweeper re-publishes what the flush lost
    wait_until_converged(ctx, ifs, shipbob, shipped, delivered_shipments(shipbob))
    assert_exactly_one_voucher_per_shipment(ctx, ifs, shipbob, shipped)
