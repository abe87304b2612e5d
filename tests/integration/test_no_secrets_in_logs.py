"""Nothing secret is logged (design invariant 8): real flows run with
distinctive secrets at DEBUG level, and no log line, JSON field, job error
or attempt detail holds any of them.

Our own sandbox instances are configured with those secrets, so every
credential is really used: the IFS client secret (client credentials), the
ShipBob PAT, the ShipBob OAuth client secret and refresh token (with
two-second access tokens, so refreshes happen mid-flow), and the webhook
secret (a subscription made through the client; signed deliveries from the
ShipBob sandbox and forged ones sent by hand to the receiver over HTTP).
Wrong secrets used by the failing-auth cases count as secrets too, as does
every token the sandboxes issue (caught at their token endpoints).

Two captures: what `connector.logs.configure` writes (JSON lines through the
SecretFilter) and a raw handler placed before it that sees records before
the filter masks them, so the test shows the code does not rely on the
filter alone. A canary test proves the raw capture would see a leak.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import time
import uuid

import pytest
import requests
from sqlalchemy import select

from connector import jobs, logs
from connector.context import Context
from connector.db.models import Job, JobAttempt, KeyValue
from connector.db.session import session_scope
from connector.flows.order_poll import poll_orders
from connector.flows.webhook_router import route_event
from connector.runner import run_job
from connector.settings import load_settings
from sandbox.ifs.app import create_app as ifs_app
from sandbox.ifs.config import IfsSandboxConfig
from sandbox.server import BackgroundServer
from sandbox.shipbob import ShipBobSandboxConfig
from sandbox.shipbob import create_app as shipbob_app
from tests.conftest import FAST_RATE_LIMIT, REDIS_URL
from tests.helpers import hook, ifs_rows, seed_world
from webhooks.app import create_app as receiver_app

pytestmark = pytest.mark.integration

_RUN = uuid.uuid4().hex[:12]
IFS_SECRET = f"ifsSECRET{_RUN}client"
PAT = f"sbPATSECRET{_RUN}"
OAUTH_CLIENT_ID = "sb-client"
OAUTH_SECRET = f"sbOAUTHSECRET{_RUN}"
REFRESH_TOKEN = f"sbREFRESHSECRET{_RUN}"
WEBHOOK_KEY = f"whk{_RUN}SECRET!!!".encode()  # 24 bytes: whsec_ + 32 base64 chars
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()
PREVIOUS_KEY = f"prv{_RUN}SECRET!!!".encode()
PREVIOUS_WEBHOOK_SECRET = "whsec_" + base64.b64encode(PREVIOUS_KEY).decode()
# Wrong credentials are someone's real ones too (a typo, another tenant's).
WRONG_IFS_SECRET = f"ifsWRONGSECRET{_RUN}"
WRONG_PAT = f"sbWRONGPAT{_RUN}"
WRONG_OAUTH_SECRET = f"sbWRONGOAUTH{_RUN}"
WRONG_REFRESH_TOKEN = f"sbWRONGREFRESH{_RUN}"
ATTACKER_KEY = f"atk{_RUN}SECRET!!!".encode()
ATTACKER_SECRET = "whsec_" + base64.b64encode(ATTACKER_KEY).decode()


def _forms(secret: str) -> list[str]:
    """A webhook secret, its base64 part, and its key as base64 and as text."""
    b64 = secret.removeprefix("whsec_")
    key = base64.b64decode(b64)
    return [secret, b64, b64.rstrip("="), base64.b64encode(key).decode(),
            base64.urlsafe_b64encode(key).decode(), key.decode("latin-1")]


CONFIGURED_SECRETS = [IFS_SECRET, PAT, OAUTH_SECRET, REFRESH_TOKEN,
                      *_forms(WEBHOOK_SECRET), *_forms(PREVIOUS_WEBHOOK_SECRET)]
OTHER_SECRETS = [WRONG_IFS_SECRET, WRONG_PAT, WRONG_OAUTH_SECRET, WRONG_REFRESH_TOKEN,
                 *_forms(ATTACKER_SECRET)]
# Every ShipBob sandbox access and refresh token starts with these.
TOKEN_PREFIXES = ["sbx_at_", "sbx_rt_"]

assert len(WEBHOOK_KEY) == len(PREVIOUS_KEY) == 24 and "=" not in WEBHOOK_SECRET
assert "SECRET" in base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_")).decode()


# ----------------------------------------------------------------- sandboxes


class TokenTap:
    """WSGI middleware: remembers every token a sandbox's token endpoint issues."""

    def __init__(self, app):
        self.app = app
        self.issued: set[str] = set()

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").endswith("/token"):
            return self.app(environ, start_response)
        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        try:
            grant = json.loads(body)
        except ValueError:
            grant = {}
        if isinstance(grant, dict):
            self.issued.update(v for k, v in grant.items()
                               if k in ("access_token", "refresh_token", "id_token") and isinstance(v, str))
        return [body]


