"""The compose stack, rendered and run service by service (see container.py),
and the checks `make compose-check` makes of it. Each check is a function of
the running stack so tests/compose/test_defects.py can run it against a
rendered file with a defect put back and show that it fails."""

from __future__ import annotations

import json
import re
import signal
import uuid
from datetime import datetime, timezone
from pathlib import Path

import requests
from sqlalchemy import select, text
from standardwebhooks.webhooks import Webhook

from cli.stack import free_port
from tests.compose.container import Container, healthcheck_argv
from tests.compose.image import Image
from tests.compose.project import Project
from tests.helpers import eventually, hook, seed_world

OUR_IMAGE = "ifs-shipbob"
WEBHOOK_SECRET = "whsec_" + "Q" * 32
FLOWER_USER, FLOWER_PASSWORD = "ops", "flower-" + uuid.uuid4().hex[:8]
STARTUP = 90  # seconds: Python processes starting on a loaded 2-core machine


def env_values(database_url: str, redis_url: str, prefix: str, ifs_url: str, shipbob_url: str) -> dict[str, str]:
    """What a user fills into .env, here pointed at the local services."""
    return {
        "POSTGRES_PASSWORD": "unused-here",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BROKER_URL": redis_url,
        "REDIS_PREFIX": prefix,
        "IFS_BASE_URL": ifs_url,
        "IFS_REALM": "ifsdemo",
        "IFS_CLIENT_ID": "ifs-shipbob",
        "IFS_CLIENT_SECRET": "sandbox-secret",
        "SHIPBOB_BASE_URL": shipbob_url,
        "SHIPBOB_TOKEN": "sandbox-pat",
        "SHIPBOB_CHANNEL_ID": "128944",
        "SHIPBOB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "FLOWER_BASIC_AUTH": f"{FLOWER_USER}:{FLOWER_PASSWORD}",
        # Ports of their own: this machine runs other stacks beside this one.
        "RECEIVER_PORT": str(free_port()),
        "FLOWER_PORT": str(free_port()),
        "WORKER_METRICS_PORT": str(free_port()),
        # The order poll every second so one order goes through quickly; the
        # sweeper's grace long, so it cannot hide a wake-up sent to the wrong
        # Redis prefix by re-publishing it.
        "ORDER_POLL_SECONDS": "1",
        "SWEEP_GRACE_SECONDS": "3600",
    }


class Stack:
    def __init__(self, workdir: Path, image: Image, rendered: dict, env: dict[str, str]):
        self.workdir = workdir
        self.image = image
        self.rendered = rendered
        self.env = env
        self.containers: dict[str, Container] = {}

    @classmethod
    def render(cls, workdir: Path, image: Image, env: dict[str, str]) -> "Stack":
        project = Project(workdir / "project", "ifs-shipbob-check")
        project.lay_out(env)
        return cls(workdir, image, project.render(), env)

    @property
    def services(self) -> dict[str, dict]:
        return self.rendered["services"]

    def ours(self) -> list[str]:
        return [n for n, s in self.services.items() if str(s.get("image", "")).startswith(OUR_IMAGE)]

    def container(self, name: str, command: list[str] | None = None) -> Container:
        return Container(name, self.services[name], self.image, self.workdir, command=command)

    def start(self, name: str) -> Container:
        running = self.container(name).start()
        self.containers[name] = running
        return running

    def run(self, name: str, command: list[str] | None = None, timeout: float = 120) -> tuple[int, str]:
        """`docker compose run --rm NAME [command]`: exit code and output."""
        one_off = self.container(name, command).start()
        try:
            return one_off.wait(timeout), one_off.log()
        finally:
            one_off.stop()

    def stop(self) -> None:
        for running in self.containers.values():
            running.stop()

    def logs(self) -> str:
        return "\n".join(f"----- {n}\n{c.log()[-3000:]}" for n, c in self.containers.items())

    def env_of(self, name: str) -> dict:
        return self.services[name].get("environment") or {}

    def volume_dir(self, name: str) -> Path:
        return self.workdir / "volumes" / name


# ------------------------------------------------------------------ checks


def check_migrate(stack: Stack) -> None:
    code, output = stack.run("migrate", timeout=STARTUP)
    assert code == 0, f"migrate exited {code}: {output[-2000:]}"
    from connector.db.session import engine_for

    with engine_for(stack.env["DATABASE_URL"]).connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def receiver_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.env['RECEIVER_PORT']}"


