"""POST /events/ifs/<event> on the real receiver app, with real PostgreSQL,
Redis and the sandboxes (tests/conftest.py). The wake-up is a recorder that
checks the job row is committed before it is called, except in the test of
the real publish to Redis."""

from __future__ import annotations

import base64
import json
import logging

import pytest
import redis as redis_lib
import requests
from pydantic import SecretStr
from sqlalchemy import func, select

from connector import jobs
from connector.db.models import Flow, Job, JobState
from connector.db.session import session_scope
from connector.errors import ConfigError
from connector.flows.order_poll import poll_orders
from connector.flows.replenishment import poll_replenishment
from connector.runner import run_job
from connector.settings import load_settings
from sandbox.server import BackgroundServer
from tests.conftest import REDIS_URL
from tests.helpers import hook, seed_world
from webhooks.app import create_app

KEY = "current-key-" + "k" * 24
PREVIOUS = "previous-key-" + "p" * 24


class JobRecorder:
    """The receiver's job wake-up in tests: records (job id, flow) and checks
    the row is committed, i.e. `status` and `show` see it, before it is sent."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.calls: list[tuple[int, str]] = []

    def __call__(self, job_id: int, flow: str, key: str) -> None:
        with session_scope(self.database_url) as session:
            job = session.get(Job, job_id)
            assert job is not None, "woken before commit"
            assert job.flow == flow and job.key == key and job.state == JobState.PENDING.value
        self.calls.append((job_id, flow))


def make_app(settings, wake_job, **keys):
    keys = keys if keys else {"ifs_events_api_key": KEY}
    configured = settings.model_copy(update={k: SecretStr(v) for k, v in keys.items()})
    return create_app(configured, enqueue=lambda _id: None, broker_check=lambda: None, wake_job=wake_job)


@pytest.fixture
def woken(settings):
    return JobRecorder(settings.database_url)


@pytest.fixture
def client(settings, woken):
    return make_app(settings, woken).test_client()


def post(client, event="order-released", body=None, key=KEY, raw=None):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["X-Api-Key"] = key
    data = raw if raw is not None else json.dumps(body if body is not None else {"OrderNo": "C1000001"})
    return client.post(f"/events/ifs/{event}", data=data, headers=headers)


def all_jobs(ctx) -> list[Job]:
    with ctx.session() as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def job_count(ctx) -> int:
    with ctx.session() as session:
        return session.execute(select(func.count()).select_from(Job)).scalar_one()


def released_order(sandboxes) -> str:
    ifs, _shipbob = sandboxes
    seed_world(sandboxes, orders=0, split_ratio=0)
    [created] = hook(ifs, "orders", {"orders": [{"Contract": "S01", "ShipViaCode": "UPS-GND", "CustomerNo": "CU1001",
                                                 "lines": [{"PartNo": "P00001", "BuyQtyDue": 1}]}]})["orders"]
    return created["OrderNo"]


# --- accepted events --------------------------------------------------------


def test_order_released_is_the_push_job_committed_before_the_answer(client, ctx, woken):
    response = post(client, body={"OrderNo": "C1000001", "Contract": "S01"})

    assert response.status_code == 202
    [job] = all_jobs(ctx)
    assert (job.flow, job.key, job.ifs_ref, job.state) == ("order_push", "C1000001", "C1000001", "pending")
    assert response.get_json() == {"status": "queued", "job_id": job.id}
    assert woken.calls == [(job.id, "order_push")]


def test_status_and_show_see_the_job_before_the_answer(settings, ctx, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from cli import main
    from cli.stack import env_for

    monkeypatch.chdir(tmp_path)  # the CLI reads ./.env: not a developer's own
    for name, value in env_for(settings, broker_url="memory://").items():
        monkeypatch.setenv(name, value)
    seen = []

    def wake_job(job_id, _flow, _key):  # called after commit, before the answer is sent
        shown = CliRunner().invoke(main, ["show", "C1000077", "--json"], catch_exceptions=False)
        status = CliRunner().invoke(main, ["status", "--json"], catch_exceptions=False)
        seen.append((json.loads(shown.stdout), json.loads(status.stdout)))

    response = post(make_app(settings, wake_job).test_client(), body={"OrderNo": "C1000077"})

    assert response.status_code == 202
    [(shown, status)] = seen
    assert (shown["id"], shown["state"]) == (response.get_json()["job_id"], "pending")
    [order_push] = [row for row in status["flows"] if row["flow"] == "order_push"]
    assert order_push["pending"] == 1 and order_push["oldest_pending"] is not None


def test_previous_key_is_accepted_while_rotating(settings, ctx, woken):
    rotating = make_app(settings, woken, ifs_events_api_key=KEY, ifs_events_api_key_previous=PREVIOUS)
    client = rotating.test_client()

    assert post(client, body={"OrderNo": "C1"}, key=PREVIOUS).status_code == 202
    assert post(client, body={"OrderNo": "C2"}, key=KEY).status_code == 202
    assert [j.key for j in all_jobs(ctx)] == ["C1", "C2"]


def test_only_the_previous_key_configured_still_authenticates(settings, ctx, woken):
    client = make_app(settings, woken, ifs_events_api_key_previous=PREVIOUS).test_client()

    assert post(client, key=PREVIOUS).status_code == 202
    assert post(client, key=KEY).status_code == 401


def test_event_then_poll_is_one_job_and_one_shipbob_order(client, ctx, sandboxes, woken):
    order_no = released_order(sandboxes)
    response = post(client, body={"OrderNo": order_no})
    assert response.status_code == 202

    assert poll_orders(ctx) == []  # the poll sees the order and finds its job
    [job] = all_jobs(ctx)
    assert run_job(ctx, job.id).status == "done"
    assert [o["reference_id"] for o in hook(sandboxes[1], "dump/orders", method="GET")] == [order_no]
    # A repeated delivery of the same event neither re-runs nor re-wakes it.
    again = post(client, body={"OrderNo": order_no})
    assert (again.status_code, again.get_json()) == (200, {"status": "known", "job_id": job.id})
    assert woken.calls == [(job.id, "order_push")]


def test_poll_then_event_is_the_polls_job_not_woken_again(client, ctx, sandboxes, woken):
    order_no = released_order(sandboxes)
    [polled] = poll_orders(ctx)

    response = post(client, body={"OrderNo": order_no})

    assert (response.status_code, response.get_json()) == (200, {"status": "known", "job_id": polled})
    assert job_count(ctx) == 1
    assert woken.calls == []  # the poll's wake-up is on its way already


def test_release_event_reruns_a_push_that_ended_without_pushing(client, ctx, woken):
    # As poll_unpushed does: a push that ran while the order was not released
    # yet ended done without a ShipBob order; the release event runs it again.
    with ctx.session() as session:
        job_id = jobs.ensure_job(session, Flow.ORDER_PUSH.value, "C7", ifs_ref="C7")
        session.get(Job, job_id).state = JobState.DONE.value

    response = post(client, body={"OrderNo": "C7"})

    assert (response.status_code, response.get_json()) == (202, {"status": "queued", "job_id": job_id})
    assert all_jobs(ctx)[0].state == JobState.PENDING.value


def test_order_changed_requests_the_push_like_a_release(client, ctx, woken):
    response = post(client, event="order-changed", body={"OrderNo": "C8"})

    assert response.status_code == 202
    [job] = all_jobs(ctx)
    assert (job.flow, job.key) == ("order_push", "C8")


def test_order_cancelled_wakes_a_known_push_and_ignores_an_unknown_order(client, ctx, woken):
    with ctx.session() as session:
        job_id = jobs.ensure_job(session, Flow.ORDER_PUSH.value, "C9", ifs_ref="C9")
        session.get(Job, job_id).state = JobState.DONE.value

    known = post(client, event="order-cancelled", body={"OrderNo": "C9"})
    unknown = post(client, event="order-cancelled", body={"OrderNo": "C404"})

    assert (known.status_code, known.get_json()) == (202, {"status": "queued", "job_id": job_id})
    assert unknown.status_code == 200 and unknown.get_json()["status"] == "ignored"
    assert [j.key for j in all_jobs(ctx)] == ["C9"]
    assert woken.calls == [(job_id, "order_push")]


def test_purchase_order_released_is_the_replenishment_polls_job(client, ctx, sandboxes, woken):
    seed_world(sandboxes, orders=0, purchase_orders=1)
    [po] = [row["OrderNo"] for row in hook(sandboxes[0], "dump/PurchaseOrderSet", method="GET")["value"]]

    response = post(client, event="purchase-order-released", body={"OrderNo": po})

    assert response.status_code == 202
    assert poll_replenishment(ctx) == []
    [job] = all_jobs(ctx)
    assert (job.flow, job.key) == ("replenishment", po)
    assert woken.calls == [(job.id, "replenishment")]


def test_a_failed_wake_up_still_answers_2xx_and_the_sweeper_finds_the_row(settings, ctx):
    def broker_down(_job_id, _flow, _key):
        raise ConnectionError("broker unreachable")

    client = make_app(settings, broker_down).test_client()
    response = post(client)

    assert response.status_code == 202
    with ctx.session() as session:
        due = jobs.due_job_ids(session, grace_seconds=0)
    assert due == [(response.get_json()["job_id"], "order_push", "C1000001")]


def test_the_real_publisher_puts_the_wake_up_on_the_flows_redis_queue(settings, ctx, monkeypatch):
    # The receiver's own Celery app reads the broker from the environment.
    monkeypatch.setenv("BROKER_URL", REDIS_URL)
    monkeypatch.setenv("REDIS_PREFIX", settings.redis_prefix)
    configured = settings.model_copy(update={"ifs_events_api_key": SecretStr(KEY)})
    app = create_app(configured, enqueue=lambda _id: None, broker_check=lambda: None)

    response = post(app.test_client())

    assert response.status_code == 202
    messages = redis_lib.Redis.from_url(REDIS_URL).lrange(f"{settings.redis_prefix}order_push", 0, -1)
    bodies = [json.loads(base64.b64decode(json.loads(m)["body"])) for m in messages]
    tasks = [json.loads(m)["headers"]["task"] for m in messages]
    assert tasks == ["workers.tasks.order_push"]
    assert [body[1] for body in bodies] == [{"job_id": response.get_json()["job_id"], "key": "C1000001"}]


def test_over_real_http(settings, ctx, woken):
    server = BackgroundServer(make_app(settings, woken)).start()
    try:
        response = requests.post(f"{server.url}/events/ifs/order-released", json={"OrderNo": "C42"},
                                 headers={"X-Api-Key": KEY}, timeout=10)
    finally:
        server.stop()
    assert response.status_code == 202
    assert [j.key for j in all_jobs(ctx)] == ["C42"]


# --- refused: nothing stored, nothing woken --------------------------------


@pytest.mark.parametrize("key", [None, "", "wrong-key-" + "w" * 30, KEY + "x", KEY[:-1], PREVIOUS])
def test_a_missing_or_wrong_key_is_401(client, ctx, woken, key):
    response = post(client, key=key)

    assert response.status_code == 401
    assert job_count(ctx) == 0 and woken.calls == []


def test_no_key_configured_is_404_for_every_event(settings, ctx, woken):
    unconfigured = create_app(settings, enqueue=lambda _id: None, broker_check=lambda: None, wake_job=woken)
    client = unconfigured.test_client()

    for event in ("order-released", "order-changed", "order-cancelled", "purchase-order-released"):
        assert post(client, event=event).status_code == 404
    assert job_count(ctx) == 0 and woken.calls == []


def test_unknown_event_is_404(client, ctx, woken):
    response = post(client, event="order-shipped")

    assert response.status_code == 404
    assert "order-released" in response.get_json()["error"]
    assert job_count(ctx) == 0


@pytest.mark.parametrize("raw", [
    "not json",
    "[]",
    "{}",
    '{"order_no": "C1"}',
    '{"OrderNo": 1000001}',
    '{"OrderNo": ""}',
    '{"OrderNo": null}',
    '{"OrderNo": "&NEW:ORDER_NO"}',   # a template whose substitution did not happen
    '{"OrderNo": "P1#2"}',
    '{"OrderNo": "C1\\u0000"}',
    json.dumps({"OrderNo": "C" * 201}),
    b'{"OrderNo": "\xff"}',
])
def test_a_bad_body_is_400_and_stores_nothing(client, ctx, woken, raw):
    response = post(client, raw=raw)

    assert response.status_code == 400
    assert "OrderNo" in response.get_json()["error"]
    assert job_count(ctx) == 0 and woken.calls == []


def test_a_body_over_the_limit_is_413(client, ctx, woken):
    response = post(client, raw=json.dumps({"OrderNo": "C1", "pad": "x" * 20_000}))

    assert response.status_code == 413
    assert job_count(ctx) == 0


def test_the_key_is_never_logged(client, caplog):
    with caplog.at_level(logging.DEBUG):
        post(client)
        post(client, key=KEY[:-1] + "y")
    assert caplog.records
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert KEY not in text and KEY[:-1] not in text


# --- settings ------------------------------------------------------------


def test_settings_refuse_a_short_key_or_one_a_header_list_would_split(clean_db):
    for bad in ("short", "a" * 30 + ",Accept:*/*", "a" * 30 + " b"):
        with pytest.raises(ConfigError, match="IFS_EVENTS_API_KEY"):
            load_settings(database_url=clean_db, ifs_events_api_key=bad)
    assert load_settings(database_url=clean_db, ifs_events_api_key="").ifs_events_api_keys() == []
