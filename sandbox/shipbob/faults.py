"""Injected trouble, switched on through POST /_sandbox/faults.

API faults hit the next requests to the versioned API: `too_many` answers 429 like the real
limiter would (shipbob.md §7), `server_errors` alternates 500 and 503, `latency_ms` slows
every request (long enough, it is a client timeout). Webhook faults shape deliveries:
duplicates, reordering, delay, loss and bad signatures (shipbob.md §6, §10.10).
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass

from .errors import ApiError
from .ratelimit import too_many_requests


@dataclass
class WebhookFaults:
    duplicate_rate: float = 0.0      # a delivered message is delivered once more, same webhook-id
    shuffle_seconds: float = 0.0     # each message waits a random 0..N s, so order breaks
    delay_seconds: float = 0.0       # each message waits N s before its first attempt
    drop_rate: float = 0.0           # the message is never delivered at all
    bad_signature_rate: float = 0.0  # an attempt is signed with the wrong key


class Faults:
    def __init__(self, seed: int):
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.too_many = 0
            self.retry_after = 1
            self.server_errors = 0
            self._served_errors = 0
            self.latency_ms = 0.0
            self.webhooks = WebhookFaults()

    def update(self, body: dict) -> dict:
        """Merge the given switches (see hooks.py for the body); returns the new state."""
        with self._lock:
            for name, cast in (("too_many", int), ("retry_after", int),
                               ("server_errors", int), ("latency_ms", float)):
                if name in body:
                    setattr(self, name, cast(body[name]))
            hooks = dict(body.get("webhooks") or {})
            if "shuffle" in hooks:  # true means a one-second reorder window
                shuffle = hooks.pop("shuffle")
                hooks["shuffle_seconds"] = 1.0 if shuffle is True else float(shuffle or 0)
            self.webhooks = WebhookFaults(**{**asdict(self.webhooks),
                                             **{k: float(v) for k, v in hooks.items()}})
        return self.snapshot()

    def snapshot(self) -> dict:
        return {"too_many": self.too_many, "retry_after": self.retry_after,
                "server_errors": self.server_errors, "latency_ms": self.latency_ms,
                "webhooks": asdict(self.webhooks)}

    def next_api_fault(self) -> ApiError | None:
        with self._lock:
            if self.too_many > 0:
                self.too_many -= 1
                return too_many_requests(self.retry_after)
            if self.server_errors > 0:
                self.server_errors -= 1
                self._served_errors += 1
                status = 500 if self._served_errors % 2 else 503
                return ApiError(status, {"message": "An error has occurred."})
        return None

    def chance(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self._rng.random() < rate

    def uniform(self, upper: float) -> float:
        with self._lock:
            return self._rng.uniform(0, upper) if upper > 0 else 0.0
