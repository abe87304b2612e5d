"""The receiver under slow clients and slow dependencies (issue 11, item 5),
served by real gunicorn from this venv (cli.stack.Stack) against real
PostgreSQL and Redis.

Each fault is made certain before anything is measured: a slow-body client
counts only once the server has read its headers and its 10 bytes (its
socket's receive queue on the server side is empty, /proc/net/tcp), and a
silent broker is a socket server that accepts and never answers.
"""

from __future__ import annotations

import base64
import json
import socket
import statistics
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from cli.stack import Stack
from connector.db.models import WebhookEvent
from connector.db.session import session_scope
from tests.conftest import REDIS_URL
from tests.helpers import eventually

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"slow-clients-secret-24b!").decode()
BODY = json.dumps({"order_id": 100000001, "status": "Completed"}).encode()
DELIVERIES = 20
ANSWER_BOUND_SECONDS = 1.0  # each delivery, with the slow clients holding on


# ------------------------------------------------------------------ clients


def signed_headers(body: bytes = BODY) -> dict[str, str]:
    at = datetime.now(timezone.utc)
    msg_id = f"msg_{uuid.uuid4().hex}"
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(SECRET).sign(msg_id, at, body.decode()),
            "x-webhook-topic": "order.shipped", "content-type": "application/json"}


class SlowBody:
    """Signature-shaped headers (a forged signature: no secret needed), a
    large Content-Length and 10 bytes of body, then silence."""

    def __init__(self, port: int):
        self.server_port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        headers = {**signed_headers(), "webhook-signature": "v1," + base64.b64encode(b"f" * 32).decode()}
        head = "POST /webhooks/shipbob HTTP/1.1\r\nHost: receiver\r\nContent-Length: 500000\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        self.sock.sendall(head.encode() + b'{"order_id')  # 10 bytes of the promised 500,000
        self.client_port = self.sock.getsockname()[1]

    def read_by_server(self) -> bool:
        """True once the server holds this connection and has read all we sent."""
        return unread_by_server(self.server_port, self.client_port) == 0

    def unanswered(self) -> bool:
        """Neither an answer nor a close has come back yet."""
        self.sock.setblocking(False)
        try:
            self.sock.recv(1, socket.MSG_PEEK)
            return False
        except BlockingIOError:
            return True
        finally:
            self.sock.setblocking(True)

    def close(self) -> None:
        self.sock.close()


def unread_by_server(server_port: int, client_port: int) -> int | None:
    """Bytes waiting in the server side's receive queue of this connection
    (Linux /proc/net/tcp), None if there is no such connection."""
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            remote_port = int(fields[2].split(":")[1], 16)
            if (local_port, remote_port) == (server_port, client_port):
                return int(fields[4].split(":")[1], 16)
    return None


def stored_events(database_url: str) -> list[WebhookEvent]:
    with session_scope(database_url) as session:
        return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


def receiver_env(database_url: str, redis_prefix: str, **overrides) -> dict[str, str]:
    env = {"DATABASE_URL": database_url, "BROKER_URL": REDIS_URL, "REDIS_URL": REDIS_URL,
           "REDIS_PREFIX": redis_prefix, "SHIPBOB_WEBHOOK_SECRET": SECRET}
    env.update({name.upper(): str(value) for name, value in overrides.items()})
    return env


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# ------------------------------------------------------------ slow bodies


def test_two_slow_bodies_do_not_delay_real_deliveries(clean_db, clean_redis, tmp_path):
    # Deadlines far beyond the test: here only the worker model must keep the
    # slow clients from holding up the deliveries.
    env = receiver_env(clean_db, clean_redis, webhook_body_timeout_seconds=600,
                       gunicorn_read_idle_timeout=600)
    with Stack(env=env, logdir=tmp_path / "logs") as stack:
        # One process: both slow bodies sit in the process that must serve
        # the deliveries, and one delivery before them certainly reaches it,
        # so what is measured is the slow clients, not its first request.
        url = stack.start_receiver(workers=1)
        warm = requests.post(f"{url}/webhooks/shipbob", data=BODY, headers=signed_headers(), timeout=30)
        assert warm.status_code == 200
        slow = [SlowBody(port_of(url)) for _ in range(2)]
        try:
            eventually(lambda: all(s.read_by_server() for s in slow), 30, "the server reading both slow bodies")

            latencies, statuses = [], []
            for _ in range(DELIVERIES):
                started = time.monotonic()
                response = requests.post(f"{url}/webhooks/shipbob", data=BODY, headers=signed_headers(),
                                         timeout=30)
                latencies.append(time.monotonic() - started)
                statuses.append(response.status_code)

            still_held = [s.unanswered() and s.read_by_server() for s in slow]
        finally:
            for s in slow:
                s.close()

    print(f"\ndelivery latency with 2 slow bodies open: p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms")
    assert statuses == [200] * DELIVERIES
    assert max(latencies) < ANSWER_BOUND_SECONDS, latencies
    assert still_held == [True, True], "the slow clients must hold on for the whole run"
    assert len(stored_events(clean_db)) == DELIVERIES + 1


def answer_of(sock: socket.socket) -> bytes:
    """The first bytes the server sends back (b"" if it just closes)."""
    sock.settimeout(60)
    try:
        return sock.recv(64)
    except ConnectionResetError:
        return b""


