"""Worker metrics endpoint: per-flow runs, durations, retries, 429s, waits.

Celery's prefork children each count in their own process; with
PROMETHEUS_MULTIPROC_DIR set they write to that directory and the worker's
main process serves the sum on WORKER_METRICS_PORT (default 9808).
"""

from __future__ import annotations

import logging
import os

from celery.signals import worker_ready

from connector.metrics import ensure_multiproc_dir

log = logging.getLogger(__name__)


@worker_ready.connect
def serve_metrics(**_kwargs) -> None:
    port = int(os.environ.get("WORKER_METRICS_PORT", "9808"))
    if port <= 0:
        return
    from prometheus_client import CollectorRegistry, start_http_server

    registry = None
    if ensure_multiproc_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    try:
        start_http_server(port, registry=registry) if registry else start_http_server(port)
        log.info("worker metrics on :%d/metrics", port)
    except OSError as exc:  # another worker on this host has the port
        log.warning("worker metrics not served: %s", exc)
