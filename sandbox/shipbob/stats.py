"""Request counters for GET /_sandbox/stats: how a client really used the API.

Benchmarks read them to compare clients by calls made, pages fetched and 429s provoked.
Routes are keyed by method and template ("GET /2026-01/order/{order_id}").
"""

from __future__ import annotations

import re
import threading
from collections import Counter


def route_key(method: str, rule: str | None, path: str) -> str:
    template = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule) if rule else path
    return f"{method} {template}"


class Stats:
    def __init__(self):
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        self.requests: Counter = Counter()
        self.statuses: Counter = Counter()
        self.pages: Counter = Counter()
        self.page_items: Counter = Counter()
        self.identities: Counter = Counter()
        self.limited = 0   # 429s from the sliding window
        self.injected = Counter()  # faults served: 429/500/503

    def record(self, key: str, status: int, identity: str | None, page_items: int | None,
               limited: bool, injected: bool) -> None:
        with self._lock:
            self.requests[key] += 1
            self.statuses[str(status)] += 1
            if identity:
                self.identities[identity] += 1
            if page_items is not None:
                self.pages[key] += 1
                self.page_items[key] += page_items
            if limited:
                self.limited += 1
            if injected:
                self.injected[str(status)] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {"total": sum(self.requests.values()), "requests": dict(self.requests),
                    "statuses": dict(self.statuses),
                    "rate_limited": {"limiter": self.limited,
                                     "injected": self.injected.get("429", 0),
                                     "total": self.limited + self.injected.get("429", 0)},
                    "injected_faults": dict(self.injected),
                    "pages": {k: {"calls": v, "items": self.page_items[k]}
                              for k, v in self.pages.items()},
                    "by_identity": dict(self.identities)}
