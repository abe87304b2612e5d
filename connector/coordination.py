"""Pool-wide coordination: the shared rate limiter, pauses, caches, locks and
small stats (shared/design.md, invariants 5 and 6).

Two implementations share one `Coordinator` protocol:

- `RedisCoordinator`: every worker process of the pool sees the same state.
  The sliding-window limiter and lock release are Lua scripts, so they are
  atomic; time comes from the Redis server, so clock skew between hosts
  does not matter. Every key starts with `settings.redis_prefix`.
- `LocalCoordinator`: the same semantics with threads in ONE process. It is
  only correct when a single worker process talks to ShipBob (the embedded
  default); two processes with a LocalCoordinator each get the full limit.

`coordinator_for(settings)` picks Redis when `settings.redis_url` is set.
"""

from __future__ import annotations

import collections
import contextlib
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ContextManager, Iterator, Protocol, TypeVar

import redis

from connector.errors import RateLimited, TransientError

if TYPE_CHECKING:
    from connector.settings import Settings

T = TypeVar("T")

# Sleep granularity while waiting for a lock, and jitter added to limiter
# waits so processes woken together do not retry in lock-step.
_LOCK_POLL_SECONDS = 0.05
_WAIT_JITTER_SECONDS = 0.02


@dataclass(frozen=True)
class Floor:
    """At least `calls` slots were taken in the window that ended `age`
    seconds ago (from the API's own count, e.g. ShipBob's x-remaining-calls).

    The shared window lives in Redis, which may be flushed or restarted at
    any time; a window that forgot its slots would let the pool spend the
    whole limit again at once. Each acquire carries its caller's floor, and
    the window is topped up to it with slots stamped at that moment: after a
    flush the pool starts as conservatively as the API's last word allows."""

    calls: int
    age: float


class Coordinator(Protocol):
    def acquire(self, name: str, limit: int, window: float, floor: Floor | None = None) -> float:
        """Take a slot in the sliding window `name` (at most `limit` slots in
        any `window` seconds). 0.0 = taken now; else seconds to wait first.
        `floor`: what the API last said about the window (see Floor)."""

    def wait_for_slot(self, name: str, limit: int, window: float, max_wait: float,
                      floor: Floor | None = None) -> None:
        """Block until a slot is taken, honouring `pause(name)`; raises
        RateLimited when that would take longer than `max_wait` seconds."""

    def window_count(self, name: str, window: float) -> int:
        """Slots of `name` taken in the last `window` seconds (restored ones included)."""

    def pause(self, name: str, seconds: float) -> None:
        """Make every process wait `seconds` before its next slot (a 429's
        retry-after pauses the pool). Never shortens a longer pause."""

    def paused_for(self, name: str) -> float:
        """Seconds left of the pause on `name` (0.0 when not paused)."""

    def cache_get(self, key: str) -> str | None: ...

    def cache_set(self, key: str, value: str, ttl: float) -> None: ...

    def cache_delete(self, key: str) -> None: ...

    def lock(self, name: str, ttl: float = 30, wait: float = 30) -> ContextManager[None]:
        """Cross-process mutex held for at most `ttl` seconds; raises
        TransientError when not acquired within `wait` seconds."""

    def record(self, name: str, field: str, value: str) -> None:
        """Store one small stat (e.g. last x-remaining-calls) for `status`."""

    def read(self, name: str) -> dict[str, str]: ...


def wait_for_slot(coordinator: Coordinator, name: str, limit: int, window: float,
                  max_wait: float, sleep: Callable[[float], None] = time.sleep,
                  floor: Floor | None = None) -> None:
    """The loop both implementations share: wait out a pause, then acquire."""
    deadline = time.monotonic() + max_wait
    while True:
        delay = coordinator.paused_for(name)
        reason = "paused after a 429"
        if delay <= 0:
            delay = coordinator.acquire(name, limit, window, floor)
            reason = f"rate limit {limit}/{window:g}s reached"
            if delay <= 0:
                return
        left = deadline - time.monotonic()
        if delay > left:
            raise RateLimited(f"{name}: {reason}; next slot in {delay:.1f}s", retry_after=delay)
        sleep(delay + random.uniform(0, _WAIT_JITTER_SECONDS))


def _lock_timeout(name: str, wait: float) -> TransientError:
    return TransientError(f"lock {name!r} not acquired within {wait:g}s", retry_after=wait)


# --------------------------------------------------------------------- Redis

