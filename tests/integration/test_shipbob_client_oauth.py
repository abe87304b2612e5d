"""OAuth against the ShipBob sandbox (shipbob.md §2, design invariant 6):
refresh once on 401, the rotated refresh token saved in the DB, the old one
refused, and one refresh for a whole pool of concurrent callers."""

from __future__ import annotations

import logging
import threading

import pytest
import requests

from connector.db.models import KeyValue
from connector.db.session import engine_for, migrate, session_scope
from connector.errors import PermanentError, ReauthorisationNeeded
from connector.shipbob import DbTokenStore
from connector.shipbob.auth import REFRESH_TOKEN_KEY, refusal_state

from .test_shipbob_client_support import REDIS_URL, make_client, prefix, sandbox  # noqa: F401

pytestmark = pytest.mark.integration

CLIENT_ID, CLIENT_SECRET, INITIAL = "sb-client", "sb-secret", "sandbox-refresh-0"


@pytest.fixture(scope="module")
def sb():
    handle = sandbox()
    yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def fresh(sb):
    sb.hook("POST", "/reset").raise_for_status()  # also resets refresh tokens to INITIAL


@pytest.fixture
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path}/state.db"
    migrate(url)
    yield url
    engine_for(url).dispose()


class Counter:
    def __init__(self):
        self.value = 0
        self._lock = threading.Lock()

    def add(self):
        with self._lock:
            self.value += 1


class CountingSession(requests.Session):
    """Counts POSTs to the token endpoint (one Counter shared by clients)."""

    def __init__(self, counter: Counter):
        super().__init__()
        self.counter = counter

    def post(self, url, *args, **kwargs):
        if url.endswith("/connect/token"):
            self.counter.add()
        return super().post(url, *args, **kwargs)


def oauth_client(sb, prefix, db_url, refresh_token=INITIAL, session=None):
    return make_client(sb, prefix, shipbob_token=None, shipbob_client_id=CLIENT_ID,
                       shipbob_client_secret=CLIENT_SECRET, shipbob_refresh_token=refresh_token,
                       database_url=db_url, token_store=DbTokenStore(db_url), session=session)


def stored(db_url) -> str | None:
    with session_scope(db_url) as s:
        row = s.get(KeyValue, REFRESH_TOKEN_KEY)
        return row.value if row else None


