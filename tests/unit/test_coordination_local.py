"""LocalCoordinator semantics with a fake clock, and coordinator_for."""

from __future__ import annotations

import threading
import time

import pytest

from connector.coordination import LocalCoordinator, RedisCoordinator, coordinator_for
from connector.errors import RateLimited, TransientError
from connector.settings import Settings


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_sliding_window_log():
    clock = Clock()
    c = LocalCoordinator(clock=clock)
    assert [c.acquire("x", 3, 10) for _ in range(3)] == [0, 0, 0]
    assert c.acquire("x", 3, 10) == pytest.approx(10)
    clock.now += 4
    assert c.acquire("x", 3, 10) == pytest.approx(6)
    clock.now += 6  # the first three slots leave the window together
    assert [c.acquire("x", 3, 10) for _ in range(3)] == [0, 0, 0]
    assert c.acquire("y", 3, 10) == 0  # windows are per name


def test_pause_extends_but_never_shortens():
    clock = Clock()
    c = LocalCoordinator(clock=clock)
    assert c.paused_for("x") == 0
    c.pause("x", 10)
    c.pause("x", 2)
    assert c.paused_for("x") == pytest.approx(10)
    clock.now += 11
    assert c.paused_for("x") == 0


def test_cache_expires():
    clock = Clock()
    c = LocalCoordinator(clock=clock)
    c.cache_set("k", "v", ttl=5)
    assert c.cache_get("k") == "v"
    clock.now += 5
    assert c.cache_get("k") is None
    c.cache_set("k", "v", ttl=5)
    c.cache_delete("k")
    assert c.cache_get("k") is None


def test_wait_for_slot_honours_pause_and_max_wait():
    c = LocalCoordinator()
    c.pause("x", 30)
    with pytest.raises(RateLimited) as info:
        c.wait_for_slot("x", 10, 60, max_wait=1)
    assert info.value.retry_after > 29
    c = LocalCoordinator()
    c.pause("x", 0.1)
    started = time.monotonic()
    c.wait_for_slot("x", 10, 60, max_wait=1)
    assert time.monotonic() - started >= 0.09


def test_wait_for_slot_waits_for_the_window():
    c = LocalCoordinator()
    for _ in range(2):
        c.wait_for_slot("x", 2, 0.2, max_wait=1)
    started = time.monotonic()
    c.wait_for_slot("x", 2, 0.2, max_wait=1)
    assert time.monotonic() - started >= 0.15
    with pytest.raises(RateLimited):
        for _ in range(3):
            c.wait_for_slot("x", 2, 10, max_wait=0.05)


def test_lock_is_exclusive_and_times_out():
    c = LocalCoordinator()
    inside = []
    overlap = []

    def worker():
        with c.lock("L", ttl=5, wait=5):
            inside.append(1)
            if len(inside) > 1:
                overlap.append(1)
            time.sleep(0.01)
            inside.pop()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlap == []
    with c.lock("L", ttl=5, wait=1):
        with pytest.raises(TransientError):
            with c.lock("L", ttl=5, wait=0.05):
                pass


def test_expired_lock_is_taken_over_and_old_holder_cannot_release_it():
    clock = Clock()
    c = LocalCoordinator(clock=clock)
    first = c.lock("L", ttl=1, wait=0)
    first.__enter__()
    clock.now += 2  # the first holder's ttl ran out
    second = c.lock("L", ttl=10, wait=0)
    second.__enter__()
    first.__exit__(None, None, None)  # must not free the second holder's lock
    with pytest.raises(TransientError):
        with c.lock("L", ttl=1, wait=0):
            pass
    second.__exit__(None, None, None)
    with c.lock("L", ttl=1, wait=0):
        pass


def test_record_and_read():
    c = LocalCoordinator()
    c.record("shipbob", "remaining_calls", "12")
    assert c.read("shipbob") == {"remaining_calls": "12"}
    assert c.read("other") == {}


def test_coordinator_for_caches_per_url_and_prefix():
    local = coordinator_for(Settings(redis_url=None, redis_prefix="t-a:"))
    assert isinstance(local, LocalCoordinator)
    assert coordinator_for(Settings(redis_url=None, redis_prefix="t-a:")) is local
    assert coordinator_for(Settings(redis_url=None, redis_prefix="t-b:")) is not local
    remote = coordinator_for(Settings(redis_url="redis://127.0.0.1:6379/0", redis_prefix="t-a:"))
    assert isinstance(remote, RedisCoordinator) and remote.prefix == "t-a:"
