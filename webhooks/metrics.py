"""Prometheus metrics of the receiver.

Each app gets its own CollectorRegistry, so calling create_app() repeatedly
(tests, several apps in one process) never hits duplicate registration.
Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR (compose
does): values are then written per process and /metrics sums them, so the
counters are the same whichever worker answers and survive worker restarts.
"""

from __future__ import annotations

import logging
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

from connector.metrics import MULTIPROC_ENV, ensure_multiproc_dir
from connector.webhook_outcomes import DeliveryOutcome

log = logging.getLogger(__name__)

# The `outcome` label's values: connector.webhook_outcomes.DeliveryOutcome.
OUTCOMES = tuple(DeliveryOutcome)


class ReceiverMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, state: Collector | None = None) -> None:
        """`state`: the gauges computed from the database at scrape time
        (connector/gauges.py), added to every rendering."""
        ensure_multiproc_dir()
        self.state = state
        self.registry = CollectorRegistry(auto_describe=True)
        self.received = Counter(
            "ifs_shipbob_webhooks_received",
            "ShipBob webhook deliveries by topic and outcome.",
            ["topic", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ifs_shipbob_webhook_request_seconds",
            "Time to answer a ShipBob webhook delivery.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0),
            registry=self.registry,
        )

    def count(self, topic_label: str, outcome: DeliveryOutcome) -> None:
        try:
            self.received.labels(topic=topic_label, outcome=outcome).inc()
        except OSError as exc:  # counting must never fail a delivery
            log.warning("webhook metric not recorded: %s", exc.strerror or exc)

    def render(self) -> bytes:
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            body = generate_latest(registry)
        else:
            body = generate_latest(self.registry)
        if self.state is not None:
            state = CollectorRegistry(auto_describe=False)
            state.register(self.state)
            body += generate_latest(state)
        return body