def token_post(sb, refresh_token) -> requests.Response:
    return requests.post(f"{sb.url}/connect/token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})


def test_refresh_on_401_rotates_and_stores_the_refresh_token(sb, prefix, db_url, caplog):
    caplog.set_level(logging.DEBUG)
    counter = Counter()
    client = oauth_client(sb, prefix, db_url, session=CountingSession(counter))
    assert client.channels()
    first = stored(db_url)
    assert first and first != INITIAL and counter.value == 1
    assert token_post(sb, INITIAL).json() == {"error": "invalid_grant"}

    sb.hook("POST", "/faults", json={"expire_tokens": True}).raise_for_status()
    assert client.fulfillment_centers()  # 401 -> one refresh -> one retry
    second = stored(db_url)
    assert second not in (first, INITIAL) and counter.value == 2
    statuses = sb.hook("GET", "/stats").json()["statuses"]
    assert statuses.get("401") == 1
    old = token_post(sb, first)
    assert old.status_code == 400 and old.json() == {"error": "invalid_grant"}

    # A worker starting cold (empty cache) takes the rotated token from the DB,
    # although its settings still hold the spent initial one.
    cold = oauth_client(sb, prefix + "cold:", db_url)
    assert cold.fulfillment_centers()
    assert stored(db_url) not in (first, second)

    # Nothing secret in any log line (invariant 8).
    assert "shipbob GET /fulfillment-center -> 401" in caplog.text
    for secret in (CLIENT_SECRET, INITIAL, first, second, stored(db_url), "sbx_at_"):
        assert secret not in caplog.text


def test_concurrent_callers_refresh_exactly_once(sb, prefix, db_url):
    counter = Counter()
    clients = [oauth_client(sb, prefix, db_url, session=CountingSession(counter)) for _ in range(8)]
    errors = []

    def wave():
        barrier = threading.Barrier(len(clients))

        def call(c):
            barrier.wait()
            try:
                c.fulfillment_centers()
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=call, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

    wave()  # cold cache: every caller needs a token at once
    assert errors == [] and counter.value == 1
    sb.hook("POST", "/faults", json={"expire_tokens": True}).raise_for_status()
    wave()  # every caller gets a 401 with the same token at once
    assert errors == [] and counter.value == 2
    assert sb.hook("GET", "/stats").json()["statuses"].get("200") == 16


def test_refused_refresh_token_waits_and_a_stored_one_ends_the_wait(sb, prefix, db_url):
    counter = Counter()
    client = oauth_client(sb, prefix, db_url, refresh_token="rt-SECRET-spent", session=CountingSession(counter))
    with pytest.raises(ReauthorisationNeeded) as info:
        client.channels()
    message = str(info.value)
    assert "re-authorisation needed" in message and "ifs-shipbob auth shipbob" in message
    assert "rt-SECRET-spent" not in message and CLIENT_SECRET not in message
    assert stored(db_url) is None and counter.value == 1
    with session_scope(db_url) as s:
        state = refusal_state(s)
    assert state["since"] and "rt-SECRET-spent" not in str(state)

    # Another worker, cold, knows from the DB: it waits without asking ShipBob.
    cold = oauth_client(sb, prefix + "cold:", db_url, refresh_token="rt-SECRET-spent",
                        session=CountingSession(counter))
    with pytest.raises(ReauthorisationNeeded):
        cold.channels()
    assert counter.value == 1

    DbTokenStore(db_url).save(INITIAL)  # a good token stored ends the wait
    assert client.channels() and cold.channels()  # one refresh each (two token caches)
    assert stored(db_url) not in (None, INITIAL) and counter.value == 3
    with session_scope(db_url) as s:
        assert refusal_state(s) == {}


def test_rejected_pat_is_permanent(sb, prefix):
    client = make_client(sb, prefix, shipbob_token="pat-SECRET-wrong")
    with pytest.raises(PermanentError) as info:
        client.channels()
    assert info.value.status == 401 and "personal access token" in str(info.value)
    assert "pat-SECRET-wrong" not in str(info.value)


def test_auth_shipbob_command_stores_a_pasted_token_only_if_shipbob_takes_it(sb, prefix, db_url, monkeypatch):
    from click.testing import CliRunner

    from cli import main

    for name, value in {"DATABASE_URL": db_url, "REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix,
                        "BROKER_URL": "memory://", "SHIPBOB_BASE_URL": sb.url, "SHIPBOB_TOKEN": "",
                        "SHIPBOB_CLIENT_ID": CLIENT_ID, "SHIPBOB_CLIENT_SECRET": CLIENT_SECRET,
                        "SHIPBOB_REFRESH_TOKEN": "rt-SECRET-spent"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ReauthorisationNeeded):
        oauth_client(sb, prefix, db_url, refresh_token="rt-SECRET-spent").channels()

    def auth(*args, stdin=None):
        return CliRunner().invoke(main, ["auth", "shipbob", *args], input=stdin, catch_exceptions=False)

    DbTokenStore(db_url).save("rt-SECRET-kept")  # a token that must survive a typo
    refused = auth("--refresh-token", stdin="rt-SECRET-bogus\n")
    assert refused.exit_code == 1 and "ShipBob refused this refresh token" in refused.output
    assert "rt-SECRET-bogus" not in refused.output and stored(db_url) == "rt-SECRET-kept"
    bad_code = auth("--code", "sbx_code_nope", "--redirect-uri", "https://x.example/cb",
                    "--code-verifier", "v" * 43)
    assert bad_code.exit_code == 1 and "refused the authorisation code (invalid_grant)" in bad_code.output
    assert auth().exit_code == 2  # neither way given: a usage error

    stored_now = auth("--refresh-token", stdin=INITIAL + "\n")  # the reset sandbox still takes it
    assert stored_now.exit_code == 0, stored_now.output
    assert "refresh token stored; 0 waiting item(s) resumed" in stored_now.output
    assert INITIAL not in stored_now.output
    assert stored(db_url) not in (None, INITIAL)  # proven with one refresh, rotated and saved
    with session_scope(db_url) as s:
        assert refusal_state(s) == {}
    assert oauth_client(sb, prefix, db_url, refresh_token="rt-SECRET-spent").channels()
