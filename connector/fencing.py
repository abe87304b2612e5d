"""No external write without a live lease (design invariant 9).

A job run owns its row through a lease (`lease_until`, `run_token`). If the
run stalls past the lease (a frozen process, a lost database link, a long
GC pause) another worker takes the job over, and the first run must not
write when it wakes up: ShipBob and IFS know nothing of our leases, so the
check has to happen on our side, right before each write.

The runner installs a Fence for the run (a context variable, so the IFS and
ShipBob clients find it without every flow passing it on), and both clients
call `before_write(timeout)` right before sending any request that changes
something. The fence lets the write through only when the lease is known to
outlast the write: confirmed in the database (the same UPDATE that extends
it) no earlier than `lease - timeout - margin` seconds ago, measured on the
monotonic clock, which keeps running while the process is stopped. Anything
else re-confirms; a run whose lease was taken over, or whose heartbeat or
confirmation could not reach the database, raises LeaseLost and writes
nothing more. The README's "Exactly once under takeover" walks through the
crash windows.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

# Time for the database round trip and clock skew between worker hosts.
MARGIN_SECONDS = 5.0


class LeaseLost(Exception):
    """The run no longer owns its job: stop without writing anything more.

    Not part of the error taxonomy on purpose: the row belongs to whichever
    run holds the lease now, so this run records nothing on it."""


class Fence:
    """The write permit of one job run.

    `confirm()` extends the lease in the database and returns True while the
    run still holds it, False once another run took it over; it raises when
    the database cannot be reached."""

    def __init__(self, confirm: Callable[[], bool], lease_seconds: float,
                 margin: float = MARGIN_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._confirm = confirm
        self._lease = lease_seconds
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._valid_until = float("-inf")
        self._broken: str | None = None

    def confirmed(self, at: float) -> None:
        """A confirmation (the claim, a heartbeat) made at monotonic time `at`,
        before the database extended the lease: the lease lasts at least
        until `at + lease`."""
        with self._lock:
            self._valid_until = max(self._valid_until, at + self._lease)

    def broken(self, why: str) -> None:
        """The heartbeat failed or found the lease gone: no write from now on."""
        with self._lock:
            self._broken = self._broken or why

    def before_write(self, timeout: float) -> None:
        """Return only if the lease cannot lapse before a write started now
        and ending within `timeout` seconds is over; else raise LeaseLost."""
        with self._lock:
            if self._broken:
                raise LeaseLost(self._broken)
            if self._clock() + timeout + self._margin < self._valid_until:
                return
        if timeout + self._margin >= self._lease:
            raise LeaseLost(f"a {timeout:g} s write cannot fit in a {self._lease:g} s lease")
        started = self._clock()
        try:
            held = self._confirm()
        except Exception as exc:  # the database is away: we cannot prove the lease
            self.broken(f"lease could not be confirmed ({type(exc).__name__})")
            raise LeaseLost(self._broken or "") from None
        if not held:
            self.broken("another run took the job over")
            raise LeaseLost("another run took the job over")
        self.confirmed(started)
        if self._clock() + timeout + self._margin >= self._valid_until:
            raise LeaseLost("confirming the lease took too long to leave time for the write")


_current: contextvars.ContextVar[Fence | None] = contextvars.ContextVar("fence", default=None)


@contextmanager
def active(fence: Fence) -> Iterator[Fence]:
    token = _current.set(fence)
    try:
        yield fence
    finally:
        _current.reset(token)


def before_write(timeout: float) -> None:
    """Called by the API clients before every request that changes something.
    Outside a job run (the CLI's own commands, tests) there is no fence."""
    fence = _current.get()
    if fence is not None:
        fence.before_write(timeout)
