"""Webhook subscriptions and signed deliveries of the ShipBob stand-in (shipbob.md §6),
received by a small local Flask app and verified with the `standardwebhooks` library."""

from __future__ import annotations

import re
import threading
import time

import pytest
from flask import Flask, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from sandbox.server import BackgroundServer
from sandbox.shipbob import ShipBobSandboxConfig
from sandbox.shipbob.testkit import SandboxHandle


class Receiver:
    """Records every delivery; answers from `plan` (then 200), or 400 on a bad signature
    when it knows the secret."""

    def __init__(self):
        self.got: list[dict] = []
        self.plan: list[int] = []
        self.secret: str | None = None
        self._lock = threading.Lock()
        app = Flask("receiver")

        @app.post("/hook")
        def hook():
            body, headers = request.get_data(), dict(request.headers)
            verified = None
            if self.secret:
                try:
                    Webhook(self.secret).verify(body, headers)
                    verified = True
                except WebhookVerificationError:
                    verified = False
            with self._lock:
                self.got.append({"body": body, "headers": headers, "verified": verified})
                status = self.plan.pop(0) if self.plan else 200
            if verified is False:
                status = 400
            return ("", status, {"Location": "/elsewhere"}) if status in (301, 302) else ("", status)

        self.server = BackgroundServer(app).start()
        self.url = self.server.url + "/hook"

    def topics(self) -> list[str]:
        return [g["headers"]["X-Webhook-Topic"] for g in self.got]


@pytest.fixture(scope="module")
def server():
    with SandboxHandle(ShipBobSandboxConfig(validate_responses=True,
                                            webhook_retry_time_scale=0.001)) as sb:
        yield sb


@pytest.fixture
def sb(server):
    server.hook("POST", "/reset")
    server.hook("POST", "/seed", json={"count": 3, "levels": {"P00001": {"156": 50}}})
    return server


@pytest.fixture(scope="module")
def receiver_server():
    r = Receiver()
    yield r
    r.server.stop()


@pytest.fixture
def receiver(receiver_server):
    receiver_server.got, receiver_server.plan, receiver_server.secret = [], [], None
    return receiver_server


def subscribe(sb, receiver, topics, **extra) -> dict:
    r = sb.api("POST", "/webhook", json={"topics": topics, "url": receiver.url, **extra})
    assert r.status_code == 200, r.text
    receiver.secret = r.json()["secret"]
    return r.json()


def new_order(sb, ref="SO-1", qty=2) -> dict:
    return sb.api("POST", "/order", json={
        "reference_id": ref, "shipping_method": "Standard", "type": "DTC", "location_id": 156,
        "recipient": {"name": "Ann", "address": {"address1": "1 Main St", "city": "Chicago",
                                                 "country": "US"}},
        "products": [{"reference_id": "P00001", "quantity": qty, "name": "x"}]}).json()


def flush(sb, fast_forward=False) -> dict:
    return sb.hook("POST", "/webhooks/flush", json={"fast_forward": fast_forward}).json()


# -- subscriptions -----------------------------------------------------------------------------

def test_subscription_rules(sb, receiver):
    def post(**body):
        return sb.api("POST", "/webhook", json={"topics": ["order.shipped"], "url": receiver.url,
                                                **body})

    legacy = post(topics=["order_shipped"])
    assert legacy.status_code == 422 and "topics[0]" in legacy.json()["value"]["errors"]
    assert post(topics=[]).status_code == 422
    assert post(topics=["order.shipment.tracking.updated"]).status_code == 422  # 2026-07 only
    assert post(secret="whsec_short").status_code == 422
    assert post(url="ftp://example.com/hook").status_code == 422

    generated = post(description="ERP connector")
    assert generated.status_code == 200  # 200, not 201
    body = generated.json()
    assert isinstance(body["id"], str) and re.fullmatch(r"whsec_[a-zA-Z0-9+/]{32}", body["secret"])
    given = "whsec_" + "A" * 32
    assert post(secret=given).json()["secret"] == given

    listed = sb.api("GET", "/webhook?RecordsPerPage=1").json()
    assert "secret" not in listed["items"][0] and listed["items"][0]["enabled"] is True
    assert listed["prev"] is None
    assert "secret" not in sb.api("GET", listed["next"]).json()["items"][0]
    assert sb.api("DELETE", f"/webhook/{body['id']}").status_code == 204
    assert sb.api("DELETE", f"/webhook/{body['id']}").status_code == 404
    assert len(sb.api("GET", "/webhook").json()["items"]) == 1


