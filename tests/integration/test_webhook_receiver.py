"""The webhook receiver against real PostgreSQL (tests/conftest.py `clean_db`),
through Flask's test client and once over real HTTP.

Only `enqueue` and `broker_check` are test doubles: a recorder and a
failing callable; signatures are made by the reference library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from celery import Celery
from kombu.exceptions import OperationalError
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from connector.db.models import KeyValue, WebhookEvent
from connector.db.session import session_scope
from connector.settings import load_settings
from sandbox.server import BackgroundServer
from tests.helpers import Recorder
from webhooks.app import create_app
from webhooks.health import celery_broker_check
from webhooks.secrets import KV_SECRET_KEY

SECRET = "whsec_" + base64.b64encode(b"receiver-current-secret!").decode()
PREVIOUS = "whsec_" + base64.b64encode(b"receiver-previous-secret").decode()
STORED = "whsec_" + base64.b64encode(b"stored-by-subscribe-cmd!").decode()
BODY = json.dumps({"order_id": 100000001, "status": "Completed"}).encode()
NOTHING_LISTENS = "postgresql://postgres@127.0.0.1:1/ifs_shipbob_nowhere"
REDIS_URL = "redis://127.0.0.1:6379/0"


def broker_down(_event_id: int) -> None:
    raise ConnectionError("broker unreachable")


def make_app(database_url, enqueue, broker_check=lambda: None, **settings):
    settings.setdefault("shipbob_webhook_secret", SECRET)
    return create_app(
        load_settings(database_url=database_url, **settings),
        enqueue=enqueue,
        broker_check=broker_check,
    )


def signed_headers(body=BODY, topic="order.shipped", secret=SECRET, msg_id=None, at=None):
    at = at or datetime.now(timezone.utc)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": _sign(secret, msg_id, at, body),
        "x-webhook-topic": topic,
        "content-type": "application/json",
    }


def _sign(secret, msg_id, at, body: bytes) -> str:
    try:
        return Webhook(secret).sign(msg_id, at, body.decode("utf-8"))
    except UnicodeDecodeError:  # the library signs text only; same HMAC by hand
        key = base64.b64decode(secret.removeprefix("whsec_"))
        content = f"{msg_id}.{int(at.timestamp())}.".encode() + body
        return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def events(database_url) -> list[WebhookEvent]:
    with session_scope(database_url) as session:
        return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


def counted(app, topic, outcome) -> float:
    registry = app.extensions["ifs_shipbob_metrics"].registry
    value = registry.get_sample_value(
        "ifs_shipbob_webhooks_received_total", {"topic": topic, "outcome": outcome}
    )
    return value or 0.0


@pytest.fixture
def recorder(clean_db):
    return Recorder(clean_db)


@pytest.fixture
def app(clean_db, recorder):
    return make_app(clean_db, recorder)


@pytest.fixture
def client(app):
    return app.test_client()


def post(client, body=BODY, headers=None, **kwargs):
    return client.post("/webhooks/shipbob", data=body, headers=headers or signed_headers(body), **kwargs)


# --- verified deliveries -------------------------------------------------


def test_valid_delivery_is_stored_committed_then_enqueued(client, app, clean_db, recorder):
    headers = signed_headers(topic="order.shipped")
    response = post(client, headers=headers)

    assert response.status_code == 200
    assert response.get_json() == {"status": "accepted"}
    [event] = events(clean_db)
    assert (event.webhook_id, event.topic, event.body) == (headers["webhook-id"], "order.shipped", BODY.decode())
    assert event.processed_at is None and event.outcome is None
    assert recorder.ids == [event.id]
    assert counted(app, "order.shipped", "accepted") == 1


def test_same_webhook_id_twice_is_one_row_and_one_enqueue(client, app, clean_db, recorder):
    headers = signed_headers()
    first, second = post(client, headers=headers), post(client, headers=headers)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_json() == {"status": "duplicate"}
    assert len(events(clean_db)) == 1
    assert len(recorder.ids) == 1
    assert counted(app, "order.shipped", "duplicate") == 1


def test_previous_secret_is_accepted_during_rotation(clean_db, recorder):
    rotated = make_app(clean_db, recorder, shipbob_webhook_secret=SECRET,
                       shipbob_webhook_secret_previous=PREVIOUS)
    response = post(rotated.test_client(), headers=signed_headers(secret=PREVIOUS))

    assert response.status_code == 200
    assert len(recorder.ids) == 1


def test_secret_stored_by_subscribe_is_accepted(clean_db, recorder):
    with session_scope(clean_db) as session:
        session.add(KeyValue(key=KV_SECRET_KEY, value=STORED))
    app = make_app(clean_db, recorder, shipbob_webhook_secret=None)

    assert post(app.test_client(), headers=signed_headers(secret=STORED)).status_code == 200
    assert post(app.test_client(), headers=signed_headers(secret=SECRET)).status_code == 401
    assert len(recorder.ids) == 1


@pytest.mark.parametrize("topic", ["order.shipment.tracking.updated", "order.delivered",
                                   "order.shipment.address.updated", "order.shipment.line_item.added",
                                   "order.shipment.line_item.removed", "order.shipment.line_item.updated",
                                   "order.shipment.shipping_service.updated"])
def test_2026_07_order_topics_are_stored_and_enqueued(client, app, clean_db, recorder, topic):
    response = post(client, headers=signed_headers(topic=topic))

    assert response.get_json() == {"status": "accepted"}
    [event] = events(clean_db)
    assert event.outcome is None and recorder.ids == [event.id]
    assert counted(app, topic, "accepted") == 1


def test_configured_extra_topics_are_handled_and_others_still_ignored(clean_db, recorder):
    app = make_app(clean_db, recorder, shipbob_webhook_extra_topics="wro.box.stowed")
    accepted = post(app.test_client(), headers=signed_headers(topic="wro.box.stowed"))
    ignored = post(app.test_client(), headers=signed_headers(topic="wro.box.scanned"))

    assert accepted.get_json() == {"status": "accepted"} and ignored.get_json() == {"status": "ignored"}
    stowed, scanned = events(clean_db)
    assert recorder.ids == [stowed.id] and scanned.outcome == "ignored"
    assert counted(app, "wro.box.stowed", "accepted") == 1  # a configured name is its own label
    assert counted(app, "other", "ignored") == 1


@pytest.mark.parametrize("topic", ["billing.charge.created", "order.shipment.something.new", "", "no.such.topic"])
def test_unknown_topic_is_stored_as_ignored_not_enqueued(client, app, clean_db, recorder, topic):
    response = post(client, headers=signed_headers(topic=topic))

    assert response.status_code == 200
    assert response.get_json() == {"status": "ignored"}
    [event] = events(clean_db)
    assert event.outcome == "ignored" and event.processed_at is not None
    assert recorder.ids == []


def test_broker_down_still_acknowledges_and_keeps_the_row(clean_db, caplog):
    app = make_app(clean_db, broker_down)
    with caplog.at_level(logging.ERROR, logger="webhooks"):
        response = post(app.test_client())

    assert response.status_code == 200
    [event] = events(clean_db)
    assert event.processed_at is None  # the sweeper will publish it
    assert counted(app, "order.shipped", "enqueue_failed") == 1
    assert any(getattr(r, "outcome", None) == "enqueue_failed" for r in caplog.records)


# --- rejected deliveries: nothing stored, nothing enqueued ---------------


def _rejected(response, status, clean_db, recorder):
    assert response.status_code == status
    assert events(clean_db) == []
    assert recorder.ids == []


def test_tampered_body_is_401(client, clean_db, recorder):
    headers = signed_headers()
    _rejected(post(client, body=BODY.replace(b"Completed", b"Cancelled"), headers=headers), 401, clean_db, recorder)


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_stale_or_future_timestamp_is_401(client, clean_db, recorder, offset):
    headers = signed_headers(at=datetime.now(timezone.utc) + offset)
    _rejected(post(client, headers=headers), 401, clean_db, recorder)


def test_unsigned_is_401(client, clean_db, recorder):
    response = post(client, headers={"x-webhook-topic": "order.shipped", "content-type": "application/json"})
    _rejected(response, 401, clean_db, recorder)
    assert response.get_json() == {"error": "invalid signature"}


def test_wrong_secret_is_401(client, app, clean_db, recorder):
    other = "whsec_" + base64.b64encode(b"an-attacker-guessed-this").decode()
    _rejected(post(client, headers=signed_headers(secret=other)), 401, clean_db, recorder)
    assert counted(app, "order.shipped", "rejected_signature") == 1


def test_no_secret_anywhere_rejects_and_warns_once(clean_db, recorder, caplog):
    app = make_app(clean_db, recorder, shipbob_webhook_secret=None)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="webhooks"):
        for _ in range(3):
            _rejected(post(client), 401, clean_db, recorder)

    warnings = [r for r in caplog.records if "no ShipBob webhook secret configured" in r.getMessage()]
    assert len(warnings) == 1


def test_body_over_limit_by_content_length_is_413(client, clean_db, recorder):
    body = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    _rejected(post(client, body=body, headers=signed_headers(body)), 413, clean_db, recorder)


def test_lying_content_length_is_413_before_reading(client, clean_db, recorder):
    response = post(client, environ_overrides={"CONTENT_LENGTH": str(10 * 1024 * 1024)})
    _rejected(response, 413, clean_db, recorder)


def test_chunked_body_is_capped_while_reading(clean_db, recorder):
    app = make_app(clean_db, recorder, webhook_body_limit_bytes=2048)
    client = app.test_client()

    def chunked(body):
        return client.post(
            "/webhooks/shipbob",
            input_stream=io.BytesIO(body),
            headers={**signed_headers(body), "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )

    big = b'{"pad": "' + b"x" * 4096 + b'"}'
    _rejected(chunked(big), 413, clean_db, recorder)
    at_limit = b'{"pad": "' + b"x" * (2048 - 11) + b'"}'
    assert len(at_limit) == 2048
    assert chunked(at_limit).status_code == 200


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe{}"])
def test_signed_but_not_json_is_400(client, app, clean_db, recorder, body):
    _rejected(post(client, body=body, headers=signed_headers(body)), 400, clean_db, recorder)
    assert counted(app, "order.shipped", "bad_json") == 1


def test_database_down_is_503_and_nothing_enqueued(recorder):
    app = make_app(NOTHING_LISTENS, recorder)
    response = post(app.test_client())

    assert response.status_code == 503
    assert recorder.ids == []
    assert counted(app, "order.shipped", "db_unavailable") == 1


def test_unverified_request_with_database_down_stores_nothing(recorder):
    app = make_app(NOTHING_LISTENS, recorder)
    response = post(app.test_client(), headers={"x-webhook-topic": "order.shipped"})
    assert response.status_code == 401
    assert recorder.ids == []


# --- health, readiness, metrics, logs ------------------------------------


def test_healthz_needs_no_database(recorder):
    app = make_app(NOTHING_LISTENS, recorder)
    assert app.test_client().get("/healthz").status_code == 200


def test_readyz_ok_when_database_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readyz_names_the_failing_parts(recorder):
    def broker_check():
        raise ConnectionError("no broker")

    app = make_app(NOTHING_LISTENS, recorder, broker_check=broker_check)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "unavailable", "broker": "unavailable"}


def test_default_broker_check_against_real_and_absent_redis():
    celery_broker_check(Celery("ready-probe", broker=REDIS_URL))
    with pytest.raises(OperationalError):
        celery_broker_check(Celery("ready-probe", broker="redis://127.0.0.1:1/0"))


def test_metrics_endpoint_exposes_counters_and_latency(client):
    post(client)
    post(client, headers={"x-webhook-topic": "made.up"})
    text = client.get("/metrics").get_data(as_text=True)

    assert 'ifs_shipbob_webhooks_received_total{outcome="accepted",topic="order.shipped"} 1.0' in text
    assert 'ifs_shipbob_webhooks_received_total{outcome="rejected_signature",topic="other"} 1.0' in text
    assert "ifs_shipbob_webhook_request_seconds_count 2.0" in text


def test_repeated_create_app_keeps_separate_metrics(clean_db, recorder):
    first, second = make_app(clean_db, recorder), make_app(clean_db, recorder)
    post(first.test_client())
    assert counted(first, "order.shipped", "accepted") == 1
    assert counted(second, "order.shipped", "accepted") == 0


def test_logs_carry_ids_and_never_secrets_signatures_or_bodies(clean_db, recorder, caplog):
    app = make_app(clean_db, recorder, shipbob_webhook_secret=SECRET, shipbob_webhook_secret_previous=PREVIOUS)
    client = app.test_client()
    body = json.dumps({"order_id": 1, "marker": "BODY-MARKER-7f3a"}).encode()
    good = signed_headers(body)
    bad = signed_headers(body, secret="whsec_" + base64.b64encode(b"x" * 24).decode())
    with caplog.at_level(logging.DEBUG):
        post(client, body=body, headers=good)
        post(client, body=body, headers=bad)
        post(client, body=b"{bad json", headers=signed_headers(b"{bad json"))

    accepted = [r for r in caplog.records if getattr(r, "outcome", None) == "accepted"]
    assert accepted and accepted[0].webhook_id == good["webhook-id"]
    assert accepted[0].topic == "order.shipped"
    secrets = [SECRET, PREVIOUS, SECRET.removeprefix("whsec_"), PREVIOUS.removeprefix("whsec_")]
    forbidden = secrets + ["BODY-MARKER-7f3a", "{bad json"] + [
        h["webhook-signature"].split(",", 1)[1] for h in (good, bad)
    ]
    for record in caplog.records:
        rendered = record.getMessage() + " " + " ".join(str(v) for v in vars(record).values())
        for needle in forbidden:
            assert needle not in rendered


# --- over real HTTP --------------------------------------------------------


def test_over_real_http_including_a_chunked_oversized_body(clean_db, recorder):
    app = make_app(clean_db, recorder, webhook_body_limit_bytes=4096)
    with BackgroundServer(app) as server:
        url = f"{server.url}/webhooks/shipbob"
        headers = signed_headers()
        ok = requests.post(url, data=BODY, headers=headers, timeout=10)
        again = requests.post(url, data=BODY, headers=headers, timeout=10)

        big = b'{"pad": "' + b"x" * 16384 + b'"}'
        chunks = (big[i:i + 1024] for i in range(0, len(big), 1024))  # a generator: chunked
        too_big = requests.post(url, data=chunks, headers=signed_headers(big), timeout=10)
        ready = requests.get(f"{server.url}/readyz", timeout=10)

    assert (ok.status_code, ok.json()) == (200, {"status": "accepted"})
    assert again.json() == {"status": "duplicate"}
    assert too_big.status_code == 413
    assert counted(app, "order.shipped", "too_large") == 1  # our cap, not a server limit
    assert ready.status_code == 200
    assert len(events(clean_db)) == 1 and len(recorder.ids) == 1
