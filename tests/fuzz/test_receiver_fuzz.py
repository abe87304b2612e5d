"""Fuzzing the ShipBob webhook receiver (design invariant 3) through Flask's
test client, against the real PostgreSQL of tests/conftest.py (`clean_db`).

Whatever arrives - arbitrary headers and bodies, forged signatures, a
captured signature replayed with another body, timestamp or id, bodies over
the limit with or without Content-Length, malformed or deeply nested JSON,
bytes that are not UTF-8, unicode header values - the receiver:

- never answers 5xx (503 is reserved for a database that is down; none is here),
- never stores a row nor wakes a worker for anything it could not verify,
- stores every verified, well-formed delivery exactly once however often it
  is retried, and wakes a worker once for a handled topic.

Signatures are made here, by hand and with the `standardwebhooks` reference
library, never with webhooks.signature. Examples do not depend on one
another: the database is emptied once per test function and each example
checks only what changed, tracking which webhook-ids are already stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from connector.db.models import WebhookEvent
from connector.db.session import session_scope
from connector.settings import load_settings
from tests.helpers import Recorder
from webhooks.app import create_app
from webhooks.topics import HANDLED_TOPICS, KNOWN_TOPICS

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"fuzz-receiver-secret-24b").decode()
PREVIOUS = "whsec_" + base64.b64encode(b"fuzz-receiver-previous-k").decode()
KEY = base64.b64decode(SECRET.removeprefix("whsec_"))
PREVIOUS_KEY = base64.b64decode(PREVIOUS.removeprefix("whsec_"))
ATTACKER_KEY = b"an-attacker-guessed-this"
LIMIT = 8192  # small, so bodies over it are cheap to make
TOLERANCE = 300
ID_MAX = WebhookEvent.__table__.c.webhook_id.type.length
TOPIC_MAX = WebhookEvent.__table__.c.topic.type.length
URL = "/webhooks/shipbob"
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])


# ---------------------------------------------------------------- signing


def now() -> int:
    return int(time.time())


def digest(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def sign(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """One "v1,<base64>" entry; cross-checked against the reference library
    whenever it can sign (text bodies, integer timestamps)."""
    entry = "v1," + base64.b64encode(digest(key, msg_id, timestamp, body)).decode()
    if timestamp.isascii() and timestamp.isdigit() and timestamp == str(int(timestamp)) \
            and abs(int(timestamp) - now()) < 10**8:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return entry
        at = datetime.fromtimestamp(int(timestamp), timezone.utc)
        secret = "whsec_" + base64.b64encode(key).decode()
        assert Webhook(secret).sign(msg_id, at, text) == entry
    return entry


def headers_for(msg_id, timestamp, signature, topic="order.shipped") -> dict:
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
               "webhook-signature": signature, "content-type": "application/json"}
    if topic is not None:
        headers["x-webhook-topic"] = topic
    return headers


# --------------------------------------------------------------- harness


class Harness:
    def __init__(self, database_url: str):
        self.database_url = database_url
        self.recorder = Recorder(database_url)
        self.app = create_app(
            load_settings(database_url=database_url, shipbob_webhook_secret=SECRET,
                          shipbob_webhook_secret_previous=PREVIOUS,
                          webhook_body_limit_bytes=LIMIT),
            enqueue=self.recorder, broker_check=lambda: None)
        self.client = self.app.test_client()
        self.stored: dict[str, bytes] = {}  # webhook-id -> body in the inbox, as the test expects

    def post(self, body: bytes, headers: dict, chunked: bool = False, content_length: str | None = None):
        kwargs: dict = {"headers": headers}
        environ: dict = {}
        if chunked:
            # No Content-Length: the server only knows the size by reading.
            kwargs["input_stream"] = io.BytesIO(body)
            kwargs["headers"] = {**headers, "Transfer-Encoding": "chunked"}
            environ["wsgi.input_terminated"] = True
        else:
            kwargs["data"] = body
        if content_length is not None:
            environ["CONTENT_LENGTH"] = content_length
        response = self.client.post(URL, environ_overrides=environ, **kwargs)
        assert response.status_code < 500, (response.status_code, response.get_data()[:300])
        return response

    def count(self) -> int:
        with session_scope(self.database_url) as session:
            return session.execute(select(func.count()).select_from(WebhookEvent)).scalar_one()

    def rows(self, msg_id: str) -> list[WebhookEvent]:
        with session_scope(self.database_url) as session:
            return list(session.scalars(select(WebhookEvent).where(WebhookEvent.webhook_id == msg_id)))

    def nothing_stored(self, send):
        """Run `send()`; assert it stored no row and woke no worker."""
        rows, woken = self.count(), len(self.recorder.ids)
        response = send()
        assert self.count() == rows, f"a row was stored for HTTP {response.status_code}"
        assert len(self.recorder.ids) == woken, "a worker was woken"
        return response


@pytest.fixture
def rx(clean_db):
    return Harness(clean_db)


# ------------------------------------------------------------ strategies

# Characters a header value can carry (WSGI hands over str; CR/LF cannot be sent).
HEADER_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n")
# What an honest sender's webhook-id may look like: any visible character,
# no surrounding blanks (HTTP strips them), ASCII or not.
ID_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"))

honest_ids = st.text(ID_CHARS, min_size=1, max_size=ID_MAX)
any_ids = st.one_of(honest_ids, st.text(HEADER_CHARS, min_size=1, max_size=ID_MAX + 60),
                    st.builds(lambda a, b: a + "\x00" + b, honest_ids, st.text(HEADER_CHARS, max_size=5)))
topics = st.one_of(
    st.sampled_from(sorted(HANDLED_TOPICS)),
    st.sampled_from(sorted(KNOWN_TOPICS - HANDLED_TOPICS)),
    st.none(),
    st.text(HEADER_CHARS, max_size=TOPIC_MAX + 40),
)

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=25,
)
json_bodies = st.builds(lambda v, ascii_only: json.dumps(v, ensure_ascii=ascii_only).encode(),
                        json_values, st.booleans()).filter(lambda b: len(b) <= LIMIT)

NOT_UTF8 = [b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\x80", b"\xf8\x88\x80\x80\x80"]
not_utf8_bodies = st.builds(lambda head, bad, tail: head + bad + tail,
                            json_bodies.map(lambda b: b[:50]), st.sampled_from(NOT_UTF8), st.binary(max_size=20))


@st.composite
def nested(draw) -> bytes:
    depth = draw(st.integers(1, LIMIT // 4))
    kind = draw(st.sampled_from(["list", "dict", "open", "mixed"]))
    if kind == "list":
        return b"[" * depth + b"]" * depth
    if kind == "dict":
        return b'{"a":' * depth + b"1" + b"}" * depth
    if kind == "open":
        return b"[" * depth
    return b'[{"k":' * depth + b"0" + b"}]" * depth


malformed_json = st.one_of(
    st.sampled_from([b"", b"{", b"}", b"{not json", b"[1,]", b"{'a': 1}", b'{"a":1}garbage',
                     b"\x00", b'{"a":"\x00"}', b"nul", b"1" * 5000, b'"\\ud800"', b"NaN",
                     b'{"a":1,"a":2}', b"\xef\xbb\xbf{}", b"  {}  \n"]),
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    nested(),
)


@st.composite
def forged_signature(draw, msg_id: str, timestamp: str, body: bytes) -> str:
    """A webhook-signature header that must NOT verify for (id, timestamp, body)."""
    right = digest(KEY, msg_id, timestamp, body)
    kind = draw(st.sampled_from(["text", "random", "wrong_key", "other_content", "wrong_version",
                                 "hex", "truncated", "urlsafe", "many", "empty_entries"]))
    if kind == "text":
        return draw(st.text(HEADER_CHARS, min_size=1, max_size=200))
    if kind == "random":
        return "v1," + base64.b64encode(draw(st.binary(min_size=1, max_size=64))).decode()
    if kind == "wrong_key":
        return sign(ATTACKER_KEY, msg_id, timestamp, body)
    if kind == "other_content":
        other_id = draw(st.text(ID_CHARS, min_size=1, max_size=20))
        other_body = draw(st.binary(max_size=50))
        assume((other_id, other_body) != (msg_id, body))
        return sign(KEY, other_id, timestamp, other_body)
    if kind == "wrong_version":  # the right digest under a scheme we must not accept
        scheme = draw(st.sampled_from(["v1a", "v2", "V1", "v0", "", "v1 ", "sha256"]))
        return f"{scheme},{base64.b64encode(right).decode()}"
    if kind == "hex":
        return "v1," + right.hex()
    if kind == "truncated":
        cut = draw(st.integers(0, len(right) - 1))
        return "v1," + base64.b64encode(right[:cut]).decode()
    if kind == "urlsafe":
        encoded = base64.urlsafe_b64encode(right).decode()
        assume(encoded != base64.b64encode(right).decode())
        return "v1," + encoded
    if kind == "many":
        junk = draw(st.lists(st.sampled_from(["v1,", "v1,AAAA", "v1,====", "v1a,xyz", ",", "v1,%%%"]),
                             min_size=1, max_size=50))
        return " ".join(junk)
    return " " * draw(st.integers(1, 5))


# ---------------------------------------------------------------- helpers


def expect_stored_once(rx: Harness, msg_id: str, topic: str | None, body: bytes, first) -> None:
    """Check the answer to a verified, well-formed delivery and its one row.

    An id stored by an earlier example is a duplicate: the first body stays.
    """
    topic_text = topic or ""
    handled = topic_text in HANDLED_TOPICS
    duplicate = msg_id in rx.stored
    if duplicate:
        assert first.get_json() == {"status": "duplicate"}
    else:
        assert first.get_json() == {"status": "accepted" if handled else "ignored"}
        rx.stored[msg_id] = body
    [row] = rx.rows(msg_id)
    assert row.body == rx.stored[msg_id].decode("utf-8")
    if not duplicate:
        assert row.topic == topic_text[:TOPIC_MAX]
        assert rx.recorder.ids.count(row.id) == (1 if handled else 0)
        if handled:
            assert row.processed_at is None and row.outcome is None
        else:
            assert row.processed_at is not None and row.outcome == "ignored"


def storable(msg_id: str, topic: str | None) -> bool:
    """Whether a verified delivery with these headers can be kept: the id
    fits the inbox column, and neither header holds NUL, which a PostgreSQL
    text column cannot hold (the receiver must say 400, not crash)."""
    return len(msg_id) <= ID_MAX and "\x00" not in msg_id and "\x00" not in (topic or "")


# ------------------------------------------------------------------ tests


OTHER_ENTRIES = st.lists(st.sampled_from(["v1,AAAA", "v1a,Zm9v", "garbage", "v1,", "attacker"]), max_size=3)


@FUZZ
@given(msg_id=any_ids, topic=topics, body=json_bodies, deliveries=st.integers(1, 3),
       secret_key=st.sampled_from([KEY, PREVIOUS_KEY]), others=OTHER_ENTRIES,
       position=st.integers(0, 3), chunked=st.booleans(),
       skew=st.integers(-(TOLERANCE - 30), TOLERANCE - 30))
@example(msg_id="msg_nul\x00id", topic="order.shipped", body=b"{}", deliveries=1, secret_key=KEY,
         others=[], position=0, chunked=False, skew=0)
@example(msg_id="msg_nul_topic", topic="order.\x00shipped", body=b"{}", deliveries=1, secret_key=KEY,
         others=[], position=0, chunked=False, skew=0)
def test_signed_deliveries_are_stored_exactly_once(rx, msg_id, topic, body, deliveries, secret_key,
                                                   others, position, chunked, skew):
    timestamp = str(now() + skew)
    # Other entries beside the good one (as during a secret rotation), in any order.
    entries = [sign(ATTACKER_KEY, msg_id, timestamp, body) if e == "attacker" else e for e in others]
    entries.insert(min(position, len(entries)), sign(secret_key, msg_id, timestamp, body))
    headers = headers_for(msg_id, timestamp, " ".join(entries), topic)

    if not storable(msg_id, topic):
        for _ in range(deliveries):
            response = rx.nothing_stored(lambda: rx.post(body, headers, chunked=chunked))
            assert response.status_code == 400
        return

    woken_before = len(rx.recorder.ids)
    responses = [rx.post(body, headers, chunked=chunked) for _ in range(deliveries)]
    assert [r.status_code for r in responses] == [200] * deliveries
    expect_stored_once(rx, msg_id, topic, body, responses[0])
    assert all(r.get_json() == {"status": "duplicate"} for r in responses[1:])
    assert len(rx.recorder.ids) - woken_before <= 1


HEADER_NAMES = st.one_of(
    st.sampled_from([*SIGNATURE_HEADERS, "x-webhook-topic", "content-type", "Webhook-Id",
                     "WEBHOOK-SIGNATURE", "svix-id", "svix-signature", "x-forwarded-for", "host"]),
    # No "_": WSGI maps it to "-" as well, so it would be a second spelling of a name.
    st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-"), min_size=1, max_size=30),
)


@settings(FUZZ, max_examples=500)
@given(data=st.data(), extra_headers=st.dictionaries(HEADER_NAMES, st.text(HEADER_CHARS, max_size=80), max_size=8),
       body=st.one_of(json_bodies, st.binary(max_size=LIMIT + 100), malformed_json),
       msg_id=st.one_of(any_ids, st.none()), timestamp=st.one_of(
           st.integers(-10**6, 10**6).map(lambda d: str(now() + d)),
           st.text(HEADER_CHARS, max_size=20), st.none(),
           st.sampled_from(["0", "-1", "1e9", "１２３", str(10**15), str(10**16), "0x10"])),
       topic=topics)
def test_unverified_requests_are_never_5xx_and_never_stored(rx, data, extra_headers, body, msg_id,
                                                            timestamp, topic):
    # One value per name, as a server sees it (names differing in case are one header).
    headers: dict[str, str] = {}
    for name, value in extra_headers.items():
        if name.lower() not in {h.lower() for h in headers} | {"host", "content-length", "transfer-encoding"}:
            headers[name] = value
    headers = {k.lower(): v for k, v in headers.items()}
    if msg_id is not None:
        headers["webhook-id"] = msg_id
    if timestamp is not None:
        headers["webhook-timestamp"] = timestamp
    if topic is not None:
        headers["x-webhook-topic"] = topic
    # Whatever the random headers held, the signature is forged for what is sent.
    headers = {k: v for k, v in headers.items() if k.lower() != "webhook-signature"}
    if data.draw(st.booleans(), label="signature header present"):
        sent_id, sent_ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
        headers["webhook-signature"] = data.draw(forged_signature(sent_id, sent_ts, body))

    response = rx.nothing_stored(lambda: rx.post(body, headers))
    if len(body) > LIMIT:
        assert response.status_code == 413
    else:
        assert response.status_code == 401
        assert response.get_json() == {"error": "invalid signature"}


@FUZZ
@given(body=json_bodies, other_body=json_bodies, msg_id=honest_ids, other_id=honest_ids,
       topic=topics, other_topic=topics,
       change=st.sampled_from(["body", "timestamp", "timestamp_text", "id", "id_and_body",
                               "stale", "future", "exact", "topic_only"]),
       shift=st.integers(1, TOLERANCE - 30), sign_=st.sampled_from([-1, 1]),
       stale_by=st.integers(TOLERANCE + 30, 10**8))
def test_a_captured_signature_replayed_with_changes_is_rejected(rx, body, other_body, msg_id, other_id,
                                                                topic, other_topic, change, shift,
                                                                sign_, stale_by):
    assume("\x00" not in (topic or "") + (other_topic or ""))
    timestamp = str(now())
    captured = sign(KEY, msg_id, timestamp, body)
    original = headers_for(msg_id, timestamp, captured, topic)
    first = rx.post(body, original)
    assert first.status_code == 200
    expect_stored_once(rx, msg_id, topic, body, first)

    if change in ("stale", "future"):  # a correctly signed delivery outside the tolerance
        at = str(now() - stale_by if change == "stale" else now() + stale_by)
        fresh_id = f"{msg_id[:ID_MAX - 8]}-replay"
        assume(fresh_id not in rx.stored)
        replay = (other_body, headers_for(fresh_id, at, sign(KEY, fresh_id, at, other_body), topic))
        response = rx.nothing_stored(lambda: rx.post(*replay))
        assert response.status_code == 401
        return
    new_body, new_headers = body, dict(original)
    if change in ("body", "id_and_body"):
        assume(other_body != body)
        new_body = other_body
    if change in ("id", "id_and_body"):
        assume(other_id != msg_id and other_id not in rx.stored)
        new_headers["webhook-id"] = other_id
    if change == "timestamp":
        new_headers["webhook-timestamp"] = str(int(timestamp) + sign_ * shift)
    if change == "timestamp_text":  # same instant, other spelling: still not what was signed
        new_headers["webhook-timestamp"] = "0" + timestamp
    if change == "topic_only":  # the topic is not signed; the id makes it a duplicate
        if other_topic is None:
            new_headers.pop("x-webhook-topic", None)
        else:
            new_headers["x-webhook-topic"] = other_topic

    response = rx.nothing_stored(lambda: rx.post(new_body, new_headers))
    if change in ("exact", "topic_only"):
        assert (response.status_code, response.get_json()) == (200, {"status": "duplicate"})
    else:
        assert response.status_code == 401
    [row] = rx.rows(msg_id)
    assert row.body == rx.stored[msg_id].decode()  # the stored original is untouched


@settings(FUZZ, max_examples=100)
@given(over_by=st.integers(1, 3 * LIMIT), signed=st.booleans(), msg_id=honest_ids,
       mode=st.sampled_from(["content_length", "chunked", "claims_huge", "claims_small"]))
@example(over_by=1, signed=True, msg_id="msg_boundary", mode="chunked")
@example(over_by=1, signed=True, msg_id="msg_boundary", mode="content_length")
def test_bodies_over_the_limit_are_413_and_never_stored(rx, over_by, signed, msg_id, mode):
    size = LIMIT + over_by
    body = b'{"pad":"' + b"x" * (size - 10) + b'"}'
    assert len(body) == size
    timestamp = str(now())
    signature = sign(KEY, msg_id, timestamp, body) if signed else "v1,AAAA"
    headers = headers_for(msg_id, timestamp, signature)
    if mode == "content_length":
        send = lambda: rx.post(body, headers)  # noqa: E731
    elif mode == "chunked":
        send = lambda: rx.post(body, headers, chunked=True)  # noqa: E731
    elif mode == "claims_huge":  # a small body announced as huge: refused before reading
        body = b"{}"
        headers = headers_for(msg_id, timestamp, sign(KEY, msg_id, timestamp, body) if signed else "v1,AAAA")
        send = lambda: rx.post(body, headers, content_length=str(size))  # noqa: E731
    else:  # announced within the limit, more sent: the signed whole is not what is read
        send = lambda: rx.post(body, headers, content_length=str(LIMIT))  # noqa: E731
    response = rx.nothing_stored(send)
    assert response.status_code == (401 if mode == "claims_small" else 413)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_exactly_at_the_limit_is_accepted(rx, chunked):
    body = b'{"pad":"' + b"x" * (LIMIT - 10) + b'"}'
    assert len(body) == LIMIT
    timestamp = str(now())
    response = rx.post(body, headers_for("msg_at_limit", timestamp, sign(KEY, "msg_at_limit", timestamp, body)),
                       chunked=chunked)
    assert response.status_code == 200
    expect_stored_once(rx, "msg_at_limit", "order.shipped", body, response)


@FUZZ
@given(body=st.one_of(malformed_json, not_utf8_bodies), msg_id=honest_ids, topic=topics,
       content_length=st.one_of(st.none(), st.sampled_from(["abc", "-1", "", " 1", "0"])))
@example(body=b"[" * 4000, msg_id="msg_deep", topic="order.shipped", content_length=None)
@example(body=b"[" * 2000 + b"]" * 2000, msg_id="msg_deep2", topic="order.shipped", content_length=None)
@example(body=b"\xff\xfe{}", msg_id="msg_bom16", topic="order.shipped", content_length=None)
def test_signed_malformed_bodies_are_400_or_stored_as_sent(rx, body, msg_id, topic, content_length):
    assume(len(body) <= LIMIT and storable(msg_id, topic))
    timestamp = str(now())
    headers = headers_for(msg_id, timestamp, sign(KEY, msg_id, timestamp, body), topic)
    rows, woken = rx.count(), len(rx.recorder.ids)
    response = rx.post(body, headers, content_length=content_length)

    if content_length is not None:
        # A Content-Length the server cannot use: it reads at most what it
        # claims, so the signed body is not what arrives - unless it matches.
        assert response.status_code in (200, 400, 401)
    try:
        json.loads(body.decode("utf-8"))
        well_formed = True
    except (UnicodeDecodeError, ValueError, RecursionError):
        well_formed = False
    if response.status_code == 200:
        assert well_formed
        expect_stored_once(rx, msg_id, topic, body, response)
        return
    assert rx.count() == rows and len(rx.recorder.ids) == woken
    if content_length is None:
        assert response.status_code == 400
        # Too deep for the parser is refused rather than crashing; anything
        # else well-formed must have been accepted.
        assert not well_formed or body.count(b"[") + body.count(b"{") > 500
        assert response.get_json() == {"error": "body is not JSON"}
