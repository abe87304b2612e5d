"""The operations console through Flask's test client against real
PostgreSQL: off unless configured, login, CSRF, per-group actions acting
only on what the operator saw, the wake-up after commit, redaction.
(The browser test, tests/e2e/test_console_browser.py, runs it for real.)"""

from __future__ import annotations

import json
import re

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from connector.db.models import Binding, Job, JobState, OperatorAction, WebhookEvent
from connector.errors import ConfigError
from connector.settings import load_settings
from tests.conftest import WEBHOOK_SECRET
from webhooks.app import create_app
from webhooks.console import console_blueprint
from webhooks.console.data import reason_pattern

KEY = "s" * 40
PASSWORDS = {"ann": "ann-pw", "rob": "rob-pw"}
USERS = {"ann": {"role": "operator", "password_hash": generate_password_hash("ann-pw")},
         "rob": {"role": "read-only", "password_hash": generate_password_hash("rob-pw")}}


@pytest.fixture
def console_settings(settings):
    configured = load_settings(console_users=USERS, console_secret_key=KEY, console_cookie_secure=False)
    names = ("console_users", "console_secret_key", "console_cookie_secure")
    return settings.model_copy(update={name: getattr(configured, name) for name in names})


class Wakes:
    """The console's wake-up in tests: records (id, flow) and checks the row
    is committed and due when its wake-up goes out."""

    def __init__(self, ctx, fail: bool = False):
        self.ctx, self.fail, self.sent = ctx, fail, []

    def __call__(self, job_id: int, flow: str, key: str) -> None:
        with self.ctx.session() as session:
            job = session.get(Job, job_id)
            assert job.state == JobState.PENDING.value, "woken before commit"
            assert job.key == key
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append((job_id, flow))


def console(settings, wake) -> Flask:
    app = Flask(__name__)
    app.register_blueprint(console_blueprint(settings, wake=wake))
    return app


def park(ctx, key: str, reason: str, **refs) -> int:
    with ctx.session() as session:
        job = Job(flow="order_push", key=key, state=JobState.ATTENTION.value, reason=reason, ifs_ref=key, **refs)
        session.add(job)
        session.flush()
        return job.id


def logged_in(app, name: str):
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/console/login", data={"username": name, "password": PASSWORDS[name], "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/").get_data(as_text=True)).group(1)
    return client, token


def test_the_console_is_off_unless_users_are_configured(settings, console_settings):
    off = create_app(settings, enqueue=lambda _: None, broker_check=lambda: None).test_client()
    assert off.get("/console/").status_code == 404
    on = create_app(console_settings, enqueue=lambda _: None, broker_check=lambda: None).test_client()
    answer = on.get("/console/")
    assert answer.status_code == 302 and "/console/login" in answer.headers["Location"]


def test_users_need_a_long_secret_key_and_valid_json(monkeypatch):
    monkeypatch.setenv("CONSOLE_USERS", "")  # docker compose passes it empty: the console is off
    assert load_settings().console_users == {}
    monkeypatch.setenv("CONSOLE_USERS", "alice:operator")
    with pytest.raises(ConfigError, match="CONSOLE_USERS: .*expected JSON"):
        load_settings()
    monkeypatch.delenv("CONSOLE_USERS")
    with pytest.raises(ConfigError, match="CONSOLE_SECRET_KEY"):
        load_settings(console_users=USERS)
    with pytest.raises(ConfigError, match="CONSOLE_SECRET_KEY"):
        load_settings(console_users=USERS, console_secret_key="short")
    with pytest.raises(ConfigError, match="CONSOLE_USERS"):
        load_settings(console_users={"x": {"role": "admin", "password_hash": "h"}}, console_secret_key=KEY)


