"""RedisCoordinator against a real Redis, across real processes
(design invariant 5: one rate limit and one pause for the whole pool)."""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid

import pytest
import redis as redis_lib

from connector.coordination import RedisCoordinator
from connector.errors import RateLimited, TransientError

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def prefix():
    prefix = f"ifs-shipbob-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    RedisCoordinator(REDIS_URL, prefix).delete_all()


# -- worker functions (module level so spawned processes can import them) --

def _take_slots(prefix, limit, window, calls, start, out):
    c = RedisCoordinator(REDIS_URL, prefix)
    start.wait()
    stamps = []
    for _ in range(calls):
        c.wait_for_slot("shipbob", limit, window, max_wait=30)
        stamps.append(time.time())
    out.put(stamps)


def _count_under_lock(prefix, rounds, start, out):
    c = RedisCoordinator(REDIS_URL, prefix)
    r = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)
    start.wait()
    for _ in range(rounds):
        with c.lock("counter", ttl=10, wait=30):
            value = int(r.get(prefix + "counter") or 0)  # read-modify-write: racy without the lock
            time.sleep(0.002)
            r.set(prefix + "counter", value + 1)
    out.put("done")


def _run(target, n, *args):
    start, out = SPAWN.Event(), SPAWN.Queue()
    procs = [SPAWN.Process(target=target, args=(*args, start, out)) for _ in range(n)]
    for p in procs:
        p.start()
    time.sleep(0.5)  # let every process import and connect before the start signal
    began = time.time()
    start.set()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
        assert p.exitcode == 0
    return began, results


def _max_in_any_window(stamps, width):
    stamps = sorted(stamps)
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while t - stamps[lo] >= width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


# -- tests --------------------------------------------------------------------

def test_sliding_window_holds_across_processes(prefix):
    limit, window, procs = 20, 2.0, 4
    calls = 3 * limit // procs  # three windows' worth in total
    began, results = _run(_take_slots, procs, prefix, limit, window, calls)
    stamps = [t for r in results for t in r]
    assert len(stamps) == 3 * limit
    # Client stamps lag the Redis slot time by a few ms, hence the tolerance.
    assert _max_in_any_window(stamps, window - 0.05) <= limit
    elapsed = max(stamps) - began
    assert 2 * window - 0.1 <= elapsed < 3 * window + 2  # waits, but not needlessly long


def test_pause_blocks_every_process(prefix):
    c = RedisCoordinator(REDIS_URL, prefix)
    c.pause("shipbob", 1.5)
    paused_at = time.time()
    _, results = _run(_take_slots, 3, prefix, 100, 60.0, 1)
    assert min(t for r in results for t in r) >= paused_at + 1.4
    assert c.paused_for("shipbob") == 0


def test_pause_longer_than_max_wait_raises_rate_limited(prefix):
    c = RedisCoordinator(REDIS_URL, prefix)
    c.pause("shipbob", 20)
    c.pause("shipbob", 1)  # a shorter pause never shortens the pool's pause
    assert 19 < c.paused_for("shipbob") <= 20
    with pytest.raises(RateLimited) as info:
        c.wait_for_slot("shipbob", 10, 60, max_wait=2)
    assert info.value.retry_after > 19


def test_acquire_reports_the_wait(prefix):
    c = RedisCoordinator(REDIS_URL, prefix)
    assert [c.acquire("w", 2, 5) for _ in range(2)] == [0, 0]
    wait = c.acquire("w", 2, 5)
    assert 4.5 < wait <= 5


def test_lock_is_mutually_exclusive_across_processes(prefix):
    _run(_count_under_lock, 4, prefix, 10)
    r = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)
    assert int(r.get(prefix + "counter")) == 40


def test_lock_release_is_token_checked(prefix):
    a, b = RedisCoordinator(REDIS_URL, prefix), RedisCoordinator(REDIS_URL, prefix)
    first = a.lock("L", ttl=0.2, wait=0)
    first.__enter__()
    time.sleep(0.3)  # first holder's ttl runs out
    second = b.lock("L", ttl=10, wait=0)
    second.__enter__()
    first.__exit__(None, None, None)  # must not delete the second holder's lock
    with pytest.raises(TransientError):
        with a.lock("L", ttl=1, wait=0.1):
            pass
    second.__exit__(None, None, None)
    with a.lock("L", ttl=1, wait=0):
        pass


def test_cache_stats_and_prefix(prefix):
    c = RedisCoordinator(REDIS_URL, prefix)
    other = RedisCoordinator(REDIS_URL, prefix + "other:")
    c.cache_set("token", "abc", ttl=0.3)
    assert c.cache_get("token") == "abc"
    assert other.cache_get("token") is None
    time.sleep(0.4)
    assert c.cache_get("token") is None
    c.cache_set("token", "abc", ttl=10)
    c.cache_delete("token")
    assert c.cache_get("token") is None
    c.record("shipbob", "remaining_calls", "7")
    assert c.read("shipbob") == {"remaining_calls": "7"}
    r = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)
    assert all(k.startswith(prefix) for k in r.scan_iter(match=f"{prefix}*"))
    assert r.exists(f"{prefix}stats:shipbob")


def test_redis_down_is_transient():
    c = RedisCoordinator("redis://127.0.0.1:1/0", "x:")
    with pytest.raises(TransientError):
        c.acquire("shipbob", 10, 60)
