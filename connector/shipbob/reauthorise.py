"""Storing a new ShipBob refresh token (`ifs-shipbob auth shipbob`).

After a lockout (ShipBob refuses every token we have) recovery is one step:
store a new token, from an authorisation code (the OAuth consent's result,
exchanged with PKCE, shipbob.md §2) or pasted. Storing it ends the refusal
state and wakes every job that waited for it; none has to be replayed.
"""

from __future__ import annotations

import logging

import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector import jobs, metrics
from connector.context import Context
from connector.db.models import Job, JobState
from connector.errors import SHIPBOB_AUTHORISATION, PermanentError, TransientError
from connector.json_types import JsonObject
from connector.shipbob.auth import DbTokenStore, OAuthAuth, refusal_state

log = logging.getLogger(__name__)


def exchange_code(ctx: Context, code: str, redirect_uri: str, code_verifier: str) -> JsonObject:
    """POST the authorization-code grant; the answer holds the first
    access token and (with `offline_access`) a refresh token."""
    settings = ctx.settings
    client_id, client_secret = settings.shipbob_oauth_client()
    form = {
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "code_verifier": code_verifier, "client_id": client_id, "client_secret": client_secret,
    }
    try:
        resp = requests.post(settings.effective_shipbob_token_url, data=form,
                             timeout=settings.http_timeout_seconds, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise TransientError(f"ShipBob token endpoint unreachable: {type(exc).__name__}") from None
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
        if not body.get("refresh_token"):
            raise PermanentError("ShipBob issued no refresh token: authorise with the "
                                 "`offline_access` scope", status=200)
        return body
    error = body.get("error") if isinstance(body, dict) else None
    # Only the error code: never the form (it holds the secret and the code).
    raise PermanentError(f"ShipBob refused the authorisation code ({error or f'HTTP {resp.status_code}'}): "
                         "codes live 2 minutes and work once; the redirect URI and code "
                         "verifier must be the ones used to authorise", status=resp.status_code)


def store_grant(ctx: Context, grant: JsonObject) -> list[tuple[int, str, str]]:
    """Save the grant's refresh token and cache its access token; returns the
    woken jobs (id, flow, key) for the caller to dispatch."""
    _auth(ctx).adopt(grant)
    return _resume(ctx)


def store_refresh_token(ctx: Context, refresh_token: str) -> list[tuple[int, str, str]]:
    """Prove a pasted refresh token with one refresh (ShipBob rotates it)
    and store the rotated one; raises PermanentError, storing nothing, when
    ShipBob refuses it. Returns the woken jobs (id, flow, key)."""
    _auth(ctx).redeem(refresh_token)
    return _resume(ctx)


def _auth(ctx: Context) -> OAuthAuth:
    settings = ctx.settings
    settings.shipbob_oauth_client()  # configured, or a clear error now
    return OAuthAuth(settings, ctx.coordinator, DbTokenStore(settings.database_url), requests.Session())


def _resume(ctx: Context) -> list[tuple[int, str, str]]:
    metrics.SHIPBOB_REAUTHORISATION_NEEDED.set(0)
    with ctx.session() as session:
        woken = jobs.wake_waiting(session, *SHIPBOB_AUTHORISATION)
    log.warning("shipbob oauth: new refresh token stored; %d waiting job(s) resume", len(woken))
    return woken


def oauth_status(session: Session) -> JsonObject:
    """For `status`: since when re-authorisation is needed (None when it is
    not) and how many items wait for it."""
    since = refusal_state(session).get("since")
    waiting = session.execute(select(func.count()).select_from(Job).where(
        Job.state == JobState.PENDING.value,
        Job.waits_for == jobs._job_ref(*SHIPBOB_AUTHORISATION))).scalar_one()
    return {"reauthorisation_needed_since": since, "waiting_items": waiting}
