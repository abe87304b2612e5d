"""A hard deadline on reading a request body.

A socket timeout bounds each recv(), not the whole read: a client trickling
one byte just inside it could hold a thread for hours. So one watchdog thread
per process shuts the reading side of the client's socket down when the
deadline passes; the blocked read then returns at once (end of stream) and
the receiver answers 408.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(order=True)
class _Alarm:
    due: float
    order: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)
    fired: bool = field(default=False, compare=False)


class Watchdog:
    """Runs each armed action at its due time unless it is disarmed first."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._alarms: list[_Alarm] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, action: Callable[[], None]) -> _Alarm:
        alarm = _Alarm(time.monotonic() + seconds, next(self._order), action)
        with self._cond:
            heapq.heappush(self._alarms, alarm)
            if self._thread is None:  # started on first use: after gunicorn forked
                self._thread = threading.Thread(target=self._run, name="body-deadline", daemon=True)
                self._thread.start()
            self._cond.notify()
        return alarm

    def disarm(self, alarm: _Alarm) -> None:
        with self._cond:
            alarm.cancelled = True

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._alarms and self._alarms[0].cancelled:
                    heapq.heappop(self._alarms)
                wait = self._alarms[0].due - time.monotonic() if self._alarms else None
                if wait is None or wait > 0:
                    self._cond.wait(wait)
                    continue
                alarm = heapq.heappop(self._alarms)
                alarm.fired = True
            alarm.action()


_watchdog = Watchdog()


@dataclass
class Deadline:
    _alarm: _Alarm | None

    @property
    def expired(self) -> bool:
        return self._alarm is not None and self._alarm.fired


@contextmanager
def read_deadline(sock: socket.socket | None, seconds: float) -> Iterator[Deadline]:
    """Cut off reads from `sock` after `seconds`; `expired` says whether it
    happened. Without a socket (a test client, an unknown server) there is
    no deadline."""
    if sock is None:
        yield Deadline(None)
        return
    alarm = _watchdog.arm(seconds, lambda: _stop_reading(sock))
    try:
        yield Deadline(alarm)
    finally:
        _watchdog.disarm(alarm)


def _stop_reading(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:  # already closed by the client or the server
        pass
