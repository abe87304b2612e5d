"""One ShipBob HTTP call, done right: the pool-wide rate limit, auth with a
single refresh, bounded retries, and ShipBob's status codes mapped onto the
connector's error taxonomy (shipbob.md §2, §3, §7; design invariants 5-8).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

import requests

from connector import fencing, metrics
from connector.coordination import Coordinator, Floor
from connector.errors import PermanentError, RateLimited, TransientError
from connector.retrying import Again, in_call_policy
from connector.shipbob import ratelimit
from connector.shipbob.errors import DuplicateReference, ShipBobNotFound
from connector.shipbob.query import encode_query

if TYPE_CHECKING:
    from connector.settings import Settings
    from connector.shipbob.auth import OAuthAuth, PatAuth

log = logging.getLogger("connector.shipbob")
REMAINING_FRESH_SECONDS = 5.0

USER_AGENT = "ifs-shipbob/0.1 (+https://github.com/ifs-shipbob)"
# How much of a 400/422 body an exception message quotes.
_BODY_EXCERPT = 500


def build_headers(token: str, channel_id: int | None) -> dict[str, str]:
    """Headers for every call. `shipbob_channel_id` (underscores) goes on
    every call: required on POST /order and /return, harmless elsewhere (§3)."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
    if channel_id is not None:
        headers["shipbob_channel_id"] = str(channel_id)
    return headers


