"""Console login, roles and CSRF.

Users come from CONSOLE_USERS (werkzeug password hashes, never passwords).
The session is Flask's signed cookie (HttpOnly, SameSite=Strict, Secure
unless CONSOLE_COOKIE_SECURE=false) holding the user, the role, the login
time and a per-session CSRF token that every POST must echo (compared in
constant time)."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from functools import wraps

from flask import abort, redirect, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from connector.settings import ConsoleUser

OPERATOR = "operator"
READ_ONLY = "read-only"
SESSION_MAX_AGE = 12 * 3600
# Checked when the user is unknown, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


def authenticate(users: dict[str, ConsoleUser], name: str, password: str) -> ConsoleUser | None:
    user = users.get(name)
    stored = user.password_hash.get_secret_value() if user else _DUMMY_HASH
    try:
        ok = check_password_hash(stored, password)
    except (ValueError, TypeError):  # a malformed hash in the settings: no login
        ok = False
    return user if ok and user else None


def start_session(name: str, role: str) -> None:
    session.clear()  # a new token and nothing left from before the login
    session.update(user=name, role=role, since=time.time(), csrf=secrets.token_urlsafe(32))


def csrf_token() -> str:
    """The session's token, created for the login form before anyone logs in."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(403, "missing or wrong CSRF token: reload the page and try again")


def current_user() -> str | None:
    since = session.get("since")
    if not session.get("user") or not isinstance(since, (int, float)) or time.time() - since > SESSION_MAX_AGE:
        return None
    return session["user"]


def login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None))
        return view(*args, **kwargs)
    return wrapper


def operator_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("console.login"))
        if session.get("role") != OPERATOR:
            abort(403, "this needs the operator role")
        return view(*args, **kwargs)
    return wrapper
