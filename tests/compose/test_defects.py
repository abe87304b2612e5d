"""The compose check fails when a defect of docker-compose.yml is put back:
each test edits the rendered configuration the way the defect was (or could
again be) written and runs the one check that covers it."""

from __future__ import annotations

import pytest

from tests.compose import stack as checks

# Several Python processes start per test; this machine is small and shared.
pytestmark = [pytest.mark.compose, pytest.mark.timeout(900)]


def _drop_reports_volume(rendered):
    service = rendered["services"]["worker-inventory"]
    service["volumes"] = [v for v in service["volumes"]
                          if "/app/reports" not in (v if isinstance(v, str) else v["target"])]


def test_without_the_reports_volume_the_inventory_sync_fails(make_stack):
    stack = make_stack(_drop_reports_volume)
    checks.check_migrate(stack)
    stack.start("worker-inventory")
    with pytest.raises(AssertionError, match="Read-only file system"):
        checks.check_inventory_report(stack)


def _ping_default_node_name(rendered):
    # The original file pinged celery@$HOSTNAME while the worker is orders@%h.
    rendered["services"]["worker-orders"]["healthcheck"]["test"] = [
        "CMD-SHELL", "celery -A workers.app inspect ping -d celery@$HOSTNAME --timeout 5 >/dev/null"]


def test_a_healthcheck_pinging_another_node_name_fails(make_stack):
    stack = make_stack(_ping_default_node_name)
    checks.check_migrate(stack)
    stack.start("worker-orders")
    with pytest.raises(AssertionError, match="worker-orders's healthcheck failed"):
        checks.check_worker_health(stack, "worker-orders")


def _receiver_without_multiprocess_metrics(rendered):
    del rendered["services"]["receiver"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]


def test_receiver_metrics_without_a_shared_directory_fail(make_stack):
    stack = make_stack(_receiver_without_multiprocess_metrics)
    checks.check_migrate(stack)
    stack.start("receiver")
    checks.check_receiver_ready(stack)
    with pytest.raises(AssertionError, match="counters are per process"):
        checks.check_metrics_across_workers(stack)
