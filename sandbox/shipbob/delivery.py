"""Signed webhook delivery with ShipBob's retry schedule (shipbob.md §6).

Standard Webhooks: `webhook-id` (msg_…, the same on every retry), `webhook-timestamp` (of
the attempt), `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{ts}.{body}">` keyed with
the base64-decoded secret after "whsec_", plus `x-webhook-topic`. Success is a 2xx within
the timeout (15 s); anything else, 3xx included, is retried immediately, then after 5 s,
5 min, 30 min, 2 h, 5 h, 10 h and 10 h (scaled by `webhook_retry_time_scale`), and then
the message is Failed. A background thread sends what is due; flush() sends it now.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import string
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from . import timeutil

RETRY_SCHEDULE_SECONDS = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
_BASE62 = string.ascii_letters + string.digits


def new_message_id() -> str:
    return "msg_" + "".join(secrets.choice(_BASE62) for _ in range(27))


def new_secret() -> str:
    """whsec_ + 32 base64 characters (24 random bytes), matching ^whsec_[a-zA-Z0-9+/]{32}$."""
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass
class Message:
    id: str
    topic: str
    subscription_id: str
    url: str
    secret: str
    body: bytes
    due: float = 0.0
    attempts: int = 0
    state: str = "pending"  # pending | sending | delivered | failed | dropped
    duplicate: bool = False
    generation: int = 0  # which reset() epoch queued it

    def view(self) -> dict:
        return {"id": self.id, "topic": self.topic, "subscription_id": self.subscription_id,
                "url": self.url, "state": self.state, "attempts": self.attempts,
                "duplicate": self.duplicate, "body": json.loads(self.body)}


class Dispatcher:
    def __init__(self, config, faults):
        self._config = config
        self._faults = faults
        self._cond = threading.Condition()
        self.messages: list[Message] = []
        self.attempts: list[dict] = []
        self._pending: list[Message] = []
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._stopped = False
        self._generation = 0

    def enqueue(self, subscription, topic: str, body: bytes) -> Message:
        f = self._faults.webhooks
        m = Message(new_message_id(), topic, subscription.id, subscription.url,
                    subscription.secret, body, generation=self._generation)
        with self._cond:
            self.messages.append(m)
            if self._faults.chance(f.drop_rate):
                m.state = "dropped"
                return m
            m.due = time.monotonic() + f.delay_seconds + self._faults.uniform(f.shuffle_seconds)
            self._pending.append(m)
            self._start()
            self._cond.notify_all()
        return m

    def flush(self, fast_forward: bool = False) -> dict:
        """Send everything due now (with `fast_forward`, everything pending) on this thread,
        retries that fall due meanwhile included; waits for sends already under way."""
        while True:
            with self._cond:
                while self._in_flight:
                    self._cond.wait(0.05)
                batch = self._claim(everything=fast_forward)
            if not batch:
                return self.summary()
            for m in batch:
                self._attempt(m)

    def summary(self) -> dict:
        with self._cond:
            states = [m.state for m in self.messages]
            return {"messages": len(states), "attempts": len(self.attempts),
                    **{s: states.count(s) for s in ("pending", "sending", "delivered", "failed", "dropped")}}

    def clear(self) -> None:
        with self._cond:
            self.messages, self._pending, self.attempts = [], [], []
            self._generation += 1  # sends under way finish unrecorded

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # -- internals (callers hold no lock unless said) ---------------------------------------

    def _start(self) -> None:  # holds _cond
        if self._thread is None:
            self._pool = ThreadPoolExecutor(self._config.webhook_workers,
                                            thread_name_prefix="shipbob-webhook")
            self._thread = threading.Thread(target=self._run, name="shipbob-webhooks", daemon=True)
            self._thread.start()

    def _claim(self, everything: bool = False) -> list[Message]:  # holds _cond
        now = time.monotonic()
        batch = [m for m in self._pending if everything or m.due <= now]
        for m in batch:
            self._pending.remove(m)
            m.state = "sending"
        self._in_flight += len(batch)
        return batch

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                batch = self._claim()
                if not batch:
                    nxt = min((m.due for m in self._pending), default=None)
                    self._cond.wait(None if nxt is None else max(0.0, nxt - time.monotonic()))
                    continue
            for m in batch:
                self._pool.submit(self._attempt, m)

    def _attempt(self, m: Message) -> None:
        timestamp = int(time.time())
        bad = self._faults.chance(self._faults.webhooks.bad_signature_rate)
        secret = new_secret() if bad else m.secret
        headers = {"webhook-id": m.id, "webhook-timestamp": str(timestamp),
                   "webhook-signature": sign(secret, m.id, timestamp, m.body),
                   "x-webhook-topic": m.topic, "content-type": "application/json",
                   "user-agent": "ShipBob-Sandbox-Webhooks/1.0"}
        status, error = None, None
        try:
            resp = requests.post(m.url, data=m.body, headers=headers, allow_redirects=False,
                                 timeout=self._config.webhook_timeout_seconds)
            status = resp.status_code
        except requests.RequestException as exc:
            error = type(exc).__name__
        ok = status is not None and 200 <= status < 300
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()
            if m.generation != self._generation:
                return
            m.attempts += 1
            self.attempts.append({"message_id": m.id, "topic": m.topic, "url": m.url,
                                  "subscription_id": m.subscription_id, "attempt": m.attempts,
                                  "status_code": status, "error": error, "ok": ok,
                                  "bad_signature": bad, "duplicate": m.duplicate,
                                  "at": timeutil.iso(timeutil.now())})
            if ok:
                m.state = "delivered"
                if not m.duplicate and self._faults.chance(self._faults.webhooks.duplicate_rate):
                    copy = Message(m.id, m.topic, m.subscription_id, m.url, m.secret, m.body,
                                   due=time.monotonic(), duplicate=True, generation=m.generation)
                    self.messages.append(copy)
                    self._pending.append(copy)
            elif m.attempts <= len(RETRY_SCHEDULE_SECONDS):
                delay = RETRY_SCHEDULE_SECONDS[m.attempts - 1] * self._config.webhook_retry_time_scale
                m.state, m.due = "pending", time.monotonic() + delay
                self._pending.append(m)
            else:
                m.state = "failed"