def test_login_refuses_wrong_passwords_posts_without_token_and_foreign_redirects(console_settings, ctx):
    client = console(console_settings, Wakes(ctx)).test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/console/login", data={"username": "ann", "password": "ann-pw"}).status_code == 403
    wrong = client.post("/console/login", data={"username": "ann", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "wrong username or password" in wrong.get_data(as_text=True)
    unknown = client.post("/console/login", data={"username": "eve", "password": "x", "csrf_token": token})
    assert unknown.status_code == 401
    ok = client.post("/console/login?next=//evil.example/x",
                     data={"username": "ann", "password": "ann-pw", "csrf_token": token})
    assert ok.headers["Location"] == "/console/"
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie


def test_a_group_action_touches_only_the_items_shown_and_audits_each(console_settings, ctx):
    ids = [park(ctx, f"C{n}", f"line {n}/1 SKU 'P00033' is unknown at ShipBob") for n in (1, 2, 3)]
    other = park(ctx, "C9", "ship-via 'CAMEL' has no ShipBob shipping method in the mapping")
    client, token = logged_in(console(console_settings, Wakes(ctx)), "ann")
    page = client.get("/console/").get_data(as_text=True)
    assert "SKU P00033 blocks 3 orders" in page
    group = re.search(r'id="group-([0-9a-f]{16})"', page).group(1)
    # the page showed items 1 and 2 only (3 arrived later): 3 stays parked
    answer = client.post(f"/console/groups/{group}/resolve", data={
        "csrf_token": token, "note": "fixed by hand", "ids": [str(ids[0]), str(ids[1]), str(other)]})
    assert answer.status_code == 302
    with ctx.session() as session:
        states = {j.id: (j.state, j.resolved_by) for j in session.execute(select(Job)).scalars()}
        audit = session.execute(select(OperatorAction.job_id, OperatorAction.action, OperatorAction.actor,
                                       OperatorAction.note).order_by(OperatorAction.job_id)).all()
    assert states == {ids[0]: ("resolved", "ann"), ids[1]: ("resolved", "ann"), ids[2]: ("attention", None),
                      other: ("attention", None)}
    assert [tuple(a) for a in audit] == [(ids[0], "resolve", "ann", "fixed by hand"),
                                        (ids[1], "resolve", "ann", "fixed by hand")]
    # resolve and ignore need a note; nothing changes without one
    client.post(f"/console/items/{ids[2]}/ignore", data={"csrf_token": token, "note": " "})
    with ctx.session() as session:
        assert session.get(Job, ids[2]).state == JobState.ATTENTION.value


def test_a_replay_is_woken_after_commit_and_the_sweeper_covers_a_broker_outage(console_settings, ctx):
    job_id = park(ctx, "C1", "SKU 'X' is unknown at ShipBob")
    wakes = Wakes(ctx)
    client, token = logged_in(console(console_settings, wakes), "ann")
    client.post(f"/console/items/{job_id}/replay", data={"csrf_token": token, "note": "retry"})
    assert wakes.sent == [(job_id, "order_push")]

    down = Wakes(ctx, fail=True)
    client, token = logged_in(console(console_settings, down), "ann")
    answer = client.post(f"/console/items/{job_id}/replay", data={"csrf_token": token}, follow_redirects=True)
    assert "the sweeper will queue" in answer.get_data(as_text=True)
    with ctx.session() as session:
        assert session.get(Job, job_id).state == JobState.PENDING.value
        assert len(session.execute(select(OperatorAction)).all()) == 2


def test_read_only_users_are_refused_every_action(console_settings, ctx):
    job_id = park(ctx, "C1", "SKU 'X' is unknown at ShipBob")
    wakes = Wakes(ctx)
    client, token = logged_in(console(console_settings, wakes), "rob")
    for action in ("replay", "resolve", "ignore"):
        assert client.post(f"/console/items/{job_id}/{action}", data={"csrf_token": token, "note": "n"}).status_code == 403
    assert wakes.sent == []
    with ctx.session() as session:
        assert session.get(Job, job_id).state == JobState.ATTENTION.value


def test_the_timeline_shows_the_webhook_that_woke_an_item_with_secrets_masked(console_settings, ctx):
    body = {"id": 777, "reference_id": "C5", "token": "tok-123", "note": f"signed {WEBHOOK_SECRET}"}
    with ctx.session() as session:
        session.add(WebhookEvent(webhook_id="wh-1", topic="order.shipped", body=json.dumps(body), outcome="job"))
        session.add(Job(flow="shipment_voucher", key="777", state="done", shipbob_refs=["777"],
                        payload={"webhook_id": "wh-1"}))
        session.add(Job(flow="order_push", key="C5", state="done", ifs_ref="C5", shipbob_refs=["777"]))
        session.add(Binding(kind="shipment", ifs_key="V-31", shipbob_id="SH-9",
                            data={"order_no": "C5", "order_id": "777"}))
    client, _ = logged_in(console(console_settings, Wakes(ctx)), "rob")
    page = client.get("/console/order/C5").get_data(as_text=True)
    assert "shipment_voucher" in page and "webhook order.shipped" in page and "reference_id" in page
    assert "tok-123" not in page and WEBHOOK_SECRET not in page and "***" in page
    # a shipment id (known only to the shipment's binding) finds the same order
    found = client.get("/console/search?q=SH-9")
    assert found.status_code == 302 and found.headers["Location"].endswith("/console/order/SH-9")
    page = client.get("/console/order/SH-9").get_data(as_text=True)
    assert "shipment_voucher" in page and ">C5<" in page
    assert client.get("/console/search?q=NOPE").status_code == 404


def test_reason_patterns_drop_what_is_particular_to_the_item():
    a = Job(flow="order_push", key="C-1", ifs_ref="C-1", reason="order C-1: line 2/1 SKU 'P1' is unknown at ShipBob")
    b = Job(flow="order_push", key="C-22", ifs_ref="C-22", reason="order C-22: line 1/1 SKU 'P1' is unknown at ShipBob")
    assert reason_pattern(a) == reason_pattern(b) == "order …: line … SKU 'P1' is unknown at ShipBob"


def test_a_big_group_lists_its_first_rows_and_its_buttons_cover_all(console_settings, ctx):
    from webhooks.console import ROWS_PER_GROUP

    ids = [park(ctx, f"C{n}", f"SKU 'P9' is unknown at ShipBob (order C{n})") for n in range(ROWS_PER_GROUP + 5)]
    client, token = logged_in(console(console_settings, Wakes(ctx)), "ann")
    page = client.get("/console/").get_data(as_text=True)
    assert f"SKU P9 blocks {len(ids)} orders" in page and "and 5 more in this group" in page
    assert len(re.findall(r'<tr id="item-', page)) == ROWS_PER_GROUP
    group = re.search(r'id="group-([0-9a-f]{16})"', page).group(1)
    shown = re.search(rf'action="/console/groups/{group}/ignore">(.*?)</form>', page, re.S).group(1)
    client.post(f"/console/groups/{group}/ignore", data={
        "csrf_token": token, "note": "test data", "ids": re.findall(r'name="ids" value="(\d+)"', shown)})
    with ctx.session() as session:
        assert set(session.execute(select(Job.state)).scalars()) == {JobState.IGNORED.value}