# KEYS[1] sorted set of slot timestamps (microseconds, Redis server clock),
# kept for two windows so a floor's window (which ended at most one window
# ago) can be counted. ARGV: limit, window in microseconds, a unique member,
# floor calls, floor age in microseconds (calls 0: no floor).
# Returns 0 when the slot is taken, else microseconds until enough entries
# have left the window for one more.
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local floor = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 2 * window)
if floor > 0 then
  local at = now - tonumber(ARGV[5])
  if at > now - window then
    -- slots the API counted in (at - window, at] that this window forgot
    -- (a flush): restore them, stamped at `at`, so they leave no earlier
    local missing = math.min(limit, floor) - redis.call('ZCOUNT', KEYS[1], string.format('(%.0f', at - window), at)
    for i = 1, missing do
      redis.call('ZADD', KEYS[1], at, ARGV[3] .. ':floor:' .. i)
    end
  end
end
local since = string.format('(%.0f', now - window)  -- '..' would print 14 digits only
local taken = redis.call('ZCOUNT', KEYS[1], since, '+inf')
if taken < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(2 * window / 1000) + 1000)
  return 0
end
-- the entry that must leave the window before `taken` drops below `limit`
local entry = redis.call('ZRANGEBYSCORE', KEYS[1], since, '+inf', 'WITHSCORES', 'LIMIT', taken - limit, 1)
return math.max(1, math.ceil(tonumber(entry[2]) + window - now))
"""

# KEYS[1] pause key; ARGV[1] milliseconds. Extends, never shortens a pause.
_PAUSE_LUA = """
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""

# KEYS[1] lock key; ARGV[1] the holder's token: only the holder may release.
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisCoordinator:
    """Coordinator shared by every process that uses the same Redis + prefix."""

    def __init__(self, url: str, prefix: str = "ifs-shipbob:", client: redis.Redis[str] | None = None):
        self.prefix = prefix
        self._redis = client or redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5,
            health_check_interval=30,
        )
        self._acquire = self._redis.register_script(_ACQUIRE_LUA)
        self._pause = self._redis.register_script(_PAUSE_LUA)
        self._release = self._redis.register_script(_RELEASE_LUA)

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}{kind}:{name}"

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        # A lost Redis stops the pool from coordinating: the work item must
        # be retried later, not run unthrottled.
        try:
            return fn()
        except redis.RedisError as exc:
            raise TransientError(f"redis unavailable during {what}: {type(exc).__name__}") from None

    def acquire(self, name: str, limit: int, window: float, floor: Floor | None = None) -> float:
        member = uuid.uuid4().hex
        calls, age = (floor.calls, floor.age) if floor is not None else (0, 0.0)
        waited = self._call("acquire", lambda: self._acquire(
            keys=[self._key("rate", name)],
            args=[int(limit), int(window * 1_000_000), member, max(0, int(calls)),
                  max(0, int(age * 1_000_000))]))
        return int(waited) / 1_000_000

    def wait_for_slot(self, name: str, limit: int, window: float, max_wait: float,
                      floor: Floor | None = None) -> None:
        wait_for_slot(self, name, limit, window, max_wait, floor=floor)

    def window_count(self, name: str, window: float) -> int:
        """Slots taken in the last `window` seconds (for `status`)."""
        def count() -> int:
            seconds, micros = self._redis.time()
            now = seconds * 1_000_000 + micros
            return self._redis.zcount(self._key("rate", name), f"({now - int(window * 1_000_000)}", "+inf")
        return self._call("window_count", count)

    def pause(self, name: str, seconds: float) -> None:
        ms = int(seconds * 1000)
        if ms > 0:
            self._call("pause", lambda: self._pause(keys=[self._key("pause", name)], args=[ms]))

    def paused_for(self, name: str) -> float:
        left = self._call("paused_for", lambda: self._redis.pttl(self._key("pause", name)))
        return max(0.0, left / 1000) if left and left > 0 else 0.0

    def cache_get(self, key: str) -> str | None:
        return self._call("cache_get", lambda: self._redis.get(self._key("cache", key)))

    def cache_set(self, key: str, value: str, ttl: float) -> None:
        self._call("cache_set", lambda: self._redis.set(
            self._key("cache", key), value, px=max(1, int(ttl * 1000))))

    def cache_delete(self, key: str) -> None:
        self._call("cache_delete", lambda: self._redis.delete(self._key("cache", key)))

    @contextlib.contextmanager
    def lock(self, name: str, ttl: float = 30, wait: float = 30) -> Iterator[None]:
        key = self._key("lock", name)
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait
        while not self._call("lock", lambda: self._redis.set(key, token, nx=True, px=int(ttl * 1000))):
            if time.monotonic() >= deadline:
                raise _lock_timeout(name, wait)
            time.sleep(_LOCK_POLL_SECONDS * random.uniform(0.5, 1.5))
        try:
            yield
        finally:
            # Token-checked: a holder whose ttl ran out must not free the
            # lock someone else holds now.
            self._call("unlock", lambda: self._release(keys=[key], args=[token]))

    def record(self, name: str, field: str, value: str) -> None:
        self._call("record", lambda: self._redis.hset(self._key("stats", name), field, value))

    def read(self, name: str) -> dict[str, str]:
        return self._call("read", lambda: self._redis.hgetall(self._key("stats", name)))

    def delete_all(self) -> int:
        """Delete every key under this prefix (tests, `reset` commands)."""
        keys = list(self._redis.scan_iter(match=f"{self.prefix}*", count=500))
        return self._redis.delete(*keys) if keys else 0


