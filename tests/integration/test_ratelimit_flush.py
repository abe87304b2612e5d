"""The pool-wide limiter survives a Redis flush (shipbob.md §7, design
invariant 5): the window it forgets is restored from ShipBob's last
x-remaining-calls, so no window straddling the flush carries more calls than
ShipBob allows. Counted where it matters: at the ShipBob sandbox.

The window is 10 s instead of 60 s (sandbox and client alike) so the test
takes one window; the limiter's arithmetic does not depend on its length.
"""

from __future__ import annotations

import threading
import time

import pytest
from flask import request

from connector.coordination import RedisCoordinator
from connector.shipbob.ratelimit import LIMITER_NAME, safe_limit
from sandbox.shipbob import ShipBobSandboxConfig
from sandbox.shipbob.testkit import SandboxHandle

from .test_shipbob_client_support import REDIS_URL, make_client, prefix  # noqa: F401

pytestmark = pytest.mark.integration

LIMIT = 200          # ShipBob's calls per window, and the connector's setting
WINDOW = 10.0        # seconds
AFTER_FLUSH = 200    # calls made after the flush: more than one window's worth
COLD = 8             # callers that made no call before the flush (at most the margin)


class Arrivals:
    """When each API request reached the sandbox, refused ones included."""

    def __init__(self):
        self.times: list[float] = []
        self._lock = threading.Lock()

    def __call__(self):
        if request.path.startswith("/2026-01/"):
            with self._lock:
                self.times.append(time.monotonic())

    def max_in_window(self, window: float) -> int:
        times = sorted(self.times)
        best, start = 0, 0
        for end, at in enumerate(times):
            while times[start] <= at - window:
                start += 1
            best = max(best, end - start + 1)
        return best


@pytest.fixture
def sb():
    handle = SandboxHandle(ShipBobSandboxConfig(rate_limit_per_minute=LIMIT, rate_window_seconds=WINDOW,
                                                validate_responses=False))
    handle.arrivals = Arrivals()
    # First in line: the sandbox's own limiter answers 429s before later hooks run.
    handle.app.before_request_funcs.setdefault(None, []).insert(0, handle.arrivals)
    handle.start()
    yield handle
    handle.stop()


def client(sb, prefix):
    c = make_client(sb, prefix, shipbob_rate_limit_per_minute=LIMIT)
    c.transport.limits.rate_window = WINDOW
    return c


def test_a_flush_mid_window_does_not_let_the_pool_exceed_the_limit(sb, prefix):
    coordinator = RedisCoordinator(REDIS_URL, prefix)
    busy = client(sb, prefix)
    # More "processes" that have made no call yet: they know nothing of the window.
    cold = [client(sb, prefix) for _ in range(COLD)]
    assert COLD <= LIMIT - safe_limit(LIMIT)

    # The pool spends its whole budget; ShipBob says how many calls are left.
    for _ in range(safe_limit(LIMIT)):
        busy.fulfillment_centers()
    assert coordinator.window_count(LIMITER_NAME, WINDOW) == safe_limit(LIMIT)

    # Redis forgets the window (FLUSHALL, a restart without persistence).
    assert coordinator.delete_all() > 0
    assert coordinator.window_count(LIMITER_NAME, WINDOW) == 0

    made = []
    lock = threading.Lock()

    def work(c):
        while True:
            with lock:
                if len(made) >= AFTER_FLUSH:
                    return
                made.append(1)
            c.fulfillment_centers()

    threads = [threading.Thread(target=work, args=(c,)) for c in [*cold, busy]]
    for t in threads:
        t.start()
    # The busy client's next acquire restores the window from ShipBob's count.
    for t in threads:
        t.join(timeout=4 * WINDOW + 30)
    assert not any(t.is_alive() for t in threads)

    peak = sb.arrivals.max_in_window(WINDOW)
    print(f"most calls in any {WINDOW:g} s window across the flush: {peak} (limit {LIMIT})")
    assert peak <= LIMIT, peak
    stats = sb.hook("GET", "/stats").json()
    assert stats["statuses"].get("429") is None, stats["statuses"]
    assert stats["statuses"].get("200") == safe_limit(LIMIT) + AFTER_FLUSH
    # The limiter's own view (what `status` shows) counts the restored slots.
    assert coordinator.window_count(LIMITER_NAME, WINDOW) <= safe_limit(LIMIT)
