"""`docker compose up` as README tells a user to run it, without Docker:
docker-compose.yml rendered by a real compose implementation with a .env made
from .env.example, then every service of our image started with exactly its
rendered command, environment, user, tmpfs and volumes on a read-only root
(tests/compose/container.py), against the local PostgreSQL, Redis and the
sandboxes. Each check names what it proves; test_defects.py shows they fail
when a defect of the file is put back."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.compose import stack as checks

# Several Python processes start per test; this machine is small and shared.
pytestmark = [pytest.mark.compose, pytest.mark.timeout(900)]


def test_the_rendered_stack_runs(make_stack, sandboxes):
    started = time.monotonic()

    def done(what: str) -> None:  # shown with the output of a failure, or with -s
        print(f"compose-check: {what} at {time.monotonic() - started:.1f}s")

    stack = make_stack()
    assert set(stack.ours()) == {"migrate", "receiver", "beat", "flower", *(
        n for n in stack.services if n.startswith("worker-"))}

    checks.check_migrate(stack)
    done("migrate exited 0")
    for name in stack.ours():
        if name != "migrate":
            stack.start(name)

    # The receiver and every worker come up side by side, as under compose.
    waits = [lambda: checks.check_receiver_ready(stack)] + [
        (lambda n=name: checks.check_worker_health(stack, n)) for name in stack.containers
        if name.startswith("worker-")]
    with ThreadPoolExecutor(len(waits)) as pool:
        for future in [pool.submit(wait) for wait in waits]:
            future.result()
    done("receiver ready; every worker answers its own healthcheck")
    order_id = checks.check_order_goes_through(stack, sandboxes)
    done(f"order pushed (ShipBob {order_id})")
    checks.check_delivery_reaches_a_worker(stack, order_id)
    done("signed delivery routed by a worker")
    reports = checks.check_inventory_report(stack)
    assert all(p.stat().st_size > 0 for p in reports)
    done("inventory report in the volume")
    checks.check_flower(stack)
    done("Flower")
    checks.check_metrics_across_workers(stack)
    done("metrics across gunicorn workers")

    crashed = [n for n, c in stack.containers.items() if not c.running()]
    assert not crashed, stack.logs()
    # Anything that tried to write outside its tmpfs and volumes says so.
    read_only_hits = [n for n, c in stack.containers.items() if "Read-only file system" in c.log()]
    assert not read_only_hits, stack.logs()
