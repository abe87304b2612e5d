"""Standard Webhooks verification, with fixtures signed by the reference
library (standardwebhooks) so both sides provably agree."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest
from standardwebhooks.webhooks import Webhook

from webhooks import signature
from webhooks.signature import NoSecretError, SignatureError, decode_secret, parse_headers, verify

SECRET = "whsec_" + base64.b64encode(b"current-secret-24-bytes!").decode()
PREVIOUS = "whsec_" + base64.b64encode(b"previous-secret-24-byte!").decode()
OTHER = "whsec_" + base64.b64encode(b"somebody-elses-secret-xx").decode()
BODY = b'{"order_id": 100000001, "status": "Completed"}'
MSG_ID = "msg_31eW7bWRi16lL0Ajjik68kfyeUh"


def headers(secret=SECRET, body=BODY, at=None, msg_id=MSG_ID, sig=None):
    at = at or datetime.now(timezone.utc)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": sig or Webhook(secret).sign(msg_id, at, body.decode()),
    }


def check(h, body=BODY, secrets=(SECRET,)):
    verify(body, parse_headers(h), [decode_secret(s) for s in secrets])


def test_valid_signature_passes():
    check(headers())


def test_own_sign_matches_reference_library():
    at = datetime.now(timezone.utc)
    ts = int(at.timestamp())
    ours = signature.sign(decode_secret(SECRET), MSG_ID, ts, BODY)
    assert ours == Webhook(SECRET).sign(MSG_ID, at, BODY.decode())


def test_tampered_body_fails():
    with pytest.raises(SignatureError, match="no matching signature"):
        check(headers(), body=BODY.replace(b"Completed", b"Cancelled"))


def test_other_webhook_id_fails():
    h = headers()
    h["webhook-id"] = "msg_other"
    with pytest.raises(SignatureError):
        check(h)


def test_wrong_secret_fails():
    with pytest.raises(SignatureError):
        check(headers(secret=OTHER))


def test_any_of_several_v1_entries_passes():
    good = Webhook(SECRET).sign(MSG_ID, datetime.now(timezone.utc), BODY.decode())
    bad = Webhook(OTHER).sign(MSG_ID, datetime.now(timezone.utc), BODY.decode())
    check(headers(sig=f"{bad} {good}"))
    check(headers(sig=f"{good} {bad}"))


def test_rotated_secret_accepted_when_listed():
    h = headers(secret=PREVIOUS)
    check(h, secrets=(SECRET, PREVIOUS))
    with pytest.raises(SignatureError):
        check(h, secrets=(SECRET,))


def test_wrong_version_prefix_does_not_match():
    good = Webhook(SECRET).sign(MSG_ID, datetime.now(timezone.utc), BODY.decode())
    digest = good.split(",", 1)[1]
    for sig in (f"v2,{digest}", f"v1a,{digest}", digest, f"V1,{digest}"):
        with pytest.raises(SignatureError):
            check(headers(sig=sig))


def test_bad_base64_entry_is_skipped_not_fatal():
    good = Webhook(SECRET).sign(MSG_ID, datetime.now(timezone.utc), BODY.decode())
    with pytest.raises(SignatureError, match="no matching signature"):
        check(headers(sig="v1,not*base64!"))
    check(headers(sig=f"v1,not*base64! v1, v1 {good}"))


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(timedelta(minutes=-6), "too old"), (timedelta(minutes=6), "future")],
)
def test_timestamp_outside_tolerance_fails(offset, reason):
    at = datetime.now(timezone.utc) + offset
    with pytest.raises(SignatureError, match=reason):
        check(headers(at=at))


def test_timestamp_inside_tolerance_passes_both_ways():
    for offset in (timedelta(minutes=-4, seconds=-50), timedelta(minutes=4, seconds=50)):
        check(headers(at=datetime.now(timezone.utc) + offset))


def test_tolerance_boundary_uses_injected_clock():
    h = headers()
    ts = int(h["webhook-timestamp"])
    parse_headers(h, now=ts + 300)
    parse_headers(h, now=ts - 300)
    with pytest.raises(SignatureError):
        parse_headers(h, now=ts + 301)
    with pytest.raises(SignatureError):
        parse_headers(h, now=ts - 301)


@pytest.mark.parametrize("value", ["", "abc", "1.5e9", "-1", "１７５５８８４８５２"])
def test_malformed_timestamp_fails(value):
    h = headers()
    h["webhook-timestamp"] = value
    with pytest.raises(SignatureError):
        parse_headers(h)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_fails(missing):
    h = headers()
    del h[missing]
    with pytest.raises(SignatureError, match="missing"):
        parse_headers(h)


def test_no_secret_at_all_is_its_own_error():
    with pytest.raises(NoSecretError):
        verify(BODY, parse_headers(headers()), [])


def test_keys_are_read_lazily_and_stop_at_first_match():
    reads = []

    def keys():
        for s in (SECRET, PREVIOUS):
            reads.append(s)
            yield decode_secret(s)

    verify(BODY, parse_headers(headers()), keys())
    assert reads == [SECRET]


def test_raw_bytes_that_are_not_utf8_are_verified_as_bytes():
    body = b"\xff\xfe not text"
    at = datetime.now(timezone.utc)
    h = headers(sig=signature.sign(decode_secret(SECRET), MSG_ID, int(at.timestamp()), body), at=at)
    check(h, body=body)


def test_decode_secret_accepts_prefix_and_rejects_garbage():
    assert decode_secret(SECRET) == b"current-secret-24-bytes!"
    assert decode_secret(SECRET.removeprefix("whsec_")) == b"current-secret-24-bytes!"
    for bad in ("whsec_", "whsec_a", "sandbox-secret"):
        with pytest.raises(ValueError):
            decode_secret(bad)


def test_error_messages_never_carry_the_signature():
    sig = Webhook(OTHER).sign(MSG_ID, datetime.now(timezone.utc), BODY.decode())
    with pytest.raises(SignatureError) as info:
        check(headers(sig=sig))
    assert sig.split(",")[1] not in str(info.value)
