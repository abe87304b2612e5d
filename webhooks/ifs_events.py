"""POST /events/ifs/<event>: an IFS Event Action (REST Call) tells us an order
or purchase order changed state, so it reaches ShipBob in seconds instead of
at the next poll.

Authenticated by the `X-Api-Key` header, compared in constant time with
IFS_EVENTS_API_KEY and IFS_EVENTS_API_KEY_PREVIOUS; with neither set the
route does not exist (404). The key is checked before the body is read, the
job row is committed before its wake-up is published, and a wake-up that
fails still answers 2xx: the sweeper publishes due rows (invariant 1). What
each event records is connector/ifs_events.py.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import cast

from flask import Blueprint, jsonify, request
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import String

from connector.db.models import Job
from connector.db.session import session_scope
from connector.ifs_events import EVENTS, record_event
from connector.settings import Settings
from connector.webhook_outcomes import IfsEventOutcome
from webhooks.metrics import ReceiverMetrics
from webhooks.receiver import _DB_ERRORS, read_body  # the ShipBob receiver's, shared

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-Api-Key"
# A body is one business key and perhaps a few more fields; anything near
# this is not an IFS event.
BODY_LIMIT_BYTES = 16 * 1024
_KEY_MAX = cast(String, Job.__table__.c.key.type).length or 200
# IFS order and purchase order numbers: letters, digits and a few separators;
# never '#', which numbers the chunks of a split purchase order.
_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_./-]*$"


class EventBody(BaseModel):
    """The body the Event Action's template sends, e.g. {"OrderNo": "&NEW:ORDER_NO"}.
    Other fields are allowed (and ignored) so a template may carry more."""

    model_config = ConfigDict(extra="ignore", strict=True)
    OrderNo: str = Field(min_length=1, max_length=_KEY_MAX, pattern=_KEY_PATTERN)


JobWaker = Callable[[int, str, str], None]


class IfsEvents:
    def __init__(self, api_keys: list[str], database_url: str, wake_job: JobWaker,
                 metrics: ReceiverMetrics, body_timeout: float, statement_timeout: float | None = None):
        self._keys = [key.encode() for key in api_keys]
        self._database_url = database_url
        self._wake_job = wake_job
        self._body_timeout = body_timeout
        self._statement_timeout = statement_timeout
        # On the receiver's registry, so /metrics shows it; its own name, as
        # the webhook counter is about ShipBob deliveries.
        self._received = Counter("ifs_shipbob_ifs_events_received", "IFS events by event and outcome.",
                                 ["event", "outcome"], registry=metrics.registry)

    def blueprint(self) -> Blueprint:
        bp = Blueprint("ifs_events", __name__)
        if self._keys:  # no key configured: no route, every request is a 404
            bp.add_url_rule("/events/ifs/<event>", "ifs_event", self._handle, methods=["POST"])
        return bp

    def _handle(self, event: str):
        started = time.perf_counter()
        status, reply, outcome, fields = self._process(event)
        label = event if event in EVENTS else "unknown"
        self._received.labels(event=label, outcome=outcome).inc()
        # Never the key or the body: the event, the business key and the outcome.
        level = logging.INFO if status < 400 else logging.WARNING
        if outcome == IfsEventOutcome.ENQUEUE_FAILED:
            level = logging.ERROR
        log.log(level, "ifs event %s", outcome,
                extra={"event": label, "outcome": outcome,
                       "ms": round((time.perf_counter() - started) * 1000, 1), **fields})
        return jsonify(reply), status

    def _process(self, event: str) -> tuple[int, dict, IfsEventOutcome, dict]:
        if not self._authorized(request.headers.get(API_KEY_HEADER, "")):
            return 401, {"error": f"missing or invalid {API_KEY_HEADER}"}, IfsEventOutcome.REJECTED_KEY, {}
        if event not in EVENTS:
            return 404, {"error": f"unknown event; one of {', '.join(EVENTS)}"}, IfsEventOutcome.UNKNOWN_EVENT, {}
        if request.content_length is not None and request.content_length > BODY_LIMIT_BYTES:
            return 413, {"error": f"body larger than {BODY_LIMIT_BYTES} bytes"}, IfsEventOutcome.TOO_LARGE, {}
        raw, timed_out = read_body(request, BODY_LIMIT_BYTES, self._body_timeout)
        if timed_out:
            return 408, {"error": "request body not received in time"}, IfsEventOutcome.BODY_TIMEOUT, {}
        if raw is None:
            return 413, {"error": f"body larger than {BODY_LIMIT_BYTES} bytes"}, IfsEventOutcome.TOO_LARGE, {}
        try:
            body = EventBody.model_validate(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return 400, {"error": _bad_body(exc)}, IfsEventOutcome.BAD_BODY, {}

        key = body.OrderNo
        try:
            with session_scope(self._database_url, self._statement_timeout) as session:
                recorded = record_event(session, event, key)
        except _DB_ERRORS as exc:  # nothing stored; IFS may retry, the poll will see it
            return 503, {"error": "database unavailable"}, IfsEventOutcome.DB_UNAVAILABLE, {"error": type(exc).__name__}
        fields = {"key": key, "job_id": recorded.job_id}
        if recorded.job_id is None:
            return 200, {"status": "ignored", "reason": "no job for this key"}, IfsEventOutcome.IGNORED, fields
        reply = {"status": "queued" if recorded.wake else "known", "job_id": recorded.job_id}
        if recorded.wake:
            try:
                self._wake_job(recorded.job_id, recorded.flow, recorded.key)
            except Exception as exc:  # broker down: the row is committed, the sweeper wakes it
                return 202, reply, IfsEventOutcome.ENQUEUE_FAILED, {**fields, "error": type(exc).__name__}
            return 202, reply, IfsEventOutcome.QUEUED, fields
        return 200, reply, IfsEventOutcome.KNOWN, fields

    def _authorized(self, presented: str) -> bool:
        # WSGI hands headers over as latin-1 text; every configured key is ASCII.
        candidate = presented.encode("latin-1", "replace")
        matched = False
        for key in self._keys:  # all compared, whichever matches
            matched |= hmac.compare_digest(candidate, key)
        return matched


def _bad_body(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()]
        return "invalid body: " + "; ".join(problems) + ' (expected {"OrderNo": "..."})'
    return 'body is not JSON (expected {"OrderNo": "..."})'


def ifs_events_blueprint(settings: Settings, wake_job: JobWaker, metrics: ReceiverMetrics) -> Blueprint:
    return IfsEvents(settings.ifs_events_api_keys(), settings.database_url, wake_job, metrics,
                     body_timeout=settings.webhook_body_timeout_seconds,
                     statement_timeout=settings.webhook_statement_timeout_seconds).blueprint()
