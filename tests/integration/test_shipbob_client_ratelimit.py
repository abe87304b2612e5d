"""429 handling against the ShipBob sandbox (shipbob.md §7, design
invariant 5): x-retry-after is honoured and pauses the whole pool."""

from __future__ import annotations

import threading
import time

import pytest

from connector.coordination import RedisCoordinator
from connector.errors import RateLimited
from connector.shipbob import Limits

from .test_shipbob_client_support import REDIS_URL, make_client, prefix, sandbox  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sb():
    handle = sandbox()
    yield handle
    handle.stop()


@pytest.fixture(autouse=True)
def fresh(sb):
    sb.hook("POST", "/reset").raise_for_status()


def test_injected_429s_are_waited_out_and_retried(sb, prefix):
    client = make_client(sb, prefix)
    sb.hook("POST", "/faults", json={"too_many": 2, "retry_after": 1}).raise_for_status()
    started = time.monotonic()
    assert client.fulfillment_centers()
    assert time.monotonic() - started >= 2  # two 1 s pauses
    stats = sb.hook("GET", "/stats").json()
    assert stats["statuses"].get("429") == 2 and stats["statuses"].get("200") == 1
    recorded = RedisCoordinator(REDIS_URL, prefix).read("shipbob")
    assert recorded["rate_limited_count"] == "2" and recorded["last_retry_after"] == "1"


def test_a_429_pauses_every_worker(sb, prefix):
    seen_429 = make_client(sb, prefix)
    other = make_client(sb, prefix)  # another worker: own session, own coordinator object
    watcher = RedisCoordinator(REDIS_URL, prefix)
    sb.hook("POST", "/faults", json={"too_many": 1, "retry_after": 2}).raise_for_status()
    first = threading.Thread(target=seen_429.fulfillment_centers)
    first.start()
    deadline = time.monotonic() + 5
    while watcher.paused_for("shipbob") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    left = watcher.paused_for("shipbob")
    assert left > 1.5
    started = time.monotonic()
    other.fulfillment_centers()
    assert time.monotonic() - started >= left - 0.1  # the other worker waited too
    first.join(timeout=10)
    assert sb.hook("GET", "/stats").json()["statuses"].get("429") == 1


def test_a_long_retry_after_is_left_to_the_task(sb, prefix):
    client = make_client(sb, prefix)
    sb.hook("POST", "/faults", json={"too_many": 1, "retry_after": 30}).raise_for_status()
    started = time.monotonic()
    with pytest.raises(RateLimited) as info:
        client.fulfillment_centers()
    assert time.monotonic() - started < 5
    assert info.value.retry_after == 30
    assert RedisCoordinator(REDIS_URL, prefix).paused_for("shipbob") > 29
    # the pool stays paused for every later call: a caller that may not wait
    # that long is told so at once
    impatient = make_client(sb, prefix)
    impatient.transport.limits = Limits(max_wait=5)
    with pytest.raises(RateLimited):
        impatient.fulfillment_centers()


def test_the_real_sliding_window_429_is_honoured(prefix):
    """The sandbox's own limiter (5 calls per 2 s) answers the 429: another
    caller with the same credentials used up the window, so the client has
    no x-remaining-calls warning and only x-retry-after keeps it going."""
    handle = sandbox(rate_limit_per_minute=5, rate_window_seconds=2)
    try:
        for _ in range(5):
            handle.api("GET", "/fulfillment-center").raise_for_status()
        client = make_client(handle, prefix)
        started = time.monotonic()
        assert client.fulfillment_centers()
        assert time.monotonic() - started >= 1
        stats = handle.hook("GET", "/stats").json()
        assert stats["rate_limited"]["limiter"] >= 1 and stats["statuses"].get("200") == 6
        assert int(RedisCoordinator(REDIS_URL, prefix).read("shipbob")["rate_limited_count"]) >= 1
    finally:
        handle.stop()


def test_the_pool_limiter_keeps_under_the_limit(prefix):
    """Client and sandbox agree on the limit: the pool-wide limiter (with its
    margin) spaces the calls so ShipBob never answers 429."""
    handle = sandbox(rate_limit_per_minute=20)
    try:
        coordinator = RedisCoordinator(REDIS_URL, prefix)
        clients = [make_client(handle, prefix, shipbob_rate_limit_per_minute=20) for _ in range(3)]
        for c in clients:
            c.transport.limits.max_wait = 0.5
        done, limited = [], []

        def burst(c):
            for _ in range(10):
                try:
                    c.fulfillment_centers()
                    done.append(1)
                except RateLimited:
                    limited.append(1)

        threads = [threading.Thread(target=burst, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(done) == 19  # 20 minus the 5 % margin
        assert len(limited) == 11
        assert handle.hook("GET", "/stats").json()["statuses"].get("429") is None
        assert coordinator.paused_for("shipbob") == 0
    finally:
        handle.stop()