def check_receiver_ready(stack: Stack) -> None:
    receiver = stack.containers["receiver"]

    def ready():
        assert receiver.running(), f"receiver exited: {receiver.log()[-3000:]}"
        try:
            return requests.get(f"{receiver_url(stack)}/readyz", timeout=5).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            return False

    eventually(ready, STARTUP, "the receiver's /readyz to answer 200")
    assert_healthy(receiver)


def deliver(stack: Stack, topic: str, body: dict) -> requests.Response:
    raw = json.dumps(body)
    msg_id = f"msg_{uuid.uuid4().hex}"
    at = datetime.now(timezone.utc)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
               "webhook-signature": Webhook(WEBHOOK_SECRET).sign(msg_id, at, raw),
               "x-webhook-topic": topic, "Content-Type": "application/json"}
    return requests.post(f"{receiver_url(stack)}/webhooks/shipbob", data=raw.encode(), headers=headers, timeout=10)


def worker_node(stack: Stack, name: str, hostname: str) -> str:
    """The node name the worker's own command gives it (`-n NAME@%h`)."""
    command = stack.services[name]["command"]
    return command[command.index("-n") + 1].replace("%h", hostname)


def check_worker_health(stack: Stack, name: str) -> None:
    """Once the worker answers a ping to the node name its command gives it,
    its rendered healthcheck must pass too."""
    worker = stack.containers[name]
    node = worker_node(stack, name, worker.hostname)

    def answers():
        assert worker.running(), f"{name} exited: {worker.log()[-3000:]}"
        return worker.exec(["celery", "-A", "workers.app", "inspect", "ping", "-d", node,
                            "--timeout", "3"]).returncode == 0

    eventually(answers, STARTUP, f"{node} to answer a ping")
    assert healthcheck_argv(stack.services[name]) is not None, f"{name} has no healthcheck"
    assert_healthy(worker)


def assert_healthy(container: Container) -> None:
    """Docker's rule: healthy at the first pass; unhealthy after `retries`
    failures in a row."""
    retries = int((container.service.get("healthcheck") or {}).get("retries", 3))
    failures = []
    for _ in range(retries):
        result = container.healthcheck()
        if result.returncode == 0:
            return
        failures.append((result.stdout + result.stderr).strip()[-500:])
    raise AssertionError(f"{container.name}'s healthcheck failed {retries} times: {failures}")


def check_order_goes_through(stack: Stack, sandboxes) -> int:
    """Beat polls IFS, worker-polls finds the released order, worker-orders
    pushes it: one ShipBob order with the IFS key. Returns its ShipBob id."""
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=1, parts=5, split_ratio=0)
    released = [o["OrderNo"] for o in hook(ifs, "dump/CustomerOrderSet", method="GET")["value"]
                if o["Objstate"] == "Released"]
    assert released

    def pushed():
        for name in ("beat", "worker-polls", "worker-orders"):
            assert stack.containers[name].running(), f"{name} exited: {stack.containers[name].log()[-3000:]}"
        orders = hook(shipbob, "dump/orders", method="GET")
        return [o for o in orders if any(no in str(o.get("reference_id")) for no in released)]

    orders = eventually(pushed, STARTUP, f"IFS order {released[0]} to reach the ShipBob sandbox")
    assert len(orders) == 1
    return orders[0]["id"]


def check_delivery_reaches_a_worker(stack: Stack, order_id: int) -> None:
    """A signed delivery is accepted, and the wake-up the receiver publishes
    reaches the webhooks worker (same broker, same REDIS_PREFIX)."""
    from connector.db.models import WebhookEvent
    from connector.db.session import session_scope

    response = deliver(stack, "order.shipped", {"order_id": order_id, "id": order_id})
    assert response.status_code == 200, response.text

    def routed():
        with session_scope(stack.env["DATABASE_URL"]) as session:
            event = session.execute(select(WebhookEvent).order_by(WebhookEvent.id.desc())).scalars().first()
            return event.outcome if event is not None and event.processed_at is not None else None

    outcome = eventually(routed, STARTUP, "the webhooks worker to route the stored delivery")
    assert outcome.startswith("job:"), outcome


