"""Liveness and readiness: /healthz says the process answers, /readyz that
a delivery could be stored (database) and a worker woken (broker)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, jsonify
from sqlalchemy import text

from connector.db.session import engine_for

log = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2.0


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


def database_check(database_url: str) -> Callable[[], None]:
    def check() -> None:
        with engine_for(database_url).connect() as connection:
            connection.execute(text("SELECT 1"))

    return check


def health_blueprint(checks: dict[str, Callable[[], None]]) -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @bp.get("/readyz")
    def readyz():
        results = {}
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:  # any failure means "not ready", whatever raised it
                # The class name only: messages can carry URLs with credentials.
                log.warning("readiness check failed",
                            extra={"check": name, "error": type(exc).__name__})
                results[name] = "unavailable"
        ready = all(state == "ok" for state in results.values())
        return jsonify(status="ok" if ready else "unavailable", checks=results), 200 if ready else 503

    return bp
