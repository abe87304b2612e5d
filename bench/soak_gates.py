"""Catching a worker in the middle of a request, for the soak's stalls (bench/soak_stalls.py).

An `AnswerHold` sits in a sandbox (an `after_request` hook): once armed, the
first request it matches is processed as usual, but its answer is held back
until the soak releases it. While it is held, the soak knows exactly where
the worker that sent it stands (waiting for that answer) and which process
it is (`worker_of_client_port`: the TCP connection's client port, looked up in
/proc), so it can freeze it with SIGSTOP, or kill it, at that point for sure.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Response, request


@dataclass(frozen=True)
class Caught:
    """The held request: its client's TCP port and what the matcher read from it."""

    client_port: int
    key: str


class AnswerHold:
    """Holds the answer to the first matching request after `arm()` until `release()`.

    `match` reads the current Flask request and its answer and returns a key
    (e.g. the job key the request belongs to), or None to let it pass."""

    def __init__(self, name: str, match: Callable[[Response], str | None], max_hold_seconds: float = 120.0):
        self.name = name
        self._match = match
        self._max_hold = max_hold_seconds
        self._lock = threading.Lock()
        self._armed = False
        self._caught: Caught | None = None
        self._caught_event = threading.Event()
        self._released = threading.Event()

    def arm(self) -> None:
        with self._lock:
            self._armed, self._caught = True, None
            self._caught_event.clear()
            self._released.clear()

    def disarm(self) -> None:
        with self._lock:
            self._armed = False
        self._released.set()

    def wait_caught(self, timeout: float) -> Caught | None:
        return self._caught if self._caught_event.wait(timeout) else None

    def release(self) -> None:
        self._released.set()

    def after_request(self, response):
        """Flask after_request hook: the answer is ready; hold it if it is the one."""
        with self._lock:
            if not self._armed:
                return response
            key = self._match(response)
            if key is None:
                return response
            self._armed = False
            self._caught = Caught(int(request.environ.get("REMOTE_PORT") or 0), key)
        self._caught_event.set()
        # Never forever: a soak that went away must not wedge the sandbox.
        self._released.wait(self._max_hold)
        return response


# ------------------------------------------------------- which process is it

def _socket_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets whose local port is `port` (the client side)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def pid_of_client_port(port: int) -> int | None:
    """The process holding the client end of a loopback TCP connection (Linux /proc)."""
    inodes = {f"socket:[{inode}]" for inode in _socket_inodes(port) if inode != "0"}
    if not inodes:
        return None
    own = os.getpid()  # the sandboxes run in this process: skip its server end
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(entry.name)
        except OSError:
            continue
    return None


def worker_of_client_port(port: int, workers: dict[str, int]) -> str | None:
    """Which of `workers` ({name: process group id}) sent the request from `port`."""
    pid = pid_of_client_port(port)
    if pid is None:
        return None
    try:
        group = os.getpgid(pid)
    except OSError:
        return None
    return next((name for name, pgid in workers.items() if pgid == group), None)
