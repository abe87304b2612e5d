"""The operations console: a small server-rendered app at /console/ on the
receiver, registered only when CONSOLE_USERS is set.

Read-only users see counts, attention groups and timelines; operators also
replay, resolve and ignore, per item or per group, each action audited
(connector.operator_actions) and a replay's wake-up published after commit
as the CLI does (the sweeper publishes it if the broker is down)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from pydantic import SecretStr
from werkzeug.wrappers import Response

from connector import operator_actions
from connector.db.models import JobState
from connector.db.session import session_scope
from connector.items import related_items
from connector.settings import Settings
from webhooks.console import auth, data

log = logging.getLogger(__name__)
NOTE_LIMIT = 2000
ROWS_PER_GROUP = 25  # a group of thousands lists its first rows; its buttons cover all
ACTIONS = (operator_actions.REPLAY, operator_actions.RESOLVE, operator_actions.IGNORE)


def _default_wake(job_id: int, flow: str, key: str) -> None:
    from workers import dispatch  # builds a Celery app: only when a replay needs it

    dispatch.wake_job(job_id, flow, key)


def _secret_values(settings: Settings) -> list[str]:
    values = [v.get_secret_value() for v in settings.model_dump().values() if isinstance(v, SecretStr)]
    return [v for v in values if v]


def console_blueprint(settings: Settings, wake: Callable[[int, str], None] | None = None) -> Blueprint:
    wake = wake or _default_wake
    users = settings.console_users
    secrets = _secret_values(settings)
    db_url = settings.database_url
    bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")

    @bp.record_once
    def _configure(state) -> None:
        assert settings.console_secret_key is not None  # the settings validate this
        state.app.secret_key = settings.console_secret_key.get_secret_value()
        state.app.config.update(SESSION_COOKIE_NAME="console_session", SESSION_COOKIE_PATH="/console",
                                SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                                SESSION_COOKIE_SECURE=settings.console_cookie_secure,
                                PERMANENT_SESSION_LIFETIME=timedelta(seconds=auth.SESSION_MAX_AGE))

    @bp.context_processor
    def _globals() -> dict:
        return {"csrf_token": auth.csrf_token, "user": auth.current_user(), "role": session.get("role"),
                "is_operator": session.get("role") == auth.OPERATOR, "when": data.when}

    @bp.after_request
    def _headers(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
        return response

    @bp.before_request
    def _csrf() -> None:
        if request.method == "POST":
            auth.check_csrf()

    @bp.errorhandler(403)
    def _forbidden(error) -> tuple[str, int]:
        return render_template("console/error.html", message=error.description), 403

    @bp.route("/login", methods=["GET", "POST"])
    def login():
        error = None
        if request.method == "POST":
            name = request.form.get("username", "")
            user = auth.authenticate(users, name, request.form.get("password", ""))
            if user is not None:
                auth.start_session(name, user.role)
                log.info("console login", extra={"console_user": name, "role": user.role})
                target = request.args.get("next") or ""
                # Only a path of this console: never an open redirect.
                if not target.startswith("/console/") or target.startswith("//"):
                    target = url_for("console.home")
                return redirect(target)
            error = "wrong username or password"
        return render_template("console/login.html", error=error), 401 if error else 200

    @bp.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("console.login"))

    @bp.get("/")
    @auth.login_required
    def home():
        with session_scope(db_url) as s:
            return render_template("console/home.html", counts=data.counts(s),
                                   groups=data.attention_groups(s, JobState.ATTENTION),
                                   failed=data.attention_groups(s, JobState.FAILED),
                                   rows_per_group=ROWS_PER_GROUP)

    @bp.get("/search")
    @auth.login_required
    def search():
        ref = request.args.get("q", "").strip()
        if not ref:
            return redirect(url_for("console.home"))
        with session_scope(db_url) as s:
            if related_items(s, ref):
                return redirect(url_for("console.order", ref=ref))
        return render_template("console/search.html", ref=ref), 404

    @bp.get("/order/<path:ref>")
    @auth.login_required
    def order(ref: str):
        with session_scope(db_url) as s:
            items, entries, audit = data.timeline(s, ref, secrets)
            if not items:
                return render_template("console/search.html", ref=ref), 404
            return render_template("console/order.html", ref=ref, items=items, entries=entries, audit=audit)

    def _note() -> str:
        note = request.form.get("note", "").strip()
        if len(note) > NOTE_LIMIT:
            abort(400, f"the note is longer than {NOTE_LIMIT} characters")
        return note

    def _act(action: str, job_ids: list[int], note: str) -> None:
        who = auth.current_user() or "?"
        if action != operator_actions.REPLAY and not note:
            flash(f"{action}: say why in the note (nothing was changed)", "error")
            return
        with session_scope(db_url) as s:
            if action == operator_actions.REPLAY:
                woken = operator_actions.replay(s, job_ids, who, note)
                changed = [jid for jid, _, _ in woken]
            else:
                woken = []
                changed = operator_actions.close(s, job_ids, action, who, note)
        unqueued = []
        for job_id, flow, key in woken:  # after commit: the row is due before its wake-up
            try:
                wake(job_id, flow, key)
            except Exception:  # noqa: BLE001 - broker down: due rows are the sweeper's
                log.warning("console replay: wake-up not published; the sweeper will", extra={"job_id": job_id})
                unqueued.append(job_id)
        log.info("console action", extra={"console_user": who, "action": action, "job_ids": changed})
        skipped = len(job_ids) - len(changed)
        message = f"{action}: {len(changed)} item(s)" + (f", {skipped} skipped (state changed)" if skipped else "")
        if unqueued:
            message += "; broker unreachable, the sweeper will queue them"
        flash(message, "ok" if changed else "error")

    def _back(fallback: str) -> Response:
        target = request.form.get("back", "")
        return redirect(target if target.startswith("/console/") and not target.startswith("//") else fallback)

    @bp.post("/items/<int:job_id>/<action>")
    @auth.operator_required
    def item_action(job_id: int, action: str):
        if action not in ACTIONS:
            abort(404)
        _act(action, [job_id], _note())
        return _back(url_for("console.home"))

    @bp.post("/groups/<group_id>/<action>")
    @auth.operator_required
    def group_action(group_id: str, action: str):
        if action not in ACTIONS:
            abort(404)
        note = _note()
        # Only the items the operator saw on the page and that are still in the group.
        shown = {int(i) for i in request.form.getlist("ids") if i.isdigit()}
        with session_scope(db_url) as s:
            group = data.find_group(s, group_id)
            ids = [job.id for job in group.items if job.id in shown] if group else []
        if not ids:
            flash(f"{action}: the group has changed or is empty; nothing was done", "error")
        else:
            _act(action, ids, note)
        return _back(url_for("console.home"))

    return bp


__all__ = ["console_blueprint"]
