"""ShipBob's rate limit as the client sees it (shipbob.md §7, design
invariant 5): 150 requests/min per user + application, sliding window,
across every endpoint, so one limiter is shared by the whole pool."""

from __future__ import annotations

import email.utils
import math
import random
import time
from typing import Mapping

from requests.structures import CaseInsensitiveDict

LIMITER_NAME = "shipbob"
WINDOW_SECONDS = 60.0
# Used when a 429 carries neither x-retry-after nor Retry-After.
DEFAULT_RETRY_AFTER = 60.0
# Slow down once fewer than this share of the window's calls remain.
LOW_REMAINING_SHARE = 0.10
MAX_SLOWDOWN_SECONDS = 5.0


def safe_limit(limit_per_minute: int) -> int:
    """The limiter's budget: ShipBob's limit minus a ~5 % margin (at least
    one call) for clock and latency differences between us and ShipBob."""
    margin = max(1, math.ceil(limit_per_minute * 0.05))
    return max(1, limit_per_minute - margin)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float:
    """Seconds to wait after a 429: `x-retry-after`, else `Retry-After`
    (seconds or an HTTP date), else 60 (§7)."""
    headers = CaseInsensitiveDict(headers)
    seconds = _number(headers.get("x-retry-after"))
    if seconds is not None:
        return seconds
    raw = headers.get("Retry-After")
    seconds = _number(raw)
    if seconds is not None:
        return seconds
    if raw:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - (time.time() if now is None else now))
    return DEFAULT_RETRY_AFTER


def parse_remaining(headers: Mapping[str, str]) -> int | None:
    value = _number(CaseInsensitiveDict(headers).get("x-remaining-calls"))
    return int(value) if value is not None else None


def pause_with_jitter(retry_after: float) -> float:
    """The pool pause for a 429: retry-after plus up to 10 % (max 2 s) so the
    workers do not all come back in the same millisecond."""
    return retry_after + random.uniform(0, min(2.0, 0.1 * retry_after + 0.1))


def slowdown(remaining: int | None, limit_per_minute: int, window: float = WINDOW_SECONDS) -> float:
    """Extra delay before the next call when `x-remaining-calls` is low:
    0 above 10 % of the limit, then growing linearly to (threshold x average
    spacing), capped at 5 s. Spreads the last calls of the window out."""
    if remaining is None:
        return 0.0
    threshold = max(1.0, LOW_REMAINING_SHARE * limit_per_minute)
    if remaining >= threshold:
        return 0.0
    spacing = window / limit_per_minute
    return min(MAX_SLOWDOWN_SECONDS, (threshold - remaining) * spacing)
