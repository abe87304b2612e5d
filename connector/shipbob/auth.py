"""ShipBob credentials (shipbob.md §2, design invariants 6 and 8).

- PAT: one long-lived token; a 401 means it was revoked -> PermanentError.
- OAuth: the access token is cached pool-wide in the coordinator. A refresh
  is single-flight under a coordinator lock, and every refresh ROTATES the
  refresh token: the new one is saved durably (DB `kv`) before the new
  access token is used, or the pool would be locked out after a crash.
- A crash while ShipBob's answer is in flight loses the rotated token
  anyway (ShipBob retired the old one, nobody saw the new one). ShipBob then
  refuses every token we have (`invalid_grant`): that is recorded durably
  (fingerprints of the refused tokens), jobs wait (ReauthorisationNeeded,
  not a failure) without asking ShipBob again, and `ifs-shipbob auth
  shipbob` stores a new token, which ends the wait.

No token value ever reaches a log line or an exception message.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Protocol

import requests

from connector import metrics
from connector.coordination import Coordinator
from connector.errors import ConfigError, PermanentError, RateLimited, ReauthorisationNeeded, TransientError
from connector.json_types import JsonObject
from connector.shipbob.ratelimit import parse_retry_after

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connector.settings import Settings

log = logging.getLogger(__name__)

REFRESH_TOKEN_KEY = "shipbob.refresh_token"          # DB kv key
REFUSED_KEY = "shipbob.refresh_token.refused"         # DB kv: {"since", "fingerprints"}
ACCESS_TOKEN_CACHE_KEY = "shipbob.access_token"      # coordinator cache
UNSAVED_REFRESH_CACHE_KEY = "shipbob.refresh_token.unsaved"
REFRESH_LOCK = "shipbob-token-refresh"
# A rotated refresh token lives 30 days unused (§2); keep an unsaved one as long.
_UNSAVED_TTL = 30 * 24 * 3600.0

REAUTHORISE = ("re-authorise the app in ShipBob (OAuth consent with offline_access) "
               "and store the new refresh token with `ifs-shipbob auth shipbob`")


def fingerprint(token: str) -> str:
    """What is kept of a refused token: enough to recognise it, useless to anyone."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore(Protocol):
    """Durable home of the current (rotated) OAuth refresh token, and of the
    fingerprints of the tokens ShipBob refused since the last one saved."""

    def load(self) -> str | None: ...

    def save(self, refresh_token: str) -> None:
        """Store the token; a newly saved token ends any refusal state."""

    def refused(self) -> frozenset[str]: ...

    def refuse(self, fingerprints: set[str]) -> bool:
        """Record refused tokens; True when this starts the refusal state."""


class DbTokenStore:
    """The refresh token in the state database (`kv` key shipbob.refresh_token)."""

    def __init__(self, database_url: str, key: str = REFRESH_TOKEN_KEY):
        self.database_url = database_url
        self.key = key

    def load(self) -> str | None:
        from connector.db.models import KeyValue
        from connector.db.session import session_scope

        with session_scope(self.database_url) as session:
            row = session.get(KeyValue, self.key)
            return row.value if row is not None else None

    def save(self, refresh_token: str) -> None:
        from connector.db.models import KeyValue
        from connector.db.session import session_scope

        with session_scope(self.database_url) as session:
            row = session.get(KeyValue, self.key)
            if row is None:
                session.add(KeyValue(key=self.key, value=refresh_token))
            else:
                row.value = refresh_token
            refused = session.get(KeyValue, REFUSED_KEY)
            if refused is not None:
                session.delete(refused)

    def refused(self) -> frozenset[str]:
        from connector.db.session import session_scope

        with session_scope(self.database_url) as session:
            return frozenset(refusal_state(session).get("fingerprints", ()))

    def refuse(self, fingerprints: set[str]) -> bool:
        from connector import kv
        from connector.db.session import session_scope

        with session_scope(self.database_url) as session:
            state = refusal_state(session)
            known = set(state.get("fingerprints", ()))
            since = state.get("since") or datetime.now(timezone.utc).isoformat(timespec="seconds")
            kv.put(session, REFUSED_KEY, json.dumps(
                {"since": since, "fingerprints": sorted(known | fingerprints)}))
            return not state