def check_inventory_report(stack: Stack) -> list[Path]:
    """The daily inventory sync, published as beat publishes it, writes its
    report into the `reports` volume of worker-inventory."""
    from connector.db.models import Flow, Job
    from connector.db.session import session_scope

    volume = _named_volume(stack, "worker-inventory", stack.env_of("worker-inventory").get("REPORTS_DIR", ""))
    code, output = stack.run("beat", ["celery", "-A", "workers.app", "call", "workers.tasks.sync_inventory",
                                      "--queue", "inventory_sync"], timeout=STARTUP)
    assert code == 0, output[-2000:]

    def finished():
        with session_scope(stack.env["DATABASE_URL"]) as session:
            job = session.execute(select(Job).where(Job.flow == Flow.INVENTORY_SYNC.value)).scalars().first()
            if job is None or (job.state != "done" and not job.last_error):
                return None
            return job.state, job.last_error

    state, error = eventually(finished, STARTUP, "the inventory sync job to run")
    assert state == "done", f"inventory sync did not finish: {error}"
    assert volume is not None, "worker-inventory has no volume at REPORTS_DIR: the report is lost with the container"
    reports = sorted(p for p in volume.iterdir() if p.suffix in (".json", ".csv"))
    assert {p.suffix for p in reports} == {".json", ".csv"}, reports
    return reports


def _named_volume(stack: Stack, service: str, target: str) -> Path | None:
    from tests.compose.container import mounts_of

    for mount in mounts_of(stack.services[service]):
        if mount.target == target and mount.kind == "volume":
            return stack.volume_dir(mount.source)
    return None


def check_flower(stack: Stack) -> None:
    url = f"http://127.0.0.1:{stack.env['FLOWER_PORT']}"
    flower = stack.containers["flower"]

    def answers():
        assert flower.running(), f"flower exited: {flower.log()[-3000:]}"
        try:
            return requests.get(f"{url}/healthcheck", timeout=5).status_code
        except (requests.ConnectionError, requests.Timeout):
            return None

    eventually(answers, STARTUP, "Flower to listen")
    assert requests.get(f"{url}/api/workers", timeout=10).status_code == 401
    auth = (FLOWER_USER, FLOWER_PASSWORD)
    assert requests.get(f"{url}/", auth=auth, timeout=10).status_code == 200
    expected = {worker_node(stack, n, stack.containers[n].hostname) for n in stack.containers
                if n.startswith("worker-")}

    def sees_workers():
        seen = requests.get(f"{url}/api/workers", params={"refresh": "1"}, auth=auth, timeout=30).json()
        return expected <= set(seen)

    # Flower reaches the workers only through the same broker keys (REDIS_PREFIX).
    eventually(sees_workers, STARTUP, f"Flower to list the workers {sorted(expected)}")


ACCEPTED = re.compile(r'^ifs_shipbob_webhooks_received_total\{([^}]*)\}\s+([0-9.e+]+)$', re.M)


def accepted_count(stack: Stack) -> float:
    body = requests.get(f"{receiver_url(stack)}/metrics", timeout=10).text
    return sum(float(value) for labels, value in ACCEPTED.findall(body) if 'outcome="accepted"' in labels)


def check_metrics_across_workers(stack: Stack, deliveries: int = 3) -> None:
    """Counts made by gunicorn workers that have since been replaced are
    still in /metrics, whichever worker answers: the processes share the
    multiprocess directory. Workers are replaced with gunicorn's own TTIN
    (one more) and TTOU (kill the oldest) signals, as a max-requests
    recycle or a crash would."""
    receiver = stack.containers["receiver"]
    before = accepted_count(stack)
    for _ in range(deliveries):
        response = deliver(stack, "order.shipped", {"order_id": 1, "id": 1})
        assert response.status_code == 200, response.text
    old = receiver.children()
    assert old, "no gunicorn workers"
    # One signal at a time: the kernel merges a signal sent while the same one is pending.
    for added in range(1, len(old) + 1):
        receiver.signal(signal.SIGTTIN)
        eventually(lambda n=added: len(receiver.children() - old) >= n, STARTUP, "gunicorn to add a worker")
    for retired in range(1, len(old) + 1):
        receiver.signal(signal.SIGTTOU)
        eventually(lambda n=retired: len(old - receiver.children()) >= n, STARTUP, "gunicorn to retire a worker")

    def counted():
        try:
            return accepted_count(stack)
        except requests.RequestException as exc:
            return type(exc).__name__

    expected = before + deliveries
    # Only fresh workers answer now; each must report what the old ones
    # counted. A fresh worker may still be booting: wait for the first
    # answer (per-process counters never reach it), then every read agrees.
    eventually(lambda: counted() == expected, 30, f"/metrics to show {expected} accepted deliveries "
               "(counters are per process)")
    reads = [counted() for _ in range(2 * len(old))]
    assert all(r == expected for r in reads), (
        f"/metrics of fresh gunicorn workers shows {reads}, expected {expected}: counters are per process")
