"""POST /webhooks/shipbob: verify, persist, acknowledge; workers do the rest
(shared/design.md, invariant 3).

Order matters: size and signature are checked before anything is parsed or
stored, the row is committed before the wake-up call, and a failed wake-up
still answers 2xx because the sweeper re-publishes stored rows.

The body is read under a hard deadline (webhooks/deadline.py): a client that
stalls or trickles its body gets 408 and frees its thread.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, Request, jsonify, request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import ClientDisconnected

from connector.webhook_outcomes import DeliveryOutcome
from webhooks import signature
from webhooks.deadline import read_deadline
from webhooks.inbox import WEBHOOK_ID_MAX, store_event
from webhooks.metrics import ReceiverMetrics
from webhooks.secrets import SecretSource
from webhooks.topics import HANDLED_TOPICS, metric_label

log = logging.getLogger(__name__)

_READ_CHUNK = 64 * 1024
# Errors meaning "the database cannot take the write now": answer 503 so
# ShipBob retries (5 s, 5 min, 30 min, ...).
_DB_ERRORS = (DBAPIError, PoolTimeoutError)


@dataclass
class Result:
    outcome: DeliveryOutcome
    status: int
    reply: dict
    log_level: int = logging.INFO
    log_fields: dict = field(default_factory=dict)


class Receiver:
    def __init__(
        self,
        secrets: SecretSource,
        database_url: str,
        body_limit: int,
        enqueue: Callable[[int], None],
        metrics: ReceiverMetrics,
        body_timeout: float,
        statement_timeout: float | None = None,
        handled_topics: frozenset[str] = HANDLED_TOPICS,
    ):
        self._secrets = secrets
        self._database_url = database_url
        self._body_limit = body_limit
        self._body_timeout = body_timeout
        self._statement_timeout = statement_timeout
        self._enqueue = enqueue
        self._metrics = metrics
        self._warned_no_secret = False
        self._handled = handled_topics  # stored and enqueued; other topics stored as ignored

    def blueprint(self) -> Blueprint:
        bp = Blueprint("receiver", __name__)
        bp.add_url_rule("/webhooks/shipbob", "shipbob", self._handle, methods=["POST"])
        return bp

    def _handle(self):
        started = time.perf_counter()
        topic = request.headers.get("x-webhook-topic", "")
        webhook_id = request.headers.get("webhook-id", "")[:WEBHOOK_ID_MAX]
        result = self._process(request, topic)
        self._metrics.count(metric_label(topic, self._handled), result.outcome)
        # Never the body, a signature or a secret: ids, topic and outcome only.
        log.log(
            result.log_level,
            "shipbob webhook %s",
            result.outcome,
            extra={"webhook_id": webhook_id, "topic": topic[:100], "outcome": result.outcome,
                   **result.log_fields},
        )
        self._metrics.latency.observe(time.perf_counter() - started)
        return jsonify(result.reply), result.status

    def _process(self, req: Request, topic: str) -> Result:
        if req.content_length is not None and req.content_length > self._body_limit:
            return _too_large()
        try:
            signed = signature.parse_headers(req.headers)
        except signature.SignatureError as exc:
            return _unauthorized(exc.reason)
        raw, timed_out = read_body(req, self._body_limit, self._body_timeout)
        if timed_out:
            # Whatever was read is incomplete (or complete at the very
            # deadline): 408, and a real sender simply retries.
            return Result(DeliveryOutcome.BODY_TIMEOUT, 408, {"error": "request body not received in time"},
                          logging.WARNING, {"timeout_seconds": self._body_timeout})
        if raw is None:
            return _too_large()

        try:
            signature.verify(raw, signed, self._secrets.keys())
        except signature.NoSecretError as exc:
            self._warn_no_secret()
            return _unauthorized(exc.reason)
        except signature.SignatureError as exc:
            return _unauthorized(exc.reason)
        except _DB_ERRORS as exc:  # reading the subscription secret
            return _db_unavailable(exc)

        # Verified from here on.
        if len(signed.webhook_id) > WEBHOOK_ID_MAX:
            return Result(DeliveryOutcome.BAD_REQUEST, 400, {"error": "webhook-id too long"}, logging.WARNING)
        # PostgreSQL text cannot hold NUL, and psycopg2 refuses it with a
        # ValueError (not a DBAPIError), which was a 500. The topic is not
        # signed, so anyone replaying a captured delivery could send one.
        if "\x00" in signed.webhook_id or "\x00" in topic:
            return Result(DeliveryOutcome.BAD_REQUEST, 400, {"error": "NUL in webhook-id or topic"}, logging.WARNING)
        try:
            body = raw.decode("utf-8")
            json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return Result(DeliveryOutcome.BAD_JSON, 400, {"error": "body is not JSON"}, logging.WARNING)

        handled = topic in self._handled
        try:
            stored = store_event(self._database_url, signed.webhook_id, topic, body, handled,
                                 statement_timeout=self._statement_timeout)
        except _DB_ERRORS as exc:
            return _db_unavailable(exc)
        if stored.duplicate:
            return Result(DeliveryOutcome.DUPLICATE, 200, {"status": "duplicate"})
        if not handled:
            return Result(DeliveryOutcome.IGNORED, 200, {"status": "ignored"}, log_fields={"event_id": stored.event_id})

        try:
            self._enqueue(stored.event_id)
        except Exception as exc:  # broker down: the row is safe, the sweeper re-publishes it
            return Result(DeliveryOutcome.ENQUEUE_FAILED, 200, {"status": "accepted"}, logging.ERROR,
                          {"event_id": stored.event_id, "error": type(exc).__name__})
        return Result(DeliveryOutcome.ACCEPTED, 200, {"status": "accepted"}, log_fields={"event_id": stored.event_id})

    def _warn_no_secret(self) -> None:
        if not self._warned_no_secret:
            self._warned_no_secret = True
            log.warning(
                "no ShipBob webhook secret configured: every delivery is rejected with 401. "
                "Set SHIPBOB_WEBHOOK_SECRET or run `ifs-shipbob webhooks subscribe`."
            )


def read_body(req: Request, limit: int, timeout: float) -> tuple[bytes | None, bool]:
    """(the raw body or None if longer than `limit`, whether it timed out):
    the whole body must arrive within `timeout` seconds."""
    # gunicorn hands the client's socket over; the dev server too.
    client = req.environ.get("gunicorn.socket") or req.environ.get("werkzeug.socket")
    raw: bytes | None = None
    idle = False
    with read_deadline(client, timeout) as deadline:
        try:
            raw = _read_capped(req, limit)
        except (BlockingIOError, TimeoutError):  # silent past the server's read timeout
            idle = True
        except (OSError, ClientDisconnected):  # the deadline cut the read short
            if not deadline.expired:
                raise
    return raw, idle or deadline.expired


def _read_capped(req: Request, limit: int) -> bytes | None:
    """The raw body, or None if it is longer than `limit`.

    Reads at most limit + 1 bytes whatever Content-Length claims, so a
    chunked or lying body cannot make us buffer more than the limit.
    """
    stream = req.stream
    buffer = bytearray()
    while len(buffer) <= limit:
        chunk = stream.read(min(_READ_CHUNK, limit + 1 - len(buffer)))
        if not chunk:
            break
        buffer += chunk
    return None if len(buffer) > limit else bytes(buffer)


def _too_large() -> Result:
    return Result(DeliveryOutcome.TOO_LARGE, 413, {"error": "body too large"}, logging.WARNING)


def _unauthorized(reason: str) -> Result:
    # One answer for every failure; the reason goes to the log only.
    return Result(DeliveryOutcome.REJECTED_SIGNATURE, 401, {"error": "invalid signature"}, logging.WARNING,
                  {"reason": reason})


def _db_unavailable(exc: Exception) -> Result:
    # The class name only: SQLAlchemy messages quote parameters, i.e. the body.
    return Result(DeliveryOutcome.DB_UNAVAILABLE, 503, {"error": "database unavailable"}, logging.ERROR,
                  {"error": type(exc).__name__})
