"""ShipBob's 2026-07 webhook topics through the real pipeline, with the
subscription on 2026-07 while every other call stays on 2026-01
(SHIPBOB_WEBHOOK_API_VERSION; README "ShipBob webhook topics"):

`ifs-shipbob webhooks subscribe` -> POST /2026-07/webhook; ShipBob sandbox
-> signed webhooks -> gunicorn receiver -> PostgreSQL inbox -> Redis broker
-> Celery worker -> IFS sandbox.

The sandbox sends each topic with the body ShipBob's docs suggest (⚠ none
published): the shipment for `order.shipment.*`, the order for
`order.delivered`, so both shapes are routed here.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli import main
from cli.stack import Stack, env_for
from connector.db.models import Flow, Job, JobState, WebhookEvent
from connector.flows.order_poll import poll_orders
from connector.runner import run_job
from connector.settings import load_settings
from tests.conftest import FAST_RATE_LIMIT, REDIS_URL
from tests.helpers import eventually, hook, ifs_rows, seed_world, shipbob_api

# 2026-01's topics the connector handles, and what 2026-07 adds to them
# (developer.shipbob.com/2026-07/api/webhooks/create-subscription).
TOPICS_2026_01 = ["order.shipped", "order.shipment.delivered", "order.shipment.exception",
                  "order.shipment.on_hold", "order.shipment.cancelled",
                  "return.created", "return.updated", "return.completed"]
TOPICS_2026_07 = ["order.shipment.tracking.updated", "order.delivered", "order.shipment.address.updated",
                  "order.shipment.line_item.added", "order.shipment.line_item.removed",
                  "order.shipment.line_item.updated", "order.shipment.shipping_service.updated"]
EDIT_TOPICS = ["order.shipment.address.updated", "order.shipment.line_item.updated",
               "order.shipment.shipping_service.updated"]


@pytest.fixture(scope="module")
def shipbob_sandbox():
    """ShipBob on 2026-01 whose webhook subscriptions are made on 2026-07."""
    from sandbox.server import BackgroundServer
    from sandbox.shipbob import ShipBobSandboxConfig, create_app

    config = ShipBobSandboxConfig(rate_limit_per_minute=FAST_RATE_LIMIT, webhook_retry_time_scale=0.001,
                                  webhook_api_version="2026-07")
    server = BackgroundServer(create_app(config)).start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings):
    return load_settings(**{**settings.model_dump(), "shipbob_webhook_api_version": "2026-07"})


@pytest.fixture
def stack(settings, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    env = env_for(settings, broker_url=REDIS_URL, sweep_seconds=1, sweep_grace_seconds=2,
                  job_lease_seconds=30, http_timeout_seconds=10, worker_metrics_port=0)
    with Stack(env=env, logdir=tmp_path / "logs", ifs=ifs, shipbob=shipbob) as running:
        running.start_receiver()
        yield running


@pytest.fixture
def cli(stack, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the CLI reads ./.env: not a developer's own
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def subscribe(cli, stack) -> str:
    return cli("webhooks", "subscribe", "--url", f"{stack.receiver_url}/webhooks/shipbob")


def pushed_order(ctx, sandboxes) -> dict:
    seed_world(sandboxes, orders=1, split_ratio=0)
    assert {run_job(ctx, j).status for j in poll_orders(ctx)} == {"done"}
    [order] = hook(sandboxes[1], "dump/orders", method="GET")
    return order


def deliver(shipbob) -> None:
    hook(shipbob, "webhooks/flush", {"fast_forward": True})


def stored(ctx, topic: str) -> list[WebhookEvent]:
    with ctx.session() as session:
        return list(session.scalars(select(WebhookEvent).where(WebhookEvent.topic == topic)))


def voucher_job(ctx, order_id: int) -> Job | None:
    with ctx.session() as session:
        return session.scalars(select(Job).where(Job.flow == Flow.SHIPMENT_VOUCHER.value,
                                                 Job.key == str(order_id))).one_or_none()


def settled(ctx) -> bool:
    """Every stored event routed and every job finished."""
    with ctx.session() as session:
        unrouted = session.scalars(select(WebhookEvent).where(WebhookEvent.processed_at.is_(None))).all()
        busy = session.scalars(select(Job).where(
            Job.state.in_([JobState.PENDING.value, JobState.RUNNING.value]))).all()
    return not unrouted and not busy


def voucher_patches(ifs) -> int:
    stats = hook(ifs, "stats", method="GET")
    return sum(methods.get("PATCH", 0) for part in ("requests", "batch_parts")
               for resource, methods in stats[part].items() if "FulfillmentVoucher" in resource)


def the_voucher(ifs) -> dict:
    [voucher] = ifs_rows(ifs, "FulfillmentVoucherSet")
    return voucher


def test_subscribe_configured_for_2026_07_subscribes_there_to_its_topics(ctx, sandboxes, stack, cli):
    _, shipbob = sandboxes
    said = subscribe(cli, stack)

    [subscription] = hook(shipbob, "dump/subscriptions", method="GET")
    assert sorted(subscription["topics"]) == sorted(TOPICS_2026_01 + TOPICS_2026_07)
    calls = hook(shipbob, "stats", method="GET")["requests"]
    assert calls.get("POST /2026-07/webhook") == 1, calls
    assert "POST /2026-01/webhook" not in calls
    assert f"to {len(subscription['topics'])} topic(s) of 2026-07" in said
    assert subscription["id"] in cli("webhooks", "list")
    assert "GET /2026-07/webhook" in hook(shipbob, "stats", method="GET")["requests"]  # listed there too


def test_tracking_updated_and_order_delivered_bring_the_voucher_up_to_date(ctx, sandboxes, stack, cli):
    ifs, shipbob = sandboxes
    order = pushed_order(ctx, sandboxes)
    subscribe(cli, stack)
    stack.start_worker(concurrency=2)
    hook(shipbob, f"orders/{order['id']}/ship", {"with_tracking": True})
    deliver(shipbob)
    eventually(lambda: ifs_rows(ifs, "FulfillmentVoucherSet") and settled(ctx), 120, "the voucher")
    [shipment] = hook(shipbob, "dump/shipments", method="GET")
    assert the_voucher(ifs)["TrackingNo"] == shipment["tracking"]["tracking_number"]

    # The carrier's number changes: only 2026-07's tracking.updated says so.
    before = voucher_patches(ifs)
    hook(shipbob, f"shipments/{shipment['id']}/tracking", {"tracking_number": "1ZRELABELLED"})
    deliver(shipbob)
    [tracking] = stored(ctx, "order.shipment.tracking.updated")
    eventually(lambda: the_voucher(ifs)["TrackingNo"] == "1ZRELABELLED" and settled(ctx), 120,
               "the new tracking number in IFS")
    job = voucher_job(ctx, order["id"])
    assert [e.outcome for e in stored(ctx, "order.shipment.tracking.updated")] == [f"job:{job.id}"]
    assert voucher_patches(ifs) - before == 1

    # Delivered: the shipment's topic and 2026-07's order.delivered (the order as body).
    before = voucher_patches(ifs)
    hook(shipbob, f"shipments/{shipment['id']}/deliver")
    deliver(shipbob)
    [delivered] = stored(ctx, "order.delivered")
    eventually(lambda: the_voucher(ifs).get("DeliveredDate") and settled(ctx), 120, "the delivery in IFS")
    assert [e.outcome for e in stored(ctx, "order.delivered")] == [f"job:{job.id}"]
    assert voucher_patches(ifs) - before == 1
    assert len(ifs_rows(ifs, "FulfillmentVoucherSet")) == 1
    assert voucher_job(ctx, order["id"]).state == JobState.DONE.value


def test_shipment_edits_at_shipbob_are_routed_to_the_orders_job_not_ignored(ctx, sandboxes, stack, cli):
    ifs, shipbob = sandboxes
    order = pushed_order(ctx, sandboxes)
    subscribe(cli, stack)
    stack.start_worker(concurrency=2)
    [shipment] = order["shipments"]
    sid = shipment["id"]

    # A merchant fixes the shipment at ShipBob (dashboard or another app).
    assert shipbob_api(shipbob, "PUT", f"shipment/{sid}:updateAddress", {
        "street_address1": "400 Broad St", "city": "Seattle", "state": "WA", "zip_code": "98109",
        "country_code": "US"})["is_success"]
    lines = shipbob_api(shipbob, "GET", f"shipment/{sid}:getLineItems")
    assert shipbob_api(shipbob, "POST", f"shipment/{sid}:updateLineItems", {"items": [
        {"inventory_id": line["inventory_id"], "quantity": line["quantity"] + 1} for line in lines]})["is_success"]
    service = shipbob_api(shipbob, "GET", "shipping-method")[-1]["service_level"]["id"]
    assert shipbob_api(shipbob, "PUT", "shipment:bulkUpdateShippingService", {
        "shipment_ids": [sid], "requested_shipping_service_id": service,
        "reason": "customer asked"})["summary"]["successful"] == 1
    deliver(shipbob)

    events = {topic: stored(ctx, topic) for topic in EDIT_TOPICS}
    assert all(len(e) == 1 for e in events.values()), {t: len(e) for t, e in events.items()}
    eventually(lambda: settled(ctx), 120, "the edit events to be routed and their job to finish")
    job = voucher_job(ctx, order["id"])  # keyed by the order, though the body is the shipment
    assert job is not None and job.state == JobState.DONE.value, job and job.last_error
    for topic in EDIT_TOPICS:
        assert [e.outcome for e in stored(ctx, topic)] == [f"job:{job.id}"], topic
    assert ifs_rows(ifs, "FulfillmentVoucherSet") == []  # nothing shipped: nothing posted
