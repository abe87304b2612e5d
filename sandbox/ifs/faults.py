"""Fault injection and request statistics (test hooks, ifs-cloud.md §9, §11.8).

Counters answer the next n matching requests with a fault: MI_MODIFIED_ERROR
(a retry of the same request then succeeds, as in IFS), 503 or 429 with
Retry-After, a stale ETag (a simulated concurrent edit before an ETag check),
or a lost response (the write is done, the client sees 504). `latency_ms`
delays every projection call; `error_rate` answers a random 5xx.
`next_link_form` ("absolute", "root-relative" or "relative") changes how
@odata.nextLink is written until the next reset.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict

from sandbox.ifs.config import NEXT_LINK_FORMS

COUNTERS = ("mi_modified", "unavailable", "too_many", "stale_etag", "lost_response")


class Faults:
    def __init__(self, lock: threading.RLock, seed: int, retry_after: int,
                 next_link_form: str = "absolute"):
        self.lock = lock
        self.seed = seed
        self.default_retry_after = retry_after
        self.default_next_link_form = next_link_form
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.pending = {name: 0 for name in COUNTERS}
            self.latency_ms = 0.0
            self.error_rate = 0.0
            self.retry_after = self.default_retry_after
            self.next_link_form = self.default_next_link_form
            self.served: Counter = Counter()
            self._rng = random.Random(self.seed)

    def configure(self, body: dict) -> dict:
        """Set the given knobs (others stay); ValueError on a bad value."""
        unknown = set(body) - set(COUNTERS) - {"latency_ms", "error_rate", "retry_after",
                                               "next_link_form"}
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        with self.lock:
            for name in COUNTERS:
                if name in body:
                    self.pending[name] = _count(name, body[name])
            if "latency_ms" in body:
                self.latency_ms = _number("latency_ms", body["latency_ms"], 0, 60_000)
            if "error_rate" in body:
                self.error_rate = _number("error_rate", body["error_rate"], 0, 1)
            if "retry_after" in body:
                self.retry_after = _count("retry_after", body["retry_after"])
            if "next_link_form" in body:
                if body["next_link_form"] not in NEXT_LINK_FORMS:
                    raise ValueError(f"next_link_form must be one of {', '.join(NEXT_LINK_FORMS)}")
                self.next_link_form = body["next_link_form"]
            return self.snapshot()

    def take(self, name: str) -> bool:
        """Consume one pending fault `name`, if any."""
        with self.lock:
            if self.pending[name] <= 0:
                return False
            self.pending[name] -= 1
            self.served[name] += 1
            return True

    def random_error(self) -> int | None:
        with self.lock:
            if self.error_rate and self._rng.random() < self.error_rate:
                self.served["error_rate"] += 1
                return self._rng.choice((500, 502, 503, 504))
        return None

    def snapshot(self) -> dict:
        with self.lock:
            return {**self.pending, "latency_ms": self.latency_ms, "error_rate": self.error_rate,
                    "retry_after": self.retry_after, "next_link_form": self.next_link_form}


def _count(name, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


def _number(name, value, low, high) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{name} must be a number between {low} and {high}")
    return float(value)


class Stats:
    def __init__(self, lock: threading.RLock):
        self.lock = lock
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.requests: dict[str, Counter] = defaultdict(Counter)
            # Requests inside $batch calls; the call itself is one of `requests`.
            self.batch_parts: dict[str, Counter] = defaultdict(Counter)
            self.actions: Counter = Counter()
            self.writes = 0

    def request(self, resource: str, method: str) -> None:
        with self.lock:
            self.requests[resource][method] += 1

    def batch_part(self, resource: str, method: str) -> None:
        with self.lock:
            self.batch_parts[resource][method] += 1

    def write(self, action: str | None = None) -> None:
        with self.lock:
            self.writes += 1
            if action:
                self.actions[action] += 1

    def snapshot(self, faults: Faults, tokens_issued: int) -> dict:
        with self.lock:
            return {
                "requests": {name: dict(methods) for name, methods in self.requests.items()},
                "total_requests": sum(sum(m.values()) for m in self.requests.values()),
                "batch_parts": {name: dict(methods) for name, methods in self.batch_parts.items()},
                "writes": self.writes,
                "actions": dict(self.actions),
                "faults_served": dict(faults.served),
                "tokens_issued": tokens_issued,
            }
