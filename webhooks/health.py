"""Liveness and readiness: /healthz says the process answers, /readyz that
a delivery could be stored (database) and a worker woken (broker).

/readyz answers within READINESS_DEADLINE_SECONDS whatever hangs: each check
runs on a thread of its own and is reported "timeout" when it has not
finished by then. A check still running from an earlier probe is waited on,
not started again, so a dependency that hangs costs one thread per check.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from flask import Blueprint, jsonify
from sqlalchemy import text

from connector.db.session import engine_for

log = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2.0
# Kubernetes' and compose's probes commonly time out at 2 s or more.
READINESS_DEADLINE_SECONDS = 1.5


def celery_broker_check(celery_app=None) -> None:
    """Raise unless the Celery broker accepts a connection, within ~2 s.

    Default: the workers' Celery app, imported lazily (importing it reads
    the settings and builds Celery).
    """
    if celery_app is None:
        from workers.app import app as celery_app

    with celery_app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS) as connection:
        connection.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS
        )


def database_check(database_url: str, statement_timeout: float | None = None) -> Callable[[], None]:
    def check() -> None:
        with engine_for(database_url, statement_timeout).connect() as connection:
            connection.execute(text("SELECT 1"))

    return check


class _Probe:
    """One check, run on a daemon thread (a hung one must not keep the
    process from exiting), at most one run at a time."""

    def __init__(self, name: str, check: Callable[[], None]):
        self.name = name
        self._check = check
        self._lock = threading.Lock()
        self._running: Future[None] | None = None

    def start(self) -> Future[None]:
        with self._lock:
            if self._running is None or self._running.done():
                self._running = Future()
                threading.Thread(target=self._run, args=(self._running,), name=f"readyz-{self.name}",
                                 daemon=True).start()
            return self._running

    def _run(self, future: Future[None]) -> None:
        try:
            self._check()
        except BaseException as exc:  # reported by the waiting request
            future.set_exception(exc)
        else:
            future.set_result(None)


class Readiness:
    """The checks, each bounded by `deadline`: {name: "ok" | "timeout" | "unavailable"}."""

    def __init__(self, checks: dict[str, Callable[[], None]], deadline: float = READINESS_DEADLINE_SECONDS):
        self._probes = [_Probe(name, check) for name, check in checks.items()]
        self._deadline = deadline

    def check(self) -> dict[str, str]:
        ends_at = time.monotonic() + self._deadline
        running = [(probe.name, probe.start()) for probe in self._probes]
        results = {}
        for name, future in running:
            try:
                future.result(timeout=max(0.0, ends_at - time.monotonic()))
                results[name] = "ok"
            except FutureTimeout:
                log.warning("readiness check timed out",
                            extra={"check": name, "deadline_seconds": self._deadline})
                results[name] = "timeout"
            except Exception as exc:  # any failure means "not ready", whatever raised it
                # The class name only: messages can carry URLs with credentials.
                log.warning("readiness check failed",
                            extra={"check": name, "error": type(exc).__name__})
                results[name] = "unavailable"
        return results


def health_blueprint(readiness: Readiness) -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @bp.get("/readyz")
    def readyz():
        results = readiness.check()
        ready = all(state == "ok" for state in results.values())
        return jsonify(status="ok" if ready else "unavailable", checks=results), 200 if ready else 503

    return bp
