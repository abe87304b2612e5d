"""Transport behaviour against scripted answers: headers, retries, 429 pool
pauses, error mapping, and no secret in logs or errors."""

from __future__ import annotations

import logging

import pytest
import requests

from connector.coordination import LocalCoordinator
from connector.errors import PermanentError, RateLimited, TransientError
from connector.shipbob import DuplicateReference, ShipBobClient, ShipBobNotFound
from connector.shipbob.transport import Limits, build_headers, error_for, is_duplicate_reference, redacted

from .test_shipbob_fakes import PAT, FakeSession, make_settings, response


def client(*answers, coordinator=None, **limits):
    session = FakeSession(*answers)
    c = ShipBobClient(make_settings(), coordinator or LocalCoordinator(), session=session,
                      limits=Limits(**limits) if limits else None)
    c.transport._sleep = lambda s: None
    return c, session


def test_build_headers_and_redaction():
    headers = build_headers("tok-123", 128944)
    assert headers["Authorization"] == "Bearer tok-123"
    assert headers["shipbob_channel_id"] == "128944"
    safe = redacted(headers)
    assert "tok-123" not in repr(safe) and safe["shipbob_channel_id"] == "128944"


def test_every_call_has_bearer_channel_timeout_and_versioned_url():
    c, session = client(response(200, [{"id": 1}]))
    assert c.fulfillment_centers() == [{"id": 1}]
    sent = session.sent[0]
    assert sent["url"] == "http://shipbob.test/2026-01/fulfillment-center"
    assert sent["headers"]["Authorization"] == f"Bearer {PAT}"
    assert sent["headers"]["shipbob_channel_id"] == "42"
    assert sent["timeout"] == 5


@pytest.mark.parametrize("method, path, status, text, expected", [
    ("POST", "/order", 422, '{"": ["Cannot insert order with existing ReferenceId"]}', True),
    ("POST", "order", 422, '{"errors": ["Duplicate reference_id"]}', True),
    ("POST", "/order", 422, '{"errors": ["Something else"]}', False),
    # a validation error that merely names a product's reference_id
    ("POST", "/order", 422, '{"products[0].reference_id": ["is too long"]}', False),
    ("POST", "/order", 400, '{"reference_id": ["required"]}', False),
    ("POST", "/return", 422, '{"message": "ReferenceId exists"}', False),
    ("POST", "/order/1:cancel", 422, "reference", False),
])
def test_duplicate_reference_detection(method, path, status, text, expected):
    assert is_duplicate_reference(method, path, status, text) is expected


def test_error_mapping():
    assert isinstance(error_for("GET", "order/1", response(404, {"title": "nf"})), ShipBobNotFound)
    dup = error_for("POST", "/order", response(422, {"": ["Cannot insert order with existing ReferenceId"]}),
                    reference_id="IFS-1")
    assert isinstance(dup, DuplicateReference) and dup.reference_id == "IFS-1"
    bad = error_for("POST", "/order", response(400, {"recipient.name": ["required"]}))
    assert type(bad) is PermanentError and bad.status == 400
    assert bad.body == {"recipient.name": ["required"]}
    other = error_for("POST", "/order", response(422, {"errors": ["location closed"]}))
    assert type(other) is PermanentError and other.body == {"errors": ["location closed"]}
    assert isinstance(error_for("GET", "order", response(503)), TransientError)


def test_duplicate_order_raises_duplicate_reference():
    c, _ = client(response(422, {"": ["Cannot insert order with existing ReferenceId"]}))
    with pytest.raises(DuplicateReference) as info:
        c.create_order({"reference_id": "IFS-7"})
    assert info.value.reference_id == "IFS-7"


def test_pat_401_is_permanent_and_names_no_secret(caplog):
    caplog.set_level(logging.DEBUG)
    c, session = client(response(401))
    with pytest.raises(PermanentError) as info:
        c.get_order(1)
    assert "personal access token" in str(info.value)
    assert len(session.sent) == 1
    assert PAT not in str(info.value) and PAT not in caplog.text


def test_5xx_retried_then_transient():
    c, session = client(response(502), response(503), response(200, {"id": 5}))
    assert c.get_order(5) == {"id": 5}
    c, session = client(*[response(500)] * 4)
    with pytest.raises(TransientError):
        c.get_order(5)
    assert len(session.sent) == 4  # first try + 3 retries


def test_network_error_retried_for_reads_not_for_wro_create():
    c, session = client(requests.ConnectionError("reset"), response(200, {"id": 1}))
    assert c.get_wro(1) == {"id": 1}
    c, session = client(requests.ReadTimeout("slow"), response(201, {"id": 2}))
    with pytest.raises(TransientError):
        c.create_wro({"purchase_order_number": "PO-1"})
    assert len(session.sent) == 1  # an ambiguous POST is not repeated
    c, session = client(requests.ConnectTimeout("never sent"), response(201, {"id": 2}))
    assert c.create_wro({"purchase_order_number": "PO-1"}) == {"id": 2}


def test_429_pauses_the_pool_then_retries():
    coordinator = LocalCoordinator()
    c, session = client(response(429, {"statusCode": 429}, {"x-retry-after": "0.2", "x-remaining-calls": "0"}),
                        response(200, {"id": 1}, {"x-remaining-calls": "100"}),
                        coordinator=coordinator)
    assert c.get_order(1) == {"id": 1}
    stats = coordinator.read("shipbob")
    assert stats["rate_limited_count"] == "1" and stats["last_retry_after"] == "0.2"
    assert stats["remaining_calls"] == "100"


def test_long_429_raises_rate_limited_with_retry_after():
    coordinator = LocalCoordinator()
    c, session = client(response(429, None, {"x-retry-after": "25"}), coordinator=coordinator)
    with pytest.raises(RateLimited) as info:
        c.get_order(1)
    assert info.value.retry_after == 25
    assert coordinator.paused_for("shipbob") >= 24  # every worker waits, not just this one


def test_429_retries_are_bounded():
    c, session = client(*[response(429, None, {"x-retry-after": "0"})] * 5, max_429_retries=2)
    with pytest.raises(RateLimited):
        c.get_order(1)
    assert len(session.sent) == 3


def test_low_remaining_calls_slow_down():
    c, session = client(response(200, {"id": 1}, {"x-remaining-calls": "1"}), response(200, {"id": 2}))
    slept = []
    c.transport._sleep = slept.append
    c.get_order(1)
    c.get_order(2)
    assert slept and slept[0] > 0


def test_log_lines_carry_method_path_status_and_remaining(caplog):
    caplog.set_level(logging.INFO, logger="connector.shipbob")
    c, _ = client(response(200, [], {"x-remaining-calls": "140"}))
    list(c.orders(ReferenceIds=["A"]))
    line = caplog.records[-1].getMessage()
    assert "GET /order -> 200" in line and "140" in line and PAT not in caplog.text