def test_a_stalled_or_trickled_body_gets_408_at_the_deadline_and_frees_the_thread(clean_db, clean_redis, tmp_path):
    # One process with one thread: whatever a slow body holds, it holds all.
    env = receiver_env(clean_db, clean_redis, webhook_body_timeout_seconds=1, gunicorn_threads=1)
    with Stack(env=env, logdir=tmp_path / "logs") as stack:
        url = stack.start_receiver(workers=1)

        stalled = SlowBody(port_of(url))
        eventually(stalled.read_by_server, 30, "the server reading the stalled body")
        stalled_answer = answer_of(stalled.sock)
        stalled.close()

        # A byte every 0.1 s: never idle long enough for a per-read timeout.
        trickled = SlowBody(port_of(url))
        eventually(trickled.read_by_server, 30, "the server reading the trickled body")
        sent = 0
        while trickled.unanswered() and sent < 1000:
            trickled.sock.sendall(b" ")
            sent += 1
            select_readable(trickled.sock, 0.1)
        trickled_answer = answer_of(trickled.sock)
        trickled.close()

        delivery = requests.post(f"{url}/webhooks/shipbob", data=BODY, headers=signed_headers(), timeout=30)

    assert stalled_answer.startswith(b"HTTP/1.1 408"), stalled_answer
    assert trickled_answer.startswith(b"HTTP/1.1 408"), (trickled_answer, sent)
    assert delivery.status_code == 200
    assert len(stored_events(clean_db)) == 1


def test_a_client_stalled_inside_its_headers_is_dropped_after_the_idle_timeout(clean_db, clean_redis, tmp_path):
    env = receiver_env(clean_db, clean_redis, gunicorn_threads=1, gunicorn_read_idle_timeout=1)
    with Stack(env=env, logdir=tmp_path / "logs") as stack:
        url = stack.start_receiver(workers=1)
        stalled = socket.create_connection(("127.0.0.1", port_of(url)), timeout=30)
        stalled.sendall(b"POST /webhooks/shipbob HTTP/1.1\r\nHost: receiver\r\nwebhook-id: msg_1\r\n")
        client_port = stalled.getsockname()[1]
        eventually(lambda: unread_by_server(port_of(url), client_port) == 0, 30,
                   "the server reading the partial headers")
        started = time.monotonic()
        answer = answer_of(stalled)
        closed_after = time.monotonic() - started
        stalled.close()
        delivery = requests.post(f"{url}/webhooks/shipbob", data=BODY, headers=signed_headers(), timeout=30)

    assert answer == b""  # dropped: no request to answer
    assert closed_after < 1 + 4
    assert delivery.status_code == 200


def select_readable(sock: socket.socket, timeout: float) -> None:
    import select

    select.select([sock], [], [], timeout)


# -------------------------------------------------------- a silent broker


class SilentBroker:
    """Accepts TCP connections and never answers (a hung Redis)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed
                return
            self.connections.append(conn)

    def close(self) -> None:
        self.listener.close()
        for conn in self.connections:
            conn.close()


PUBLISH_TIMEOUT = 1.0


def test_a_silent_broker_costs_a_delivery_the_publish_timeout_and_loses_nothing(clean_db, clean_redis, tmp_path):
    broker = SilentBroker()
    env = receiver_env(clean_db, clean_redis, broker_url=f"redis://127.0.0.1:{broker.port}/0",
                       webhook_publish_timeout_seconds=PUBLISH_TIMEOUT)
    try:
        with Stack(env=env, logdir=tmp_path / "logs") as stack:
            url = stack.start_receiver(workers=2)
            answers = []
            for _ in range(3):
                started = time.monotonic()
                response = requests.post(f"{url}/webhooks/shipbob", data=BODY, headers=signed_headers(),
                                         timeout=60)
                answers.append((response.status_code, response.json(), time.monotonic() - started))

            started = time.monotonic()
            ready = requests.get(f"{url}/readyz", timeout=60)
            ready_seconds = time.monotonic() - started
        reached = len(broker.connections)
        receiver_log = (tmp_path / "logs" / "receiver.log").read_text()
    finally:
        broker.close()

    print(f"\nsilent broker: deliveries answered in {[round(a[2], 2) for a in answers]} s, "
          f"/readyz in {ready_seconds:.2f} s")
    assert reached >= 1, "the receiver never reached the silent broker"
    assert receiver_log.count('"outcome": "enqueue_failed"') == 3  # each publish gave up
    for status, body, seconds in answers:
        assert (status, body) == (200, {"status": "accepted"})
        assert seconds < PUBLISH_TIMEOUT + 3, answers
    # Stored and not processed: the sweeper publishes them once the broker answers.
    events = stored_events(clean_db)
    assert len(events) == 3 and all(e.processed_at is None for e in events)
    assert ready.status_code == 503 and ready_seconds < 2.0
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["broker"] in ("timeout", "unavailable")


# ----------------------------------------------------- a stalled database


def test_a_statement_stuck_on_a_lock_fails_at_the_receiver_timeout_then_the_retry_is_stored(
        clean_db, clean_redis, tmp_path):
    import psycopg2

    env = receiver_env(clean_db, clean_redis, webhook_statement_timeout_seconds=1)
    headers = signed_headers()
    with Stack(env=env, logdir=tmp_path / "logs") as stack:
        url = stack.start_receiver(workers=1)
        locker = psycopg2.connect(clean_db)
        try:
            with locker.cursor() as cur:  # held until rollback: every INSERT waits on it
                cur.execute("LOCK TABLE webhook_events IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            stuck = requests.post(f"{url}/webhooks/shipbob", data=BODY, headers=headers, timeout=60)
            stuck_seconds = time.monotonic() - started
        finally:
            locker.rollback()
            locker.close()
        retried = requests.post(f"{url}/webhooks/shipbob", data=BODY, headers=headers, timeout=60)

    assert (stuck.status_code, stuck.json()) == (503, {"error": "database unavailable"})
    assert stuck_seconds < 1 + 3
    assert retried.status_code == 200  # ShipBob's retry (same webhook-id) is stored
    assert [e.webhook_id for e in stored_events(clean_db)] == [headers["webhook-id"]]