def refusal_state(session: Session) -> JsonObject:
    """{"since": ISO time, "fingerprints": [...]} while ShipBob refuses every
    token we have (re-authorisation needed), else {}."""
    from connector import kv

    raw = kv.get(session, REFUSED_KEY)
    try:
        state = json.loads(raw) if raw else {}
    except ValueError:
        state = {}
    return state if isinstance(state, dict) else {}


class MemoryTokenStore:
    """In-memory store for tests and one-off scripts (not durable)."""

    def __init__(self, refresh_token: str | None = None):
        self.refresh_token = refresh_token
        self._refused: frozenset[str] = frozenset()

    def load(self) -> str | None:
        return self.refresh_token

    def save(self, refresh_token: str) -> None:
        self.refresh_token = refresh_token
        self._refused = frozenset()

    def refused(self) -> frozenset[str]:
        return self._refused

    def refuse(self, fingerprints: set[str]) -> bool:
        started = not self._refused
        self._refused = self._refused | fingerprints
        return started


class PatAuth:
    """Personal access token: never expires, never refreshed."""

    mode = "pat"

    def __init__(self, token: str):
        self._token = token

    def token(self) -> str:
        return self._token

    def handle_unauthorized(self, rejected: str) -> None:
        raise PermanentError(
            "ShipBob rejected the personal access token (401): create a new PAT "
            "(Dashboard > Integrations > API Tokens) and set SHIPBOB_TOKEN", status=401)