def test_plain_http_urls_can_be_refused_like_the_real_api():
    with SandboxHandle(ShipBobSandboxConfig(allow_http_webhook_urls=False)) as sb:
        r = sb.api("POST", "/webhook", json={"topics": ["order.shipped"], "url": "http://x/h"})
        assert r.status_code == 422 and "url" in r.json()["value"]["errors"]
        ok = sb.api("POST", "/webhook", json={"topics": ["order.shipped"], "url": "https://x/h"})
        assert ok.status_code == 200


# -- delivery ----------------------------------------------------------------------------------

def test_order_shipped_is_signed_once_per_shipment(sb, receiver):
    subscribe(sb, receiver, ["order.shipped", "order.shipment.delivered"])
    order = new_order(sb)
    sb.hook("POST", f"/orders/{order['id']}/ship", json={"shipments": [
        [{"sku": "P00001", "quantity": 1}], [{"sku": "P00001", "quantity": 1}]]})
    sb.hook("POST", f"/orders/{order['id']}/ship", json={})  # nothing left: refused, no event
    flush(sb)
    assert receiver.topics() == ["order.shipped", "order.shipped"]
    ids = set()
    for got in receiver.got:
        h = {k.lower(): v for k, v in got["headers"].items()}
        payload = Webhook(receiver.secret).verify(got["body"], h)
        assert h["content-type"] == "application/json" and h["webhook-id"].startswith("msg_")
        assert h["webhook-signature"].startswith("v1,")
        assert payload["id"] == order["id"] and payload["status"] == "Fulfilled"
        assert sb.world.validator.schema_errors("Orders.OrderViewModel", payload) == []
        ids.add(h["webhook-id"])
    assert len(ids) == 2

    shipment_id = payload["shipments"][1]["id"]
    sb.hook("POST", f"/shipments/{shipment_id}/deliver")
    flush(sb)
    delivered = receiver.got[-1]
    body = Webhook(receiver.secret).verify(delivered["body"], delivered["headers"])
    assert receiver.topics()[-1] == "order.shipment.delivered"
    assert body["id"] == shipment_id and body["delivery_date"]
    assert sb.world.validator.schema_errors("Orders.ShipmentViewModel", body) == []


def test_failures_and_redirects_are_retried_with_the_same_webhook_id(sb, receiver):
    subscribe(sb, receiver, ["return.created"])
    receiver.plan = [500, 302]
    sb.api("POST", "/return", json={"reference_id": "RMA-1", "fulfillment_center": {"id": 156},
                                    "inventory": [{"id": 8000001, "quantity": 1,
                                                   "requested_action": "Restock"}]})
    summary = flush(sb, fast_forward=True)
    assert summary["delivered"] == 1 and summary["pending"] == 0
    attempts = sb.hook("GET", "/dump/webhook_deliveries").json()
    assert [(a["status_code"], a["ok"]) for a in attempts] == [(500, False), (302, False), (200, True)]
    assert len({g["headers"]["Webhook-Id"] for g in receiver.got}) == 1
    assert all(g["verified"] for g in receiver.got)


def test_a_message_fails_after_the_whole_retry_schedule(sb, receiver):
    subscribe(sb, receiver, ["return.created"])
    receiver.plan = [503] * 20
    sb.api("POST", "/return", json={"reference_id": "RMA-1", "fulfillment_center": {"id": 156},
                                    "inventory": [{"id": 8000001, "quantity": 1,
                                                   "requested_action": "Default"}]})
    assert flush(sb, fast_forward=True)["failed"] == 1
    assert len(receiver.got) == 9  # the first try and 8 retries
    [message] = sb.hook("GET", "/dump/webhook_messages").json()
    assert message["state"] == "failed" and message["body"]["reference_id"] == "RMA-1"


def test_background_dispatcher_delivers_without_a_flush(sb, receiver):
    subscribe(sb, receiver, ["return.created"])
    sb.api("POST", "/return", json={"reference_id": "RMA-1", "fulfillment_center": {"id": 156},
                                    "inventory": [{"id": 8000001, "quantity": 1,
                                                   "requested_action": "Default"}]})
    deadline = time.monotonic() + 5
    while not receiver.got and time.monotonic() < deadline:
        time.sleep(0.02)
    assert receiver.topics() == ["return.created"] and receiver.got[0]["verified"]


# -- fault switches ----------------------------------------------------------------------------

def _returns(sb, n):
    for i in range(n):
        sb.api("POST", "/return", json={"reference_id": f"RMA-{i}", "fulfillment_center": {"id": 156},
                                        "inventory": [{"id": 8000001, "quantity": 1,
                                                       "requested_action": "Default"}]})


