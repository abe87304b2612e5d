"""IFS IAM (Keycloak) client-credentials tokens (ifs-cloud.md §2, §11.2).

Tokens are opaque, JWT-shaped strings remembered with their expiry; a
missing, unknown or expired bearer token gets 401 on every projection call.
Client errors follow Keycloak: an unknown client is `invalid_client`, a
wrong secret `unauthorized_client`, both 401.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid

from sandbox.ifs.config import IfsSandboxConfig


def _b64url(data: dict | bytes) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TokenIssuer:
    def __init__(self, config: IfsSandboxConfig, lock: threading.RLock):
        self.config = config
        self.lock = lock
        self._expiry: dict[str, float] = {}
        self.issued = 0

    def issue(self, form: dict, basic: tuple[str, str] | None, issuer: str) -> tuple[int, dict]:
        """The token endpoint: (status, JSON body)."""
        client_id, secret = basic if basic else (form.get("client_id"), form.get("client_secret"))
        grant = form.get("grant_type")
        if not grant:
            return 400, {"error": "invalid_request", "error_description": "Missing form parameter: grant_type"}
        if grant != "client_credentials":
            return 400, {"error": "unsupported_grant_type",
                         "error_description": "Unsupported grant_type"}
        if client_id != self.config.client_id:
            return 401, {"error": "invalid_client",
                         "error_description": "Invalid client or Invalid client credentials"}
        if not secrets.compare_digest(str(secret or ""), self.config.client_secret):
            return 401, {"error": "unauthorized_client",
                         "error_description": "Invalid client or Invalid client credentials"}
        ttl = self.config.token_ttl_seconds
        now = time.time()
        scope = form.get("scope") or "openid microprofile-jwt"
        claims = {"exp": int(now + ttl), "iat": int(now), "jti": str(uuid.uuid4()), "iss": issuer,
                  "typ": "Bearer", "azp": client_id, "scope": scope,
                  "preferred_username": f"service-account-{client_id}"}
        token = ".".join([_b64url({"alg": "RS256", "typ": "JWT", "kid": "sandbox"}),
                          _b64url(claims), _b64url(secrets.token_bytes(32))])
        with self.lock:
            self._forget_expired(now)
            self._expiry[token] = now + ttl
            self.issued += 1
        return 200, {
            "access_token": token, "expires_in": ttl, "refresh_expires_in": 1800,
            "refresh_token": secrets.token_urlsafe(32), "token_type": "Bearer",
            "id_token": _b64url(secrets.token_bytes(48)), "not-before-policy": 0,
            "session_state": str(uuid.uuid4()), "scope": scope,
        }

    def valid(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return False
        with self.lock:
            expiry = self._expiry.get(token.strip())
        return expiry is not None and time.time() < expiry

    def expire_all(self) -> int:
        """Test hook: every issued token is expired from now on."""
        with self.lock:
            count = len(self._expiry)
            self._expiry.clear()
        return count

    def _forget_expired(self, now: float) -> None:
        for token in [t for t, expiry in self._expiry.items() if expiry <= now]:
            del self._expiry[token]
