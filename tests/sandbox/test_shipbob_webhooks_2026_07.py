"""The ShipBob stand-in's 2026-07 webhook topics over real HTTP: the edit topics raised by
the shipment edit endpoints, subscriptions on 2026-07 while the other calls stay on
2026-01, and the unpublished parts (bodies, WRO topic names) as configuration."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook

from sandbox.shipbob import ShipBobSandboxConfig
from sandbox.shipbob.testkit import SandboxHandle

from .test_shipbob_sandbox import wro_body
from .test_shipbob_webhooks import Receiver, flush, new_order, subscribe

EDIT_TOPICS = ["order.shipment.address.updated", "order.shipment.line_item.added",
               "order.shipment.line_item.removed", "order.shipment.line_item.updated",
               "order.shipment.shipping_service.updated"]
ADDRESS = {"street_address1": "400 Broad St", "city": "Seattle", "state": "WA", "country_code": "US"}


@pytest.fixture(scope="module")
def receiver_server():
    r = Receiver()
    yield r
    r.server.stop()


@pytest.fixture
def receiver(receiver_server):
    receiver_server.got, receiver_server.plan, receiver_server.secret = [], [], None
    return receiver_server


def handle(**config) -> SandboxHandle:
    config.setdefault("validate_responses", True)
    sb = SandboxHandle(ShipBobSandboxConfig(**config)).start()
    sb.inv = sb.hook("POST", "/seed", json={"skus": ["P00001", "P00002"], "levels": {
        "P00001": {"156": 50}, "P00002": {"156": 50}}}).json()["inventory_ids"]
    return sb


def edit(sb, sid: int) -> None:
    assert sb.api("PUT", f"/shipment/{sid}:updateAddress", json=ADDRESS).json()["is_success"]
    lines = sb.api("POST", f"/shipment/{sid}:updateLineItems", json={"items": [
        {"inventory_id": sb.inv["P00002"], "quantity": 3}]}).json()  # P00001 out, P00002 in
    assert lines["is_success"]
    lines = sb.api("POST", f"/shipment/{sid}:updateLineItems", json={"items": [
        {"inventory_id": sb.inv["P00002"], "quantity": 4}]}).json()
    assert lines["is_success"]
    bulk = sb.api("PUT", "/shipment:bulkUpdateShippingService", json={
        "shipment_ids": [sid], "requested_shipping_service_id": 4, "reason": "rush"}).json()
    assert bulk["summary"]["successful"] == 1


def bodies(receiver) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for got in receiver.got:
        out.setdefault(got["headers"]["X-Webhook-Topic"], []).append(
            Webhook(receiver.secret).verify(got["body"], got["headers"]))
    return out


def test_edits_raise_the_2026_07_topics_with_the_shipment(receiver):
    sb = handle(api_version="2026-07")
    try:
        subscribe(sb, receiver, EDIT_TOPICS)
        sid = new_order(sb)["shipments"][0]["id"]
        edit(sb, sid)
        flush(sb)
        got = bodies(receiver)
        assert sorted(receiver.topics()) == sorted(EDIT_TOPICS)  # one per kind of change
        for topic, payloads in got.items():
            for body in payloads:
                assert body["id"] == sid, topic
                assert sb.world.validator.schema_errors("Orders.ShipmentViewModel", body) == []
        assert got["order.shipment.address.updated"][0]["recipient"]["address"]["city"] == "Seattle"
        assert got["order.shipment.shipping_service.updated"][0]["ship_option"] == "Overnight"
    finally:
        sb.stop()


def test_2026_01_has_none_of_them(receiver):
    sb = handle()
    try:
        r = sb.api("POST", "/webhook", json={"topics": EDIT_TOPICS[:1], "url": receiver.url})
        assert r.status_code == 422
        subscribe(sb, receiver, ["order.shipment.cancelled"])
        sid = new_order(sb)["shipments"][0]["id"]
        edit(sb, sid)
        flush(sb)
        assert receiver.got == []
    finally:
        sb.stop()


def test_subscriptions_on_2026_07_while_the_calls_stay_on_2026_01(receiver):
    sb = handle(webhook_api_version="2026-07")
    try:
        topics = ["order.shipment.tracking.updated", "order.delivered", "order.shipped"]
        assert sb.api("POST", "/webhook", json={"topics": topics, "url": receiver.url}).status_code == 422
        r = sb.api("POST", f"{sb.url}/2026-07/webhook", json={"topics": topics, "url": receiver.url})
        assert r.status_code == 200, r.text
        receiver.secret = r.json()["secret"]
        assert sb.api("GET", f"{sb.url}/2026-07/webhook", token="").status_code == 401
        assert sb.api("GET", f"{sb.url}/2026-07/order").status_code == 404  # only webhooks there
        listed = sb.api("GET", "/webhook").json()["items"]
        assert [s["topics"] for s in listed] == [topics]

        order = new_order(sb)
        sid = order["shipments"][0]["id"]
        sb.hook("POST", f"/orders/{order['id']}/ship", json={"with_tracking": False})
        sb.hook("POST", f"/shipments/{sid}/tracking", json={"tracking_number": "1Z1"})
        sb.hook("POST", f"/shipments/{sid}/deliver")
        flush(sb)
        assert sorted(receiver.topics()) == sorted(topics)
        got = bodies(receiver)
        assert got["order.shipment.tracking.updated"][0]["tracking"]["tracking_number"] == "1Z1"
        assert got["order.delivered"][0]["id"] == order["id"]  # the order
    finally:
        sb.stop()


def test_unpublished_bodies_and_wro_topic_names_are_configuration(receiver):
    sb = handle(api_version="2026-07",
                webhook_bodies={"order.shipment.address.updated": "order", "order.shipped": "shipment"},
                wro_webhook_topics={"created": "wro.created", "completed": "wro.completed",
                                    "box_stowed": "wro.box.stowed"},
                extra_webhook_topics=["return.label.created"])
    try:
        subscribe(sb, receiver, ["order.shipment.address.updated", "order.shipped", "wro.created",
                                 "wro.completed", "wro.box.stowed", "return.label.created"])
        assert sb.api("POST", "/webhook", json={"topics": ["wro.updated"],
                                                "url": receiver.url}).status_code == 422
        order = new_order(sb)
        sb.api("PUT", f"/shipment/{order['shipments'][0]['id']}:updateAddress", json=ADDRESS)
        sb.hook("POST", f"/orders/{order['id']}/ship", json={})
        inv = sb.inv["P00001"]
        wro = sb.api("POST", "/receiving", json=wro_body([(inv, 4)])).json()
        sb.hook("POST", f"/receiving/{wro['id']}/receive", json={"items": [{"inventory_id": inv, "stowed": 4}]})
        flush(sb)
        got = bodies(receiver)
        assert sorted(got) == ["order.shipment.address.updated", "order.shipped", "wro.box.stowed",
                               "wro.completed", "wro.created"]
        assert got["order.shipment.address.updated"][0]["id"] == order["id"]  # the order
        assert got["order.shipped"][0]["id"] == order["shipments"][0]["id"]  # the shipment
        assert got["wro.created"][0]["status"] == "Awaiting"
        assert got["wro.completed"][0]["status"] == "Completed" and got["wro.completed"][0]["id"] == wro["id"]
    finally:
        sb.stop()


def test_unknown_wro_events_are_refused():
    with pytest.raises(ValidationError):
        ShipBobSandboxConfig(wro_webhook_topics={"arrived": "wro.arrived"})