@pytest.fixture(scope="module")
def own_sandboxes():
    """IFS and ShipBob stand-ins that accept only our distinctive credentials."""
    ifs_tap = TokenTap(ifs_app(IfsSandboxConfig(client_secret=IFS_SECRET, token_ttl_seconds=3)))
    shipbob_tap = TokenTap(shipbob_app(ShipBobSandboxConfig(
        pat=PAT, oauth_client_id=OAUTH_CLIENT_ID, oauth_client_secret=OAUTH_SECRET,
        initial_refresh_token=REFRESH_TOKEN, access_token_ttl_seconds=2,
        rate_limit_per_minute=FAST_RATE_LIMIT, webhook_retry_time_scale=0.001)))
    ifs, shipbob = BackgroundServer(ifs_tap).start(), BackgroundServer(shipbob_tap).start()
    ifs.tap, shipbob.tap = ifs_tap, shipbob_tap
    yield ifs, shipbob
    ifs.stop()
    shipbob.stop()


@pytest.fixture
def sandboxes(own_sandboxes):
    for server in own_sandboxes:
        hook(server, "reset")  # ShipBob's reset also makes REFRESH_TOKEN valid again
    return own_sandboxes


def make_settings(db_url, redis_prefix, sandboxes, tmp_path, oauth: bool, **overrides):
    ifs, shipbob = sandboxes
    values = dict(
        database_url=db_url, redis_url=REDIS_URL, redis_prefix=redis_prefix,
        ifs_base_url=ifs.url, ifs_client_secret=IFS_SECRET,
        shipbob_base_url=shipbob.url, shipbob_token=PAT,
        shipbob_webhook_secret=WEBHOOK_SECRET, shipbob_webhook_secret_previous=PREVIOUS_WEBHOOK_SECRET,
        shipbob_rate_limit_per_minute=FAST_RATE_LIMIT, reports_dir=tmp_path / "reports",
    )
    if oauth:  # with a refresh token configured the client uses OAuth, not the PAT
        values.update(shipbob_client_id=OAUTH_CLIENT_ID, shipbob_client_secret=OAUTH_SECRET,
                      shipbob_refresh_token=REFRESH_TOKEN)
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def all_secrets_settings(clean_db, clean_redis, sandboxes, tmp_path):
    """Settings holding every configured secret: what logging is configured with."""
    return make_settings(clean_db, clean_redis, sandboxes, tmp_path, oauth=True)


# ------------------------------------------------------------------- capture


class Capture:
    def __init__(self, sandboxes):
        self.stream = io.StringIO()   # connector.logs.configure's JSON output
        self.raw: list[str] = []      # the same records before the SecretFilter
        self.sandboxes = sandboxes

    def lines(self) -> list[str]:
        return [line for line in self.stream.getvalue().splitlines() if line.strip()]

    def entries(self) -> list[dict]:
        return [json.loads(line) for line in self.lines()]

    def forbidden(self) -> list[str]:
        issued = set().union(*(s.tap.issued for s in self.sandboxes))
        return [*CONFIGURED_SECRETS, *OTHER_SECRETS, *TOKEN_PREFIXES, *sorted(issued)]

    def has(self, level: str, text: str) -> bool:
        return any(e["level"] == level and text in json.dumps(e) for e in self.entries())