# --------------------------------------------------------------------- local

class LocalCoordinator:
    """In-process coordinator (threads). Correct for ONE worker process only:
    use Redis (`REDIS_URL`) as soon as several processes call ShipBob."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._mutex = threading.Lock()
        self._released = threading.Condition(self._mutex)
        self._windows: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._paused_until: dict[str, float] = {}
        self._cache: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, tuple[str, float]] = {}
        self._stats: dict[str, dict[str, str]] = collections.defaultdict(dict)

    def acquire(self, name: str, limit: int, window: float, floor: Floor | None = None) -> float:
        # `floor` is for a shared window that can be flushed; this one lives
        # and dies with the process (and its x-remaining-calls readings).
        with self._mutex:
            now = self._clock()
            slots = self._windows[name]
            while slots and slots[0] <= now - window:
                slots.popleft()
            if len(slots) < limit:
                slots.append(now)
                return 0.0
            return max(1e-6, slots[-limit] + window - now)

    def wait_for_slot(self, name: str, limit: int, window: float, max_wait: float,
                      floor: Floor | None = None) -> None:
        wait_for_slot(self, name, limit, window, max_wait, floor=floor)

    def window_count(self, name: str, window: float) -> int:
        with self._mutex:
            now = self._clock()
            return sum(1 for at in self._windows.get(name, ()) if at > now - window)

    def pause(self, name: str, seconds: float) -> None:
        with self._mutex:
            until = self._clock() + seconds
            self._paused_until[name] = max(until, self._paused_until.get(name, 0.0))

    def paused_for(self, name: str) -> float:
        with self._mutex:
            return max(0.0, self._paused_until.get(name, 0.0) - self._clock())

    def cache_get(self, key: str) -> str | None:
        with self._mutex:
            value, expires = self._cache.get(key, (None, 0.0))
            if value is not None and expires <= self._clock():
                del self._cache[key]
                return None
            return value

    def cache_set(self, key: str, value: str, ttl: float) -> None:
        with self._mutex:
            self._cache[key] = (value, self._clock() + ttl)

    def cache_delete(self, key: str) -> None:
        with self._mutex:
            self._cache.pop(key, None)

    @contextlib.contextmanager
    def lock(self, name: str, ttl: float = 30, wait: float = 30) -> Iterator[None]:
        token = uuid.uuid4().hex
        deadline = self._clock() + wait
        with self._released:
            while True:
                holder = self._locks.get(name)
                now = self._clock()
                if holder is None or holder[1] <= now:
                    self._locks[name] = (token, now + ttl)
                    break
                left = deadline - now
                if left <= 0:
                    raise _lock_timeout(name, wait)
                self._released.wait(timeout=min(left, holder[1] - now, 0.5))
        try:
            yield
        finally:
            with self._released:
                if self._locks.get(name, ("", 0.0))[0] == token:
                    del self._locks[name]
                    self._released.notify_all()

    def record(self, name: str, field: str, value: str) -> None:
        with self._mutex:
            self._stats[name][field] = value

    def read(self, name: str) -> dict[str, str]:
        with self._mutex:
            return dict(self._stats.get(name, {}))


# ------------------------------------------------------------------ factory

_instances: dict[tuple[str, str], Coordinator] = {}
_instances_mutex = threading.Lock()


def coordinator_for(settings: Settings) -> Coordinator:
    """Redis when `settings.redis_url` is set, else in-process; one instance
    per (URL, prefix) so every client in a process shares its state."""
    key = (settings.redis_url or "local", settings.redis_prefix)
    with _instances_mutex:
        found = _instances.get(key)
        if found is None:
            found = (RedisCoordinator(settings.redis_url, settings.redis_prefix)
                     if settings.redis_url else LocalCoordinator())
            _instances[key] = found
        return found
