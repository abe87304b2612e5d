"""IFS access tokens: OAuth2 client credentials against IFS IAM (Keycloak),
one token shared by the whole worker pool (design.md invariant 6).

- ifs-cloud.md §2: POST form `grant_type=client_credentials, client_id,
  client_secret, scope`; tokens are short-lived (expires_in 180 in IFS's
  sample); renew early; simply request a new token rather than refreshing;
  on a 401 retry once with a new token.
- The token lives in the Coordinator cache (Redis for a pool), under a key
  holding the client id and a hash of the token URL, client id and secret. Refreshes are single-flight under a Coordinator lock
  and re-check the cache once the lock is held, so N workers whose token
  ran out together fetch one new token, not N.
- Nothing here ever puts the token or the secret in a message or a log line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import requests

from connector.errors import RateLimited, TransientError
from connector.ifs.errors import IfsAuthError, retry_after_seconds

if TYPE_CHECKING:
    from connector.coordination import Coordinator
    from connector.settings import Settings

log = logging.getLogger(__name__)

EARLY_REFRESH_SECONDS = 60.0
DEFAULT_EXPIRES_IN = 60.0  # when the IAM omits expires_in: assume short


def refresh_after(expires_in: float) -> float:
    """Seconds after issue at which a token is renewed: 60 s before expiry,
    or at 2/3 of its lifetime when that comes later (short lifetimes)."""
    return max(expires_in - EARLY_REFRESH_SECONDS, expires_in * 2.0 / 3.0)


@dataclass(frozen=True)
class CachedToken:
    access_token: str
    refresh_at: float  # wall clock (time.time()): shared between hosts via the cache
    expires_at: float

    def to_json(self) -> str:
        return json.dumps({"t": self.access_token, "r": self.refresh_at, "e": self.expires_at})

    @classmethod
    def from_json(cls, raw: str | None) -> "CachedToken | None":
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return cls(str(data["t"]), float(data["r"]), float(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None

    def __repr__(self) -> str:  # keep the token out of tracebacks and logs
        return f"CachedToken(refresh_at={self.refresh_at:.0f}, expires_at={self.expires_at:.0f})"


class IfsTokenProvider:
    """`token()` returns a valid bearer token; `invalidate(token)` after a 401."""

    def __init__(self, settings: Settings, coordinator: Coordinator, session: requests.Session | None = None,
                 clock: Callable[[], float] = time.time):
        self._url = settings.effective_ifs_token_url
        self._client_id = settings.ifs_client_id
        self._secret = settings.ifs_client_secret
        self._scope = settings.ifs_scope
        self._timeout = settings.http_timeout_seconds
        self._coordinator = coordinator
        self._session = session or requests.Session()
        self._clock = clock
        # The cache key names the client id; the token URL hash keeps two
        # tenants (or realms) with the same client id apart, and the hash of
        # the secret makes a changed secret fetch its own token instead of
        # reusing one granted to the old secret. The coordinator adds the
        # deployment's Redis prefix.
        tenant = hashlib.sha256(self._url.encode()).hexdigest()[:12]
        secret = hashlib.sha256(f"{self._url}\0{self._client_id}\0{self._secret.get_secret_value()}"
                                .encode()).hexdigest()[:16]
        self.cache_key = f"ifs:token:{self._client_id}:{tenant}:{secret}"
        self._lock_name = f"ifs:token-refresh:{self._client_id}:{tenant}"
        self._local: CachedToken | None = None  # saves a cache round trip per request
        self._local_mutex = threading.Lock()

    # ----------------------------------------------------------------- public

    def token(self) -> str:
        now = self._clock()
        with self._local_mutex:
            local = self._local
        if local and now < local.refresh_at:
            return local.access_token
        cached = CachedToken.from_json(self._coordinator.cache_get(self.cache_key))
        if cached and now < cached.refresh_at:
            self._remember(cached)
            return cached.access_token
        return self._refresh()

    def fresh_token(self) -> str:
        """A token from a new grant, the cache neither read nor written: proof
        that the configured client id and secret work now (`doctor`)."""
        return self._fetch().access_token

    def invalidate(self, token: str | None = None) -> None:
        """Forget `token` (the one a 401 came back for). The next `token()`
        fetches a new one - unless another worker already replaced it."""
        with self._local_mutex:
            if token is None or (self._local and self._local.access_token == token):
                self._local = None
        cached = CachedToken.from_json(self._coordinator.cache_get(self.cache_key))
        if cached and (token is None or cached.access_token == token):
            self._coordinator.cache_delete(self.cache_key)

    # ---------------------------------------------------------------- private

    def _remember(self, cached: CachedToken) -> None:
        with self._local_mutex:
            self._local = cached

    def _refresh(self) -> str:
        # Single flight: whoever gets the lock fetches; the others find the
        # new token in the cache when they get the lock in turn.
        with self._coordinator.lock(self._lock_name, ttl=self._timeout + 10, wait=self._timeout + 10):
            now = self._clock()
            cached = CachedToken.from_json(self._coordinator.cache_get(self.cache_key))
            if cached and now < cached.refresh_at:
                self._remember(cached)
                return cached.access_token
            try:
                fresh = self._fetch()
            except TransientError:
                # Renewing early is a courtesy: while the old token is still
                # valid, an IAM hiccup must not stop the pool.
                if cached and self._clock() < cached.expires_at - 5:
                    log.warning("IFS token renewal failed; using the current token until it expires")
                    return cached.access_token
                raise
            ttl = max(1.0, fresh.expires_at - self._clock())
            self._coordinator.cache_set(self.cache_key, fresh.to_json(), ttl)
            self._remember(fresh)
            return fresh.access_token

    def _fetch(self) -> CachedToken:
        """One client-credentials grant (§2). Errors name the endpoint and the
        IAM's error code only: never the secret, never a token."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._secret.get_secret_value(),
            "scope": self._scope,
        }
        issued = self._clock()
        try:
            response = self._session.post(
                self._url, data=form, timeout=self._timeout,
                headers={"Accept": "application/json"},
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"IFS token endpoint {self._url} unreachable: {type(exc).__name__}") from None
        except requests.RequestException as exc:
            raise TransientError(f"IFS token request failed: {type(exc).__name__}") from None
        status = response.status_code
        if status == 429:
            raise RateLimited(f"IFS token endpoint {self._url} -> HTTP 429",
                              retry_after=retry_after_seconds(response))
        if status >= 500:
            raise TransientError(f"IFS token endpoint {self._url} -> HTTP {status}",
                                 retry_after=retry_after_seconds(response))
        if status != 200:
            raise IfsAuthError(
                f"IFS token endpoint {self._url} refused client {self._client_id!r}: "
                f"HTTP {status} {_oauth_error(response)}", status=status, code=_oauth_code(response))
        try:
            data = response.json()
            access_token = data["access_token"]
        except (ValueError, KeyError, TypeError):
            raise TransientError(f"IFS token endpoint {self._url} returned no access_token") from None
        if not isinstance(access_token, str) or not access_token:
            raise TransientError(f"IFS token endpoint {self._url} returned an empty access_token")
        try:
            expires_in = float(data.get("expires_in") or DEFAULT_EXPIRES_IN)
        except (TypeError, ValueError):
            expires_in = DEFAULT_EXPIRES_IN
        log.info("IFS token issued", extra={"client_id": self._client_id, "expires_in": expires_in})
        return CachedToken(access_token, issued + refresh_after(expires_in), issued + expires_in)


def _oauth_code(response: requests.Response) -> str | None:
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    return str(code)[:100] if code else None


def _oauth_error(response: requests.Response) -> str:
    """`error: error_description` from an OAuth error body (RFC 6749 §5.2)."""
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    parts = [str(data.get(k))[:200] for k in ("error", "error_description") if data.get(k)]
    return ": ".join(parts)