class RawHandler(logging.Handler):
    """Renders each record completely (message, extras, traceback) before any filter."""

    def __init__(self, sink: list[str]):
        super().__init__(logging.DEBUG)
        self.sink = sink
        self.setFormatter(logs.JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        rendered = self.format(record)
        extras = " ".join(f"{k}={v!r}" for k, v in vars(record).items())
        self.sink.append(rendered + " " + extras)


@pytest.fixture
def capture(all_secrets_settings, sandboxes):
    root = logging.getLogger()
    saved = (root.handlers[:], root.level,
             {n: logging.getLogger(n).level for n in ("urllib3", "werkzeug", "alembic")})
    captured = Capture(sandboxes)
    logs.configure(all_secrets_settings, level=logging.DEBUG, stream=captured.stream)
    root.handlers.insert(0, RawHandler(captured.raw))  # before the filter rewrites records
    try:
        yield captured
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


def job_texts(db_url) -> list[str]:
    """Every error text recorded on jobs and their attempts."""
    with session_scope(db_url) as session:
        texts = [t for row in session.execute(select(Job.last_error, Job.reason)) for t in row if t]
        texts += [t for t in session.scalars(select(JobAttempt.detail)) if t]
    return texts


def assert_no_secrets(captured: Capture, db_url: str, extra_texts=()) -> None:
    lines = captured.lines()
    assert lines, "nothing was logged"
    entries = captured.entries()  # every line is one JSON object
    assert any(e["level"] == "debug" for e in entries), "DEBUG records were not captured"
    decoded = [" ".join(str(v) for v in e.values()) for e in entries]
    texts = {"log line": lines, "decoded JSON field": decoded, "unfiltered record": captured.raw,
             "job error": job_texts(db_url), "result detail": [t for t in extra_texts if t]}
    for needle in captured.forbidden():
        for where, items in texts.items():
            for text in items:
                assert needle not in text, f"a secret ({needle[:6]}...) in a {where}: {text[:500]}"


def run_all(ctx, job_ids) -> list:
    return [run_job(ctx, job_id) for job_id in job_ids]


# --------------------------------------------------------------------- tests


def test_the_raw_capture_sees_a_leak_and_the_filter_masks_it(capture, clean_db):
    """The harness itself: a secret logged on purpose reaches the raw capture
    unmasked, and the configured output masked."""
    logging.getLogger("tests.canary").warning("canary %s", IFS_SECRET, extra={"token": REFRESH_TOKEN})
    assert any(IFS_SECRET in r and REFRESH_TOKEN in r for r in capture.raw)
    [line] = [line for line in capture.lines() if "canary" in line]
    assert IFS_SECRET not in line and REFRESH_TOKEN not in line and logs.MASK in line


def test_order_push_with_a_pat(capture, all_secrets_settings, sandboxes, clean_db, clean_redis, tmp_path):
    ctx = Context(make_settings(clean_db, clean_redis, sandboxes, tmp_path, oauth=False))
    seed_world(sandboxes, orders=6, parts=12)
    job_ids = poll_orders(ctx)
    results = run_all(ctx, job_ids[:3])
    hook(sandboxes[0], "expire_tokens")  # IFS answers 401: a re-auth mid-flow
    results += run_all(ctx, job_ids[3:])

    assert results and {r.status for r in results} == {"done"}, results
    assert hook(sandboxes[1], "dump/orders", method="GET")
    assert sandboxes[0].tap.issued, "IFS issued no token"
    assert_no_secrets(capture, clean_db, [r.detail for r in results])


def test_order_push_with_oauth_refreshing_short_lived_tokens(capture, sandboxes, clean_db, clean_redis, tmp_path):
    ctx = Context(make_settings(clean_db, clean_redis, sandboxes, tmp_path, oauth=True))
    seed_world(sandboxes, orders=8, parts=12)
    job_ids = poll_orders(ctx)
    results = run_all(ctx, job_ids[:3])
    time.sleep(2.5)  # every access token issued so far has expired
    results += run_all(ctx, job_ids[3:5])
    hook(sandboxes[1], "faults", {"expire_tokens": True})  # 401 -> refresh -> retry
    results += run_all(ctx, job_ids[5:])

    assert {r.status for r in results} == {"done"}, results
    refreshes = [e for e in capture.entries() if "access token refreshed" in e["msg"]]
    assert len(refreshes) >= 3, [e["msg"] for e in capture.entries()]
    rotated = {t for t in sandboxes[1].tap.issued if t.startswith("sbx_rt_")}
    assert len(rotated) >= 3
    with session_scope(clean_db) as session:
        assert session.get(KeyValue, "shipbob.refresh_token").value in rotated
    assert_no_secrets(capture, clean_db, [r.detail for r in results])


def test_failing_auth_is_logged_and_recorded_without_the_secrets(capture, sandboxes, clean_db, clean_redis,
                                                                 tmp_path):
    good = Context(make_settings(clean_db, clean_redis, sandboxes, tmp_path, oauth=False))
    seed_world(sandboxes, orders=6, parts=12, split_ratio=0)
    job_ids = poll_orders(good)
    assert len(job_ids) >= 4

    def bad(name, **overrides):
        # Its own Redis prefix: no token cached by the good context to fall back on.
        return Context(make_settings(clean_db, f"{clean_redis}{name}:", sandboxes, tmp_path, **overrides))

    cases = [
        ("wrong IFS client secret", bad("ifs", oauth=False, ifs_client_secret=WRONG_IFS_SECRET)),
        ("wrong ShipBob PAT", bad("pat", oauth=False, shipbob_token=WRONG_PAT)),
        ("wrong ShipBob OAuth client secret", bad("oauth", oauth=True, shipbob_client_secret=WRONG_OAUTH_SECRET)),
        ("unknown ShipBob refresh token", bad("grant", oauth=True, shipbob_refresh_token=WRONG_REFRESH_TOKEN)),
    ]
    results = []
    for (label, ctx), job_id in zip(cases, job_ids):
        result = run_job(ctx, job_id)
        results.append(result)
        # A refused refresh token is not the item's fault: it waits for a new one.
        expected = "retry" if label == "unknown ShipBob refresh token" else "failed"
        assert result.status == expected, (label, result)

    with session_scope(clean_db) as session:
        errors = {job_id: session.get(Job, job_id).last_error for job_id in job_ids[:4]}
    assert "refused client" in errors[job_ids[0]] and "401" in errors[job_ids[0]], errors
    assert "personal access token" in errors[job_ids[1]], errors
    assert "invalid_client" in errors[job_ids[2]], errors
    assert "re-authorisation needed" in errors[job_ids[3]], errors
    failed = [e for e in capture.entries() if e["level"] == "error" and e["msg"].startswith("failed:")]
    assert len(failed) == 3, [e["msg"] for e in failed]
    # The same jobs then succeed with the right credentials.
    with session_scope(clean_db) as session:
        for job_id in job_ids[:4]:
            jobs.replay(session, job_id)
    results += run_all(good, job_ids)
    assert {r.status for r in results[4:]} == {"done"}, results[4:]
    assert_no_secrets(capture, clean_db, [r.detail for r in results])


def _signed(key: bytes, msg_id: str, body: bytes, at: int | None = None) -> dict:
    at = at or int(time.time())
    digest = hmac.new(key, f"{msg_id}.{at}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": str(at), "x-webhook-topic": "order.shipped",
            "webhook-signature": "v1," + base64.b64encode(digest).decode(), "content-type": "application/json"}


def test_webhooks_with_good_and_bad_signatures(capture, all_secrets_settings, sandboxes, clean_db, clean_redis,
                                               tmp_path):
    ifs, shipbob = sandboxes
    ctx = Context(make_settings(clean_db, clean_redis, sandboxes, tmp_path, oauth=True))
    enqueued: list[int] = []
    app = receiver_app(all_secrets_settings, enqueue=enqueued.append, broker_check=lambda: None)
    with BackgroundServer(app) as receiver:
        url = f"{receiver.url}/webhooks/shipbob"
        # A subscription through the client: the secret travels in a request body.
        ctx.shipbob.create_webhook(["order.shipped"], url, secret=WEBHOOK_SECRET)
        seed_world(sandboxes, orders=3, parts=8, split_ratio=0)
        results = run_all(ctx, poll_orders(ctx))
        for order in hook(shipbob, "dump/orders", method="GET"):
            hook(shipbob, f"orders/{order['id']}/ship", {"with_tracking": True})
        summary = hook(shipbob, "webhooks/flush", {"fast_forward": True})
        assert summary["delivered"] >= 3, summary

        body = json.dumps({"order_id": 1, "status": "Completed"}).encode()
        forged = [
            _signed(ATTACKER_KEY, "msg_forged_1", body),                      # wrong secret
            {**_signed(WEBHOOK_KEY, "msg_forged_2", body), "webhook-id": "msg_forged_3"},  # replayed, other id
            _signed(WEBHOOK_KEY, "msg_stale", body, at=int(time.time()) - 3600),
            {"webhook-id": "msg_forged_4", "webhook-timestamp": str(int(time.time())),
             "webhook-signature": f"v1,{WEBHOOK_SECRET} v1,{base64.b64encode(WEBHOOK_KEY).decode()}"},
        ]
        answers = [requests.post(url, data=body, headers=h, timeout=10).status_code for h in forged]
        hint = b'{"status": "Completed"}'  # no order id: stored, then routed to nothing
        previous = requests.post(url, data=hint, headers=_signed(PREVIOUS_KEY, "msg_previous", hint), timeout=10)
    assert answers == [401] * len(forged)
    assert previous.status_code == 200

    for event_id in enqueued:
        routed = route_event(ctx, event_id)
        if routed:
            results.append(run_job(ctx, routed[0]))
    assert {r.status for r in results} == {"done"}, results
    assert ifs_rows(ifs, "FulfillmentVoucherSet"), "no voucher: the webhooks did not get through"
    outcomes = [e.get("outcome") for e in capture.entries() if e["logger"] == "webhooks.receiver"]
    assert outcomes.count("rejected_signature") == len(forged) and "accepted" in outcomes, outcomes
    assert_no_secrets(capture, clean_db, [r.detail for r in results])
