"""IFS error envelopes -> the connector taxonomy (ifs-cloud.md §7, §9)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import requests

from connector.errors import PermanentError, RateLimited, TransientError
from connector.ifs.errors import (
    EtagConflict,
    IfsAuthError,
    IfsBusinessError,
    IfsMetadataModified,
    IfsNotFound,
    IfsPreconditionRequired,
    IfsRejected,
    IfsServerError,
    classify,
    parse_error,
    retry_after_seconds,
)

WHAT = "PATCH CustomerOrderHandling.svc/CustomerOrderSet(OrderNo='C1')"


def response(status: int, body=None, headers: dict | None = None, text: str | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.reason = "Reason"
    r._content = (text if text is not None else json.dumps(body)).encode() if (body is not None or text) else b""
    r.headers.update(headers or {})
    r.headers.setdefault("Content-Type", "application/json")
    return r


def envelope(code: str, message: str, details: list[dict] | None = None) -> dict:
    error = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def test_parse_envelope_prefers_details_for_the_ora_code():
    r = response(500, envelope("DATABASE_ERROR", "Not enough quantity", [
        {"code": "DATABASE_ERROR", "message": "ORA-20110: InventoryPartInStock.NOTENOUGH: not enough quantity on the selected location"},
    ]))
    info = parse_error(r)
    assert info.code == "DATABASE_ERROR"
    assert info.ora_code == "ORA-20110"
    assert info.ora_message.startswith("ORA-20110:")
    assert info.business


def test_parse_falls_back_to_message_and_to_non_json_bodies():
    info = parse_error(response(500, envelope("DATABASE_ERROR", "ORA-20124: Pick list locked")))
    assert info.ora_code == "ORA-20124"
    html = parse_error(response(502, text="<html>Bad gateway</html>", headers={"Content-Type": "text/html"}))
    assert html.code is None and "Bad gateway" in html.message
    empty = parse_error(response(503))
    assert empty.code is None and empty.message == "Reason"


def test_412_is_an_etag_conflict():
    exc = classify(response(412, envelope("ODP_PRECONDITION_FAILED", "stale", [
        {"message": "ORA-20114: CustomerOrder.FND_MODIFIED: modified by another user"}])), WHAT)
    assert isinstance(exc, EtagConflict) and isinstance(exc, TransientError)


def test_missing_precondition_is_permanent():
    exc = classify(response(428, envelope("ODP_MISSING_PRECONDITION", "If-Match required")), WHAT)
    assert isinstance(exc, IfsPreconditionRequired) and isinstance(exc, PermanentError)
    assert exc.code == "ODP_MISSING_PRECONDITION" and exc.status == 428
    # keyed on the code whatever the status (§7: the status is unconfirmed)
    assert isinstance(classify(response(400, envelope("ODP_MISSING_PRECONDITION", "x")), WHAT),
                      IfsPreconditionRequired)


def test_429_and_503_with_retry_after_are_rate_limited():
    exc = classify(response(429, envelope("TOO_MANY", "slow down"), {"Retry-After": "7"}), WHAT)
    assert isinstance(exc, RateLimited) and exc.retry_after == 7
    exc = classify(response(503, envelope("UNAVAILABLE", "busy"), {"Retry-After": "2"}), WHAT)
    assert isinstance(exc, RateLimited) and exc.retry_after == 2
    exc = classify(response(503, envelope("UNAVAILABLE", "busy")), WHAT)
    assert isinstance(exc, TransientError) and not isinstance(exc, RateLimited)
    assert exc.retry_after is None


def test_retry_after_as_http_date():
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    seconds = retry_after_seconds(response(429, {}, {"Retry-After": format_datetime(when, usegmt=True)}))
    assert 25 < seconds <= 31
    assert retry_after_seconds(response(429, {}, {"Retry-After": "soon"})) is None
    assert retry_after_seconds(response(429, {})) is None


def test_mi_modified_is_transient():
    exc = classify(response(500, envelope("MI_MODIFIED_ERROR", "metadata changed")), WHAT)
    assert isinstance(exc, IfsMetadataModified) and isinstance(exc, TransientError)


def test_ora_20xxx_is_a_business_error_with_the_code():
    exc = classify(response(500, envelope("DATABASE_ERROR", "The order is blocked", [
        {"code": "DATABASE_ERROR", "message": "ORA-20117: CustomerOrder.STATE: Release is not allowed in state Blocked"},
    ])), WHAT)
    assert isinstance(exc, IfsBusinessError) and isinstance(exc, PermanentError)
    assert exc.ora_code == "ORA-20117"
    assert "Release is not allowed" in str(exc) and "Release is not allowed" in exc.ifs_message
    assert exc.status == 500 and exc.code == "DATABASE_ERROR"
    # an ORA code outside the raise_application_error range is a server fault
    exc = classify(response(500, envelope("DATABASE_ERROR", "x", [{"message": "ORA-00060: deadlock detected"}])), WHAT)
    assert isinstance(exc, IfsServerError) and exc.status == 500


def test_other_5xx_are_transient_but_501_is_not():
    for status in (500, 502, 504):
        exc = classify(response(status, envelope("ODP_INTERNAL_ERROR", "boom")), WHAT)
        assert isinstance(exc, TransientError), status
    assert isinstance(classify(response(501, envelope("ODP_NOT_IMPLEMENTED", "no $expand")), WHAT), IfsRejected)


def test_404_is_not_found():
    exc = classify(response(404, envelope("ODP_RESOURCE_NOTFOUND", "No CustomerOrder with key C9")), WHAT)
    assert isinstance(exc, IfsNotFound) and isinstance(exc, PermanentError)
    assert exc.code == "ODP_RESOURCE_NOTFOUND"


def test_other_4xx_are_permanent_with_code_and_message():
    exc = classify(response(400, envelope("ODP_DESERIALIZATION_ERROR", "Error while de-serializing contents.")), WHAT)
    assert type(exc) is IfsRejected
    assert str(exc) == (f"IFS {WHAT} -> HTTP 400 ODP_DESERIALIZATION_ERROR: "
                        "Error while de-serializing contents.")
    assert exc.body == envelope("ODP_DESERIALIZATION_ERROR", "Error while de-serializing contents.")
    assert isinstance(classify(response(401, envelope("UNAUTHORIZED", "no")), WHAT), IfsAuthError)
    assert isinstance(classify(response(403, envelope("FORBIDDEN", "no grant")), WHAT), IfsAuthError)


def test_messages_are_clipped():
    exc = classify(response(400, envelope("X", "y" * 5000)), WHAT)
    assert len(str(exc)) < 700