class OAuthAuth:
    """OAuth refresh-token flow with a pool-wide access token."""

    mode = "oauth"

    def __init__(self, settings: Settings, coordinator: Coordinator, store: TokenStore,
                 session: requests.Session):
        self._settings = settings
        self._coordinator = coordinator
        self._store = store
        self._session = session
        self._timeout = settings.http_timeout_seconds

    def token(self) -> str:
        cached = self._coordinator.cache_get(ACCESS_TOKEN_CACHE_KEY)
        if cached:
            metrics.SHIPBOB_REAUTHORISATION_NEEDED.set(0)
            return cached
        return self._refresh(rejected=None)

    def handle_unauthorized(self, rejected: str) -> None:
        """A 401 with `rejected`: refresh (once per call; the caller retries once)."""
        self._refresh(rejected=rejected)

    def _refresh(self, rejected: str | None) -> str:
        # Two token calls at most under the lock (DB token, then settings').
        hold = 2 * self._timeout + 10
        with self._coordinator.lock(REFRESH_LOCK, ttl=hold, wait=hold):
            # Another worker may have refreshed while we waited for the lock.
            current = self._coordinator.cache_get(ACCESS_TOKEN_CACHE_KEY)
            if current and current != rejected:
                return current
            self._save_unsaved()
            grant = self._grant()
            access = self.adopt(grant)
            log.info("shipbob oauth: access token refreshed (expires in %ss)", int(_expires_in(grant)))
            return access

    def adopt(self, grant: JsonObject) -> str:
        """Save the grant's refresh token (ending any refusal state) before
        its access token is cached pool-wide; returns the access token."""
        self._persist(grant)
        access = str(grant["access_token"])
        expires_in = _expires_in(grant)
        self._coordinator.cache_set(ACCESS_TOKEN_CACHE_KEY, access,
                                    ttl=expires_in - min(60.0, 0.1 * expires_in))
        metrics.SHIPBOB_REAUTHORISATION_NEEDED.set(0)
        return access

    def redeem(self, refresh_token: str) -> None:
        """Take a refresh token from a person (`ifs-shipbob auth shipbob`):
        one refresh grant with it under the pool's refresh lock, then adopt
        the answer. When ShipBob refuses it nothing is stored: a typo must
        not replace a token that works."""
        hold = self._timeout + 10
        with self._coordinator.lock(REFRESH_LOCK, ttl=hold, wait=hold):
            try:
                grant = self._post_refresh(refresh_token)
            except _InvalidGrant:
                raise PermanentError("ShipBob refused this refresh token (invalid_grant): authorise "
                                     "again and store the new one; nothing was stored", status=400) from None
            self.adopt({**grant, "refresh_token": grant.get("refresh_token") or refresh_token})

    def _grant(self) -> JsonObject:
        """POST the refresh grant with the DB token; if ShipBob refuses it and
        the settings hold a different one (an operator re-authorised), use that."""
        setting = self._settings.shipbob_refresh_token
        configured = setting.get_secret_value() if setting is not None else None
        stored = self._store.load()
        candidates = [t for t in dict.fromkeys([stored, configured]) if t]
        if not candidates:
            raise ConfigError("no ShipBob refresh token: " + REAUTHORISE)
        # A token ShipBob refused stays refused: asking again would only spend calls.
        refused = self._store.refused()
        live = [t for t in candidates if fingerprint(t) not in refused]
        for index, refresh_token in enumerate(live):
            try:
                return self._post_refresh(refresh_token)
            except _InvalidGrant:
                if index + 1 < len(live):
                    log.warning("shipbob oauth: stored refresh token refused; trying the configured one")
        if live and self._store.refuse({fingerprint(t) for t in live}):
            log.error("shipbob oauth: ShipBob refused every refresh token (invalid_grant); "
                      "jobs wait until one is stored: %s", REAUTHORISE)
        metrics.SHIPBOB_REAUTHORISATION_NEEDED.set(1)
        raise ReauthorisationNeeded()

    def _post_refresh(self, refresh_token: str) -> JsonObject:
        client_id, client_secret = self._settings.shipbob_oauth_client()
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
        }
        url = self._settings.effective_shipbob_token_url
        try:
            resp = self._session.post(url, data=form, timeout=self._timeout,
                                      headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise TransientError(f"ShipBob token refresh failed: {type(exc).__name__}") from None
        body = _json_or_none(resp)
        error = body.get("error") if isinstance(body, dict) else None
        if resp.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            return body
        if error == "invalid_grant":
            raise _InvalidGrant()
        if resp.status_code == 429:
            wait = parse_retry_after(resp.headers)
            raise RateLimited("ShipBob token endpoint rate-limited the refresh", retry_after=wait)
        if resp.status_code >= 500 or resp.status_code == 200:
            raise TransientError(f"ShipBob token refresh failed: HTTP {resp.status_code}")
        # invalid_client, unauthorized_client, ...: only the error code, never the form.
        code = error if isinstance(error, str) else f"HTTP {resp.status_code}"
        raise PermanentError(f"ShipBob token refresh refused ({code}): check SHIPBOB_CLIENT_ID "
                             f"and SHIPBOB_CLIENT_SECRET, or {REAUTHORISE}",
                             status=resp.status_code, body={"error": code})

    def _persist(self, grant: JsonObject) -> None:
        """Save the rotated refresh token before its access token is used."""
        rotated = grant.get("refresh_token")
        if not rotated:
            return
        try:
            self._store.save(rotated)
        except Exception as exc:  # noqa: BLE001 - any store failure, DB or otherwise
            # The old token is already spent: keep the new one pool-wide so
            # the next refresh can save it, and retry the work later.
            self._coordinator.cache_set(UNSAVED_REFRESH_CACHE_KEY, rotated, ttl=_UNSAVED_TTL)
            raise TransientError(
                f"could not save the rotated ShipBob refresh token ({type(exc).__name__}); "
                "kept it in the coordinator until it can be saved") from None

    def _save_unsaved(self) -> None:
        unsaved = self._coordinator.cache_get(UNSAVED_REFRESH_CACHE_KEY)
        if unsaved:
            self._persist({"refresh_token": unsaved})
            self._coordinator.cache_delete(UNSAVED_REFRESH_CACHE_KEY)


class _InvalidGrant(Exception):
    pass


def _expires_in(grant: JsonObject) -> float:
    try:
        return max(1.0, float(grant.get("expires_in") or 3600))
    except (TypeError, ValueError):
        return 3600.0


def _json_or_none(resp: requests.Response) -> object:
    try:
        return resp.json()
    except ValueError:
        return None


def build_auth(settings: Settings, coordinator: Coordinator, token_store: TokenStore | None,
               session: requests.Session) -> PatAuth | OAuthAuth:
    """OAuth when a refresh token is configured (§2), else the PAT."""
    if settings.uses_shipbob_oauth:
        store = token_store or DbTokenStore(settings.database_url)
        return OAuthAuth(settings, coordinator, store, session)
    if settings.shipbob_token is not None:
        return PatAuth(settings.shipbob_token.get_secret_value())
    raise ConfigError("no ShipBob credentials: set SHIPBOB_TOKEN (PAT) or "
                      "SHIPBOB_CLIENT_ID, SHIPBOB_CLIENT_SECRET and SHIPBOB_REFRESH_TOKEN")
