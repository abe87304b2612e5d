"""150 requests per minute, sliding window, per user and application (shipbob.md §7).

One window per credential identity (a PAT, or an OAuth client acting for a user), over
every endpoint. A refused request does not count against the window.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from .errors import ApiError


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, {"statusCode": 429,
                          "message": f"Rate limit is exceeded. Try again in {retry_after} seconds."},
                    {"x-retry-after": str(retry_after), "x-remaining-calls": "0"})


class SlidingWindowLimiter:
    def __init__(self, limit: int, window_seconds: float):
        self.limit = limit
        self.window = window_seconds
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> int:
        """Count a request; returns the calls left, or raises the 429 to send."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                raise too_many_requests(max(1, math.ceil(hits[0] + self.window - now)))
            hits.append(now)
            return self.limit - len(hits)

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()