def test_dropped_messages_never_arrive(sb, receiver):
    subscribe(sb, receiver, ["return.created"])
    sb.hook("POST", "/faults", json={"webhooks": {"drop_rate": 1}})
    _returns(sb, 2)
    assert flush(sb, fast_forward=True)["dropped"] == 2 and receiver.got == []


def test_duplicates_carry_the_same_webhook_id(sb, receiver):
    subscribe(sb, receiver, ["return.created"])
    sb.hook("POST", "/faults", json={"webhooks": {"duplicate_rate": 1}})
    _returns(sb, 1)
    flush(sb, fast_forward=True)
    assert len(receiver.got) == 2
    assert receiver.got[0]["headers"]["Webhook-Id"] == receiver.got[1]["headers"]["Webhook-Id"]
    assert receiver.got[0]["body"] == receiver.got[1]["body"]


def test_bad_signatures_fail_verification(sb, receiver):
    subscribe(sb, receiver, ["return.created"])
    sb.hook("POST", "/faults", json={"webhooks": {"bad_signature_rate": 1}})
    _returns(sb, 1)
    assert flush(sb, fast_forward=True)["failed"] == 1
    assert receiver.got and not any(g["verified"] for g in receiver.got)


def test_delay_and_shuffle_hold_messages_back(sb, receiver):
    subscribe(sb, receiver, ["return.created"])
    sb.hook("POST", "/faults", json={"webhooks": {"delay_seconds": 0.6, "shuffle": 0.2}})
    _returns(sb, 4)
    assert flush(sb)["delivered"] == 0 and receiver.got == []
    time.sleep(0.85)
    assert flush(sb)["delivered"] == 4
    refs = sorted(Webhook(receiver.secret).verify(g["body"], g["headers"])["reference_id"]
                  for g in receiver.got)
    assert refs == [f"RMA-{i}" for i in range(4)]


# -- which events the flows raise ----------------------------------------------------------------

def test_each_flow_raises_its_2026_01_topic(sb, receiver):
    subscribe(sb, receiver, sb.world.webhooks.topics)
    a, b, c = (new_order(sb, f"SO-{i}", 1) for i in range(3))
    sa, sb_, sc = (o["shipments"][0]["id"] for o in (a, b, c))
    sb.hook("POST", f"/shipments/{sa}/status", json={"status": "Exception", "reason": "OutOfStock"})
    sb.hook("POST", f"/shipments/{sb_}/status", json={"status": "OnHold"})
    sb.api("POST", f"/order/{b['id']}:cancel")
    sb.hook("POST", f"/orders/{c['id']}/ship", json={"with_tracking": False})
    sb.hook("POST", f"/shipments/{sc}/tracking", json={})  # no such topic in 2026-01
    sb.hook("POST", f"/shipments/{sc}/deliver")
    ret = sb.api("POST", "/return", json={
        "reference_id": "RMA-1", "fulfillment_center": {"id": 156}, "original_shipment_id": sc,
        "inventory": [{"id": 8000001, "quantity": 1, "requested_action": "Restock"}]}).json()
    sb.hook("POST", f"/returns/{ret['id']}/advance", json={"status": "Arrived"})
    sb.hook("POST", f"/returns/{ret['id']}/advance", json={"status": "Completed"})
    flush(sb)
    assert sorted(receiver.topics()) == sorted([
        "order.shipment.exception", "order.shipment.on_hold", "order.shipment.cancelled",
        "order.shipped", "order.shipment.delivered",
        "return.created", "return.updated", "return.completed"])
    # Deliveries run in parallel and their order is not guaranteed (shipbob.md §6).
    got = next(g for g in receiver.got if g["headers"]["X-Webhook-Topic"] == "return.completed")
    completed = Webhook(receiver.secret).verify(got["body"], got["headers"])
    assert completed["status"] == "Completed" and completed["store_order_id"] == "SO-2"


def test_2026_07_adds_tracking_updates_and_order_delivered(receiver):
    with SandboxHandle(ShipBobSandboxConfig(api_version="2026-07")) as sb:
        sb.hook("POST", "/seed", json={"skus": ["P00001"], "levels": {"P00001": {"156": 5}}})
        subscribe(sb, receiver, ["order.shipment.tracking.updated", "order.delivered"])
        order = new_order(sb)
        sb.hook("POST", f"/orders/{order['id']}/ship", json={"with_tracking": False})
        sid = order["shipments"][0]["id"]
        sb.hook("POST", f"/shipments/{sid}/tracking", json={"tracking_number": "1Z1"})
        sb.hook("POST", f"/shipments/{sid}/deliver")
        flush(sb)
        # Deliveries run in parallel, so the order of arrival is not asserted (shipbob.md §6).
        assert sorted(receiver.topics()) == ["order.delivered", "order.shipment.tracking.updated"]
