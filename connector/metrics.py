"""Prometheus metrics of the flows and the API clients.

Worker processes export them through workers/metrics.py (multiprocess mode
when PROMETHEUS_MULTIPROC_DIR is set, as in docker-compose.yml). A metric
that cannot be written (the directory vanished, a full tmpfs) is logged once
and skipped: counting must never fail a flow.
"""

from __future__ import annotations

import logging
import os
from typing import Literal

from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# How a Gauge's values from several processes combine (prometheus_client).
MultiprocessMode = Literal["all", "liveall", "min", "livemin", "max", "livemax", "sum", "livesum",
                           "mostrecent", "livemostrecent"]


def ensure_multiproc_dir() -> str | None:
    """Create PROMETHEUS_MULTIPROC_DIR if it is set and missing (a tmpfs
    mounted over it starts empty); returns it, or None when unset or not
    creatable (then values cannot be written and are skipped)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return None
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        log.warning("metrics directory %s cannot be created (%s): metrics are not recorded",
                    directory, exc.strerror)
        return None
    return directory


class _Child:
    def __init__(self, metric: "_Safe", labels: tuple[str, ...]):
        self._metric = metric
        self._labels = labels

    def inc(self, amount: float = 1) -> None:
        self._metric.record("inc", self._labels, amount)

    def observe(self, amount: float) -> None:
        self._metric.record("observe", self._labels, amount)


class _Safe:
    """`metric.labels(...).inc()` / `.observe()` that never raises."""

    def __init__(self, metric: Counter | Histogram):
        self.metric = metric
        self._warned = False

    def labels(self, *labels: str) -> _Child:
        return _Child(self, labels)

    def record(self, method: str, labels: tuple[str, ...], amount: float) -> None:
        try:
            getattr(self.metric.labels(*labels), method)(amount)
        except OSError as exc:  # multiprocess mode writes a file per process
            if not self._warned:
                self._warned = True
                log.warning("metric %s not recorded: %s", self.metric._name, exc.strerror or exc)


class _SafeGauge:
    """A label-less Gauge whose `set()` never raises: in multiprocess mode
    such a gauge opens its file when it is made, so that is guarded too."""

    def __init__(self, name: str, documentation: str, multiprocess_mode: MultiprocessMode = "all"):
        self.gauge: Gauge | None = None
        try:
            self.gauge = Gauge(name, documentation, multiprocess_mode=multiprocess_mode)
        except OSError as exc:
            log.warning("metric %s not recorded: %s", name, exc.strerror or exc)

    @property
    def _value(self) -> object:  # for tests, as on a Gauge
        return self.gauge._value if self.gauge else None

    def set(self, value: float) -> None:
        if self.gauge is None:
            return
        try:
            self.gauge.set(value)
        except OSError as exc:
            log.warning("metric %s not recorded: %s", self.gauge._name, exc.strerror or exc)


ensure_multiproc_dir()

JOB_RUNS = _Safe(Counter("ifs_shipbob_job_runs_total", "Job runs by flow and outcome", ["flow", "outcome"]))
JOB_SECONDS = _Safe(Histogram("ifs_shipbob_job_duration_seconds", "Job run time by flow", ["flow"],
                              buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)))
RATE_LIMITED = _Safe(Counter("ifs_shipbob_rate_limited_total", "429 answers by API", ["api"]))
RATE_LIMIT_WAIT = _Safe(Counter("ifs_shipbob_rate_limit_wait_seconds_total",
                                "Seconds spent waiting for the shared rate limiter", ["api"]))
# 1 while ShipBob refuses every refresh token the connector has and jobs wait
# for `ifs-shipbob auth shipbob`; 0 once a token works. The most recent value
# of any live process wins (a refresh in one process clears it for the pool).
SHIPBOB_REAUTHORISATION_NEEDED = _SafeGauge(
    "ifs_shipbob_shipbob_reauthorisation_needed",
    "1 while ShipBob OAuth needs re-authorisation (jobs wait), else 0",
    multiprocess_mode="livemostrecent")
