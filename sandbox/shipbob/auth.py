"""Who is calling: a PAT, or an OAuth access token (shipbob.md §2).

- A PAT never expires.
- OAuth has only the authorization-code grant with PKCE S256 (`client_secret` still
  required) and refresh_token. Access tokens live `access_token_ttl_seconds`.
- Every refresh returns a new refresh token and retires the old one: reusing it is
  400 {"error":"invalid_grant"}. A refresh token is issued only with `offline_access`.
- The rate-limit identity is the user and application, not the token: a refreshed token
  keeps counting in the same window (shipbob.md §7).

`/connect/token` and `/connect/authorize` live at the root because the real ones are on
another host (auth.shipbob.com); the stand-in serves both hosts at once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Blueprint, redirect, request

from .config import DEFAULT_SCOPES
from .web import world

bp = Blueprint("oauth", __name__)

VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


@dataclass(frozen=True)
class Identity:
    kind: str  # "pat" | "oauth"
    client_id: str | None
    user_id: int

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.client_id or '-'}:{self.user_id}"


@dataclass
class Grant:
    client_id: str
    scope: str
    expires_at: float | None = None  # access tokens and codes only
    redirect_uri: str | None = None  # codes only
    challenge: str | None = None     # codes only


class OAuthError(Exception):
    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


class Tokens:
    def __init__(self, config):
        self._config = config
        self._lock = threading.Lock()
        self._access: dict[str, Grant] = {}
        self._refresh = {config.initial_refresh_token:
                         Grant(config.oauth_client_id, " ".join(DEFAULT_SCOPES))}
        self._codes: dict[str, Grant] = {}

    def identify(self, authorization: str | None) -> tuple[Identity | None, str | None]:
        """(identity, None), or (None, why not) for the WWW-Authenticate header."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, None
        token = token.strip()
        if secrets.compare_digest(token.encode(), self._config.pat.encode()):
            return Identity("pat", None, self._config.user_id), None
        with self._lock:
            grant = self._access.get(token)
        if grant is None:
            return None, "The access token is invalid"
        if grant.expires_at <= time.time():
            return None, "The access token expired"
        return Identity("oauth", grant.client_id, self._config.user_id), None

    def mint_code(self, client_id: str, redirect_uri: str, challenge: str, scope: str) -> str:
        code = "sbx_code_" + secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = Grant(client_id, scope,
                                      time.time() + self._config.auth_code_ttl_seconds,
                                      redirect_uri, challenge)
        return code

    def expire_all(self) -> None:
        with self._lock:
            for grant in self._access.values():
                grant.expires_at = 0.0

    def token(self, form) -> dict:
        """Handle a /connect/token form; raises OAuthError."""
        if form.get("client_id") != self._config.oauth_client_id or not secrets.compare_digest(
                form.get("client_secret", "").encode(), self._config.oauth_client_secret.encode()):
            raise OAuthError("invalid_client")
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "refresh_token":
                grant = self._refresh.pop(form.get("refresh_token", ""), None)
                if grant is None or grant.client_id != form["client_id"]:
                    raise OAuthError("invalid_grant")
            elif grant_type == "authorization_code":
                grant = self._codes.pop(form.get("code", ""), None)  # a code works once
                verifier = form.get("code_verifier", "")
                if (grant is None or grant.expires_at <= time.time()
                        or grant.client_id != form["client_id"]
                        or grant.redirect_uri != form.get("redirect_uri")
                        or not VERIFIER.match(verifier)
                        or not secrets.compare_digest(s256(verifier).encode(), grant.challenge.encode())):
                    raise OAuthError("invalid_grant")
            else:
                raise OAuthError("unsupported_grant_type")
            return self._issue(grant)

    def _issue(self, grant: Grant) -> dict:  # holds _lock
        ttl = self._config.access_token_ttl_seconds
        access = "sbx_at_" + secrets.token_urlsafe(32)
        self._access[access] = Grant(grant.client_id, grant.scope, time.time() + ttl)
        body = {"id_token": _id_token(self._config.user_id, grant.client_id),
                "access_token": access, "expires_in": int(ttl) if ttl == int(ttl) else ttl,
                "token_type": "Bearer", "scope": grant.scope}
        if "offline_access" in grant.scope.split():
            refresh = "sbx_rt_" + secrets.token_urlsafe(32)
            self._refresh[refresh] = Grant(grant.client_id, grant.scope)
            body["refresh_token"] = refresh
        return body


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _id_token(user_id: int, client_id: str) -> str:
    """An unsigned JWT-shaped token: nobody should rely on verifying it against a sandbox."""
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return ".".join([part({"alg": "none", "typ": "JWT"}),
                     part({"sub": str(user_id), "aud": client_id, "iat": int(time.time())}), ""])


@bp.post("/connect/token")
def token():
    if not request.mimetype == "application/x-www-form-urlencoded":
        return {"error": "invalid_request"}, 400
    try:
        return world().tokens.token(request.form), 200, {"Cache-Control": "no-store"}
    except OAuthError as exc:
        return {"error": exc.error}, 400


@bp.get("/connect/authorize")
def authorize():
    """Consent is given at once; the code comes back in the URI fragment (shipbob.md §2)."""
    args = request.args
    redirect_uri = args.get("redirect_uri")
    if args.get("client_id") != world().config.oauth_client_id or not redirect_uri:
        return {"error": "invalid_client"}, 400
    if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
        fragment = {"error": "invalid_request", "state": args.get("state", "")}
    else:
        scope = args.get("scope", "")
        code = world().tokens.mint_code(args["client_id"], redirect_uri, args["code_challenge"], scope)
        fragment = {"code": code, "scope": scope, "state": args.get("state", ""),
                    "id_token": _id_token(world().config.user_id, args["client_id"])}
    return redirect(f"{redirect_uri}#{urlencode(fragment)}", 302)
