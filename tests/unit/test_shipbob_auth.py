"""OAuth refresh (shipbob.md §2, design invariant 6) against a fake token
endpoint: single-flight, rotation saved before use, one retry on 401, and
no secret in any error."""

from __future__ import annotations

import threading
import time

import pytest

from connector import metrics
from connector.coordination import LocalCoordinator
from connector.errors import PermanentError, ReauthorisationNeeded, TransientError
from connector.shipbob import MemoryTokenStore, ShipBobClient
from connector.shipbob.auth import ACCESS_TOKEN_CACHE_KEY, UNSAVED_REFRESH_CACHE_KEY

from .test_shipbob_fakes import CLIENT_SECRET, REFRESH, FakeSession, oauth_settings, response


class TokenServer:
    """A token endpoint that rotates refresh tokens like ShipBob's."""

    def __init__(self, valid: str = REFRESH, delay: float = 0.0):
        self.valid = {valid}
        self.refreshes = 0
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, method, url, data=None, **kw):
        time.sleep(self.delay)
        with self.lock:
            if data["refresh_token"] not in self.valid:
                return response(400, {"error": "invalid_grant"})
            self.valid.discard(data["refresh_token"])
            self.refreshes += 1
            n = self.refreshes
            self.valid.add(f"refresh-{n}")
            return response(200, {"access_token": f"access-{n}", "refresh_token": f"refresh-{n}",
                                  "expires_in": 3600, "token_type": "Bearer"})


class Session(FakeSession):
    """Token POSTs go to the TokenServer, API calls to the scripted answers."""

    def __init__(self, server, *answers):
        super().__init__(*answers)
        self.server = server
        self.token_posts = []

    def post(self, url, **kw):
        self.token_posts.append(kw["data"])
        return self.server("POST", url, **kw)


def make(server, *answers, store=None, coordinator=None, **overrides):
    session = Session(server, *answers)
    store = store if store is not None else MemoryTokenStore()
    c = ShipBobClient(oauth_settings(**overrides), coordinator or LocalCoordinator(),
                      token_store=store, session=session)
    c.transport._sleep = lambda s: None
    return c, session, store


def test_first_call_refreshes_and_saves_the_rotated_token_before_use():
    server = TokenServer()
    seen_in_store = []

    def api(method, url, headers, **kw):
        seen_in_store.append(store.load())
        return response(200, {"id": 1})

    c, session, store = make(server, api)
    assert c.get_order(1) == {"id": 1}
    form = session.token_posts[0]
    assert form == {"grant_type": "refresh_token", "refresh_token": REFRESH,
                    "client_id": "app", "client_secret": CLIENT_SECRET}
    assert session.sent[0]["headers"]["Authorization"] == "Bearer access-1"
    assert seen_in_store == ["refresh-1"]  # durable before the access token was used


def test_401_refreshes_once_and_retries_once():
    server = TokenServer()
    c, session, store = make(server, response(200, {}), response(401), response(200, {"id": 2}))
    c.get_order(1)
    assert c.get_order(2) == {"id": 2}
    assert server.refreshes == 2
    assert [s["headers"]["Authorization"] for s in session.sent] == [
        "Bearer access-1", "Bearer access-1", "Bearer access-2"]
    assert store.load() == "refresh-2"


def test_second_401_after_refresh_is_permanent():
    server = TokenServer()
    c, session, _ = make(server, response(401), response(401))
    with pytest.raises(PermanentError):
        c.get_order(1)
    assert server.refreshes == 2 and len(session.sent) == 2


def test_a_refreshed_token_that_expires_while_retrying_a_429_is_refreshed_again():
    # The refreshed token was accepted (the 429 is per user), then expired
    # during the pool pause: that is no proof of bad credentials.
    server = TokenServer()
    c, session, _ = make(server, response(401), response(429, None, {"x-retry-after": "0"}),
                         response(401), response(200, {"id": 1}))
    assert c.get_order(1) == {"id": 1}
    assert server.refreshes == 3
    assert [s["headers"]["Authorization"] for s in session.sent] == [
        "Bearer access-1", "Bearer access-2", "Bearer access-2", "Bearer access-3"]


