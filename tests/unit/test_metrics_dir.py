"""PROMETHEUS_MULTIPROC_DIR under a fresh tmpfs does not exist yet: it is
created at start-up, and a metric that cannot be written never fails a flow.
prometheus_client picks its mode when imported, so each case runs in a
process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

COUNT_A_JOB = (
    "from connector import metrics\n"
    "metrics.JOB_RUNS.labels('order_push', 'done').inc()\n"
    "metrics.JOB_SECONDS.labels('order_push').observe(0.2)\n"
    "metrics.RATE_LIMITED.labels('shipbob').inc()\n"
    "print('counted')\n"
)


def _run(code: str, directory: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_missing_directory_is_created_and_written(tmp_path):
    directory = tmp_path / "metrics"
    result = _run(COUNT_A_JOB, directory)
    assert result.returncode == 0, result.stderr
    assert any(p.name.startswith("counter_") for p in directory.iterdir())


def test_an_unwritable_directory_skips_the_metric_not_the_flow(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    result = _run(COUNT_A_JOB, blocker / "metrics")
    assert result.returncode == 0, result.stderr
    assert "counted" in result.stdout
    assert "not recorded" in result.stderr


def test_receiver_metrics_create_the_directory_and_sum_processes(tmp_path):
    directory = tmp_path / "metrics"
    code = ("from webhooks.metrics import ReceiverMetrics\n"
            "m = ReceiverMetrics(); m.count('order.shipped', 'accepted'); print(m.render().decode())")
    first = _run(code, directory)
    second = _run(code, directory)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    # The second process sees the first one's count too.
    assert 'ifs_shipbob_webhooks_received_total{outcome="accepted",topic="order.shipped"} 2.0' in second.stdout
