"""A worker killed while ShipBob's refresh answer is in flight does not fail
the pool's jobs: they wait for a re-authorisation and finish by themselves
once `ifs-shipbob auth shipbob` stores a new token.

Real Celery worker processes, beat (the sweeper), PostgreSQL, Redis and the
sandboxes. The ShipBob sandbox is our own, with a gate that holds the answer
to a refresh grant AFTER ShipBob rotated the token: the worker waiting for
it is SIGKILLed, so the new refresh token is lost with it and the stored
(and configured) one is retired. That is certain, not a race: the test waits
until the answer is held before it kills.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections import Counter

import pytest
import requests
from flask import request
from sqlalchemy import select

from cli.stack import Stack, env_for, free_port
from connector import jobs
from connector.db.models import Flow, Job, JobState, utcnow
from connector.errors import SHIPBOB_AUTHORISATION
from tests.conftest import FAST_RATE_LIMIT, REDIS_URL
from tests.helpers import eventually, hook, ifs_rows

ORDERS = 6
PARTS = 10
PUSH = Flow.ORDER_PUSH.value
WAITS_FOR = f"{SHIPBOB_AUTHORISATION[0]}:{SHIPBOB_AUTHORISATION[1]}"
REDIRECT_URI = "https://connector.example.com/oauth/callback"
BIN = os.path.dirname(sys.executable)


class RefreshAnswerGate:
    """Holds the answers to refresh grants while closed. It runs after the
    token endpoint did its work: ShipBob has already rotated the token."""

    def __init__(self):
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self.held = 0

    def __call__(self, response):
        if (request.path == "/connect/token" and request.form.get("grant_type") == "refresh_token"
                and not self._open.is_set()):
            with self._lock:
                self.held += 1
            try:
                self._open.wait(60)
            finally:
                with self._lock:
                    self.held -= 1
        return response

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()


@pytest.fixture
def gate():
    return RefreshAnswerGate()


@pytest.fixture
def shipbob(gate):
    from sandbox.server import BackgroundServer
    from sandbox.shipbob import ShipBobSandboxConfig, create_app

    app = create_app(ShipBobSandboxConfig(rate_limit_per_minute=FAST_RATE_LIMIT,
                                          webhook_retry_time_scale=0.001))
    app.after_request(gate)
    server = BackgroundServer(app).start()
    yield server
    gate.open()
    server.stop()


@pytest.fixture
def oauth_ctx(clean_db, clean_redis, ifs_sandbox, shipbob, tmp_path):
    from connector.context import Context
    from connector.settings import load_settings

    hook(ifs_sandbox, "reset")
    return Context(load_settings(
        database_url=clean_db, redis_url=REDIS_URL, redis_prefix=clean_redis,
        ifs_base_url=ifs_sandbox.url, shipbob_base_url=shipbob.url,
        shipbob_token=None, shipbob_client_id="sb-client", shipbob_client_secret="sb-secret",
        shipbob_refresh_token="sandbox-refresh-0",
        # The dead worker's refresh lock lives 2 x timeout + 10 s.
        http_timeout_seconds=5,
        shipbob_rate_limit_per_minute=FAST_RATE_LIMIT, reports_dir=tmp_path / "reports"))


@pytest.fixture
def stack(oauth_ctx, ifs_sandbox, shipbob, tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = env_for(oauth_ctx.settings, broker_url=REDIS_URL, shipbob_token="",
                  order_poll_seconds=3600, unpushed_poll_seconds=3600, tracking_poll_seconds=3600,
                  shipments_poll_seconds=3600, replenishment_poll_seconds=3600,
                  receiving_poll_seconds=3600, returns_poll_seconds=3600,
                  sweep_seconds=1, sweep_grace_seconds=2, job_lease_seconds=10, fence_margin_seconds=1,
                  worker_metrics_port=free_port(), prometheus_multiproc_dir=metrics_dir)
    with Stack(env=env, logdir=tmp_path / "logs", ifs=ifs_sandbox, shipbob=shipbob) as running:
        yield running


def cli(stack: Stack, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([os.path.join(BIN, "ifs-shipbob"), *args], input=stdin, text=True,
                          env={**os.environ, **stack.env}, capture_output=True, timeout=120)


def push_jobs(ctx) -> list[Job]:
    with ctx.session() as session:
        return list(session.execute(select(Job).where(Job.flow == PUSH)).scalars())


def all_waiting(ctx) -> bool:
    found = push_jobs(ctx)
    return len(found) == ORDERS and all(
        j.state == JobState.PENDING.value and j.waits_for == WAITS_FOR for j in found)


def gauge(stack: Stack) -> float | None:
    try:
        text = requests.get(f"http://127.0.0.1:{stack.env['WORKER_METRICS_PORT']}/metrics", timeout=5).text
    except requests.RequestException:  # the worker is not serving yet
        return None
    for line in text.splitlines():
        if line.startswith("ifs_shipbob_shipbob_reauthorisation_needed"):
            return float(line.split()[-1])
    return None


def test_a_refresh_lost_mid_rotation_makes_jobs_wait_and_auth_resumes_them(
        oauth_ctx, ifs_sandbox, shipbob, gate, stack):
    ctx = oauth_ctx
    hook(ifs_sandbox, "seed", {"orders": ORDERS, "parts": PARTS, "seed": 3, "sites": ["S01"],
                               "split_ratio": 0, "purchase_orders": 0})
    hook(shipbob, "seed", {"count": PARTS, "seed": 3, "level_range": [100, 200]})
    order_nos = sorted(o["OrderNo"] for o in ifs_rows(ifs_sandbox, "CustomerOrderSet"))
    with ctx.session() as session:
        for order_no in order_nos:
            jobs.request_job(session, PUSH, order_no, ifs_ref=order_no)
    gate.close()

    # The first refresh reaches ShipBob, which rotates the token; its answer
    # is held, and the worker waiting for it dies. The new token is lost.
    stack.start_worker("w1", concurrency=2, queues=[PUSH])
    stack.start_worker("polls", concurrency=1, queues=["polls", "sweep"])
    stack.start_beat()  # its sweeper publishes the due jobs
    eventually(lambda: gate.held >= 1, 60, "a refresh answer to be held", interval=0.1)
    stack.stop_process("w1", signal.SIGKILL)
    gate.open()
    eventually(lambda: gate.held == 0, 10, "the held answer to be let go", interval=0.1)
    retired = requests.post(f"{shipbob.url}/connect/token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": "sandbox-refresh-0",
        "client_id": "sb-client", "client_secret": "sb-secret"})
    assert retired.json() == {"error": "invalid_grant"}

    # Every job waits (none failed), re-checking within a minute.
    stack.start_worker("w2", concurrency=2, queues=[PUSH])
    eventually(lambda: all_waiting(ctx), 120, "every push to wait for re-authorisation", interval=0.5)
    now = utcnow()
    for job in push_jobs(ctx):
        assert "waiting: ShipBob re-authorisation needed" in job.last_error, job.last_error
        assert (job.next_run_at - now).total_seconds() <= 61, job.next_run_at
    assert hook(shipbob, "dump/orders", method="GET") == []

    status = cli(stack, "status")
    assert status.returncode == 0, status.stderr
    assert "ShipBob re-authorisation needed since" in status.stdout, status.stdout
    assert f"{ORDERS} item(s) wait; run `ifs-shipbob auth shipbob`" in status.stdout
    oauth = json.loads(cli(stack, "status", "--json").stdout)["shipbob_oauth"]
    assert oauth["waiting_items"] == ORDERS and oauth["reauthorisation_needed_since"]
    eventually(lambda: gauge(stack) == 1.0, 30, "the re-authorisation gauge to read 1")
    logs = (stack.logdir / "w2.log").read_text()
    assert "ShipBob refused every refresh token (invalid_grant)" in logs

    # Recovery is one command: exchange an authorisation code (PKCE S256).
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    code = hook(shipbob, "oauth/code", {"redirect_uri": REDIRECT_URI, "code_challenge": challenge})["code"]
    stored = cli(stack, "auth", "shipbob", "--code", code, "--redirect-uri", REDIRECT_URI,
                 "--code-verifier", verifier)
    assert stored.returncode == 0, stored.stderr
    assert f"{ORDERS} waiting item(s) resumed" in stored.stdout, stored.stdout
    # Woken, not left to the minute's re-check: due now, waiting for nothing.
    after = utcnow()
    for job in push_jobs(ctx):
        assert job.waits_for is None, job
        assert job.state != JobState.PENDING.value or job.next_run_at <= after, job

    eventually(lambda: {j.state for j in push_jobs(ctx)} == {JobState.DONE.value}, 60,
               "every push to finish by itself", interval=0.5)
    per_ref = Counter(o["reference_id"] for o in hook(shipbob, "dump/orders", method="GET"))
    assert sorted(per_ref) == order_nos and set(per_ref.values()) == {1}
    assert "re-authorisation needed" not in cli(stack, "status").stdout
    eventually(lambda: gauge(stack) == 0.0, 30, "the re-authorisation gauge to read 0")