def test_concurrent_refresh_is_single_flight():
    server = TokenServer(delay=0.05)
    coordinator = LocalCoordinator()
    store = MemoryTokenStore()
    clients = [make(server, response(200, {}), store=store, coordinator=coordinator)[0]
               for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    errors = []

    def run(c):
        barrier.wait()
        try:
            c.get_order(1)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert server.refreshes == 1


def test_refresh_token_comes_from_the_store_when_present():
    server = TokenServer(valid="refresh-from-db")
    c, session, store = make(server, response(200, {}), store=MemoryTokenStore("refresh-from-db"))
    c.get_order(1)
    assert session.token_posts[0]["refresh_token"] == "refresh-from-db"


def test_stale_store_token_falls_back_to_a_newly_configured_one():
    server = TokenServer(valid=REFRESH)  # the operator re-authorised: settings hold the good one
    c, session, store = make(server, response(200, {}), store=MemoryTokenStore("refresh-revoked"))
    c.get_order(1)
    assert [p["refresh_token"] for p in session.token_posts] == ["refresh-revoked", REFRESH]
    assert store.load() == "refresh-1"


def test_invalid_grant_waits_for_reauthorisation_names_the_fix_and_no_secret():
    server = TokenServer(valid="something-else")
    store = MemoryTokenStore("refresh-SECRET-db")
    c, session, _ = make(server, response(200, {}), store=store)
    with pytest.raises(ReauthorisationNeeded) as info:
        c.get_order(1)
    message = str(info.value)
    assert isinstance(info.value, TransientError) and not info.value.counts_attempt
    assert "waiting: ShipBob re-authorisation needed" in message and "ifs-shipbob auth shipbob" in message
    for secret in (REFRESH, "refresh-SECRET-db", CLIENT_SECRET):
        assert secret not in message
    assert len(session.token_posts) == 2 and len(store.refused()) == 2
    assert metrics.SHIPBOB_REAUTHORISATION_NEEDED._value.get() == 1

    # Refused tokens are not offered again: the wait costs ShipBob nothing.
    with pytest.raises(ReauthorisationNeeded):
        c.get_order(1)
    assert len(session.token_posts) == 2

    # A new token stored (what `ifs-shipbob auth shipbob` does) ends the wait.
    server.valid.add("refresh-new")
    store.save("refresh-new")
    assert store.refused() == frozenset()
    c.get_order(1)
    assert session.token_posts[-1]["refresh_token"] == "refresh-new" and store.load() == "refresh-1"
    assert metrics.SHIPBOB_REAUTHORISATION_NEEDED._value.get() == 0


class FailingStore(MemoryTokenStore):
    fail = True

    def save(self, refresh_token):
        if self.fail:
            raise OSError("disk full")
        super().save(refresh_token)


def test_unsaved_rotation_is_kept_and_saved_by_the_next_refresh():
    server = TokenServer()
    coordinator = LocalCoordinator()
    store = FailingStore()
    c, session, _ = make(server, response(200, {"id": 1}), store=store, coordinator=coordinator)
    with pytest.raises(TransientError) as info:
        c.get_order(1)
    assert "refresh-1" not in str(info.value)
    assert coordinator.cache_get(ACCESS_TOKEN_CACHE_KEY) is None  # never used unsaved
    assert coordinator.cache_get(UNSAVED_REFRESH_CACHE_KEY) == "refresh-1"
    store.fail = False
    assert c.get_order(1) == {"id": 1}
    assert session.token_posts[-1]["refresh_token"] == "refresh-1"
    assert store.load() == "refresh-2"
    assert coordinator.cache_get(UNSAVED_REFRESH_CACHE_KEY) is None


def test_token_endpoint_5xx_is_transient():
    def broken(method, url, **kw):
        return response(503, text="<html>down</html>")

    c, _, _ = make(broken)
    with pytest.raises(TransientError):
        c.get_order(1)