def redacted(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers fit for a log line: the bearer token replaced."""
    return {k: ("Bearer ***" if k.lower() == "authorization" else v) for k, v in headers.items()}


def is_duplicate_reference(method: str, path: str, status: int, text: str) -> bool:
    """A 422 on order create that mentions the reference id (§4): the body is
    `{"": ["Cannot insert order with existing ReferenceId"]}` or `{"errors": [...]}`."""
    lowered = text.lower()
    # Not a validation error that merely names products[].reference_id.
    return (status == 422 and method.upper() == "POST" and path.strip("/") == "order"
            and "reference" in lowered
            and any(word in lowered for word in ("existing", "duplicate", "already", "same")))


def error_for(method: str, path: str, resp: requests.Response,
              reference_id: str | None = None) -> Exception:
    """The exception for a final non-2xx response (401 and 429 are handled
    before this, by refreshing and by pausing the pool)."""
    status = resp.status_code
    body = _json_or_text(resp)
    excerpt = resp.text[:_BODY_EXCERPT]
    where = f"ShipBob {method} /{path.strip('/')}"
    if status == 404:
        return ShipBobNotFound(f"{where}: not found (404)", status=404, body=body)
    if is_duplicate_reference(method, path, status, resp.text):
        return DuplicateReference(f"{where}: reference_id {reference_id!r} already exists (422)",
                                  reference_id=reference_id, status=422, body=body)
    if status == 401:
        return PermanentError(f"{where}: ShipBob rejected the credentials again after a token "
                              "refresh (401)", status=401)
    if status == 403:
        return PermanentError(f"{where}: forbidden (403): the token or channel lacks the scope",
                              status=403, body=body)
    if status in (408, 429) or status >= 500:
        return TransientError(f"{where}: HTTP {status}")
    return PermanentError(f"{where}: rejected (HTTP {status}): {excerpt}", status=status, body=body)


def _json_or_text(resp: requests.Response) -> object:
    try:
        return resp.json()
    except ValueError:
        return resp.text


def backoff(attempt: int, base: float = 0.5, cap: float = 8.0) -> float:
    """Exponential backoff with jitter for the n-th retry (1-based)."""
    return min(cap, base * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)


@dataclass
class _Call:
    """One logical call and the retries it has spent."""

    method: str
    url: str
    log_path: str
    json: object
    idempotent: bool
    reference_id: str | None
    refreshed: bool = False
    rate_limited: int = 0
    transient: int = 0


@dataclass
class Limits:
    """Retry and waiting bounds of one call."""

    # Longest wait for a limiter slot or a pool pause: longer than one window,
    # so a job that has done its reads waits for its turn instead of giving
    # up and doing them again (the runner's heartbeat keeps its lease).
    max_wait: float = 90.0
    max_inline_pause: float = 15.0  # a 429 asking for longer raises RateLimited at once
    max_429_retries: int = 3
    max_transient_retries: int = 3  # 5xx and network errors
    # ShipBob's sliding window (§7); shorter only for tests against a sandbox
    # whose window is shortened the same way.
    rate_window: float = ratelimit.WINDOW_SECONDS


class Transport:
    """Sends requests to `<shipbob_base_url>/<api_version>/...`."""

    def __init__(self, settings: Settings, coordinator: Coordinator, auth: PatAuth | OAuthAuth,
                 session: requests.Session, limits: Limits | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.base_url = f"{settings.shipbob_base_url.rstrip('/')}/{settings.shipbob_api_version}/"
        self._settings = settings
        self._coordinator = coordinator
        self._auth = auth
        self._session = session
        self.limits = limits or Limits()
        self._sleep = sleep
        self._limit_per_minute = settings.shipbob_rate_limit_per_minute
        self._remaining: tuple[int, float] | None = None  # (x-remaining-calls, when seen)
        # In-call retries (connector/retrying.py); the budgets (Limits) are
        # counted per call in _Call. `_sleep` is looked up late (tests swap it).
        self._retrying = in_call_policy(lambda seconds: self._sleep(seconds))

    def url(self, path_or_url: str, query: Mapping[str, object] | None = None) -> str:
        """Absolute URL for an API path (`order/1:cancel`; colons are literal,
        so no urljoin) or an absolute URL from a `next` link."""
        if path_or_url.startswith(("http://", "https://")):
            url = path_or_url
        else:
            url = self.base_url + path_or_url.lstrip("/")
        qs = encode_query(query)
        if qs:
            url += ("&" if "?" in url else "?") + qs
        return url

    def send(self, method: str, path: str, *, query: Mapping[str, object] | None = None,
             json: object = None, idempotent: bool = True,
             reference_id: str | None = None) -> requests.Response:
        """One logical call: returns a 2xx response or raises.

        `idempotent=False` (WRO, return and webhook create) means an answer
        lost in transit may have created the thing, so only failures before
        the request was sent are retried; the flow checks and retries later.
        """
        url = self.url(path, query)
        log_path = "/" + url[len(self.base_url):].split("?", 1)[0] if url.startswith(self.base_url) else path
        call = _Call(method, url, log_path, json, idempotent, reference_id)
        return self._retrying.copy()(self._try, call)

    def _try(self, call: "_Call") -> requests.Response:
        """One try of `call`: its response, or Again (retried by the
        policy), or the call's final error."""
        method, log_path = call.method, call.log_path
        self._throttle()
        token = self._auth.token()
        if method != "GET":
            fencing.before_write(self._settings.http_timeout_seconds)
        started = time.monotonic()
        try:
            resp = self._session.request(
                method, call.url, json=call.json, timeout=self._settings.http_timeout_seconds,
                headers=build_headers(token, self._settings.shipbob_channel_id))
        except requests.RequestException as exc:
            call.transient += 1
            safe = call.idempotent or isinstance(exc, requests.ConnectTimeout)
            log.warning("shipbob %s %s failed: %s (attempt %d)", method, log_path,
                        type(exc).__name__, call.transient)
            if not safe or call.transient > self.limits.max_transient_retries:
                raise TransientError(
                    f"ShipBob {method} {log_path}: network error ({type(exc).__name__})") from None
            raise Again(backoff(call.transient)) from None
        self._observe(method, log_path, resp, time.monotonic() - started)
        status = resp.status_code
        if status == 401 and not call.refreshed:
            call.refreshed = True
            self._auth.handle_unauthorized(token)  # PAT: raises PermanentError
            raise Again(0)
        if status != 401:
            # Not a rejection of the refreshed token (a 429 is counted per
            # user, so it was accepted): a later 401 - it expired during the
            # pause or backoff - earns a refresh of its own. Bounded: every
            # such answer spends the 429 or the transient retry budget.
            call.refreshed = False
        if status == 429:
            call.rate_limited += 1
            retry_after = self._on_429(resp)
            if (call.rate_limited > self.limits.max_429_retries
                    or retry_after > self.limits.max_inline_pause):
                raise RateLimited(f"ShipBob {method} {log_path}: rate limited (429), "
                                  f"retry after {retry_after:g}s", retry_after=retry_after)
            raise Again(0)  # the next _throttle() waits out the pool pause
        if status >= 500 or status == 408:
            call.transient += 1
            if not call.idempotent or call.transient > self.limits.max_transient_retries:
                raise error_for(method, log_path, resp, call.reference_id)
            raise Again(backoff(call.transient))
        if status >= 400:
            raise error_for(method, log_path, resp, call.reference_id)
        return resp

    # -- rate limit (§7) ----------------------------------------------------

    def _throttle(self) -> None:
        delay, remaining = 0.0, 0
        if self._remaining is not None:
            remaining, seen = self._remaining
            # Only a fresh reading says anything about the window now: an old
            # "few calls left" would slow the pool just as the window frees up.
            if time.monotonic() - seen < REMAINING_FRESH_SECONDS:
                delay = ratelimit.slowdown(remaining, self._limit_per_minute, self.limits.rate_window)
        started = time.monotonic()
        if delay > 0:
            log.info("shipbob: %s calls left in the window, slowing down %.1fs", remaining, delay)
            self._sleep(delay)
        self._coordinator.wait_for_slot(
            ratelimit.LIMITER_NAME, ratelimit.safe_limit(self._limit_per_minute),
            self.limits.rate_window, max_wait=self.limits.max_wait, floor=self._floor())
        metrics.RATE_LIMIT_WAIT.labels("shipbob").inc(time.monotonic() - started)

    def _floor(self) -> Floor | None:
        """ShipBob's last count of the window, for a shared limiter that may
        have been flushed since: (limit - x-remaining-calls) calls in the
        window that ended when the answer came. The limiter's margin is left
        for the calls of processes that had no answer yet after the flush."""
        if self._remaining is None:
            return None
        remaining, seen = self._remaining
        age = time.monotonic() - seen
        calls = self._limit_per_minute - remaining
        if calls <= 0 or age >= self.limits.rate_window:
            return None
        return Floor(calls=calls, age=age)

    def _observe(self, method: str, path: str, resp: requests.Response, seconds: float) -> None:
        remaining = ratelimit.parse_remaining(resp.headers)
        log.info("shipbob %s %s -> %d in %.0f ms (remaining calls %s)", method, path,
                 resp.status_code, seconds * 1000, "?" if remaining is None else remaining)
        if remaining is None:
            return
        self._coordinator.record(ratelimit.LIMITER_NAME, "remaining_calls", str(remaining))
        self._coordinator.record(ratelimit.LIMITER_NAME, "remaining_calls_at", f"{time.time():.0f}")
        # After a 429 the pool pause does the waiting; its "0 left" must not
        # also slow down the calls that follow it.
        self._remaining = None if resp.status_code == 429 else (remaining, time.monotonic())

    def _on_429(self, resp: requests.Response) -> float:
        """Pause the whole pool (invariant 5) and count it for `status`."""
        retry_after = ratelimit.parse_retry_after(resp.headers)
        metrics.RATE_LIMITED.labels("shipbob").inc()
        pause = ratelimit.pause_with_jitter(retry_after)
        self._coordinator.pause(ratelimit.LIMITER_NAME, pause)
        stats = self._coordinator.read(ratelimit.LIMITER_NAME)
        try:
            count = int(stats.get("rate_limited_count", "0")) + 1
        except ValueError:
            count = 1
        self._coordinator.record(ratelimit.LIMITER_NAME, "rate_limited_count", str(count))
        self._coordinator.record(ratelimit.LIMITER_NAME, "last_rate_limited_at", f"{time.time():.0f}")
        self._coordinator.record(ratelimit.LIMITER_NAME, "last_retry_after", f"{retry_after:g}")
        log.warning("shipbob: 429, pausing the pool for %.1fs", pause)
        return retry_after
