"""Prometheus metrics of the flows and the API clients.

Worker processes export them through workers/metrics.py (multiprocess mode
when PROMETHEUS_MULTIPROC_DIR is set, as in docker-compose.yml).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

JOB_RUNS = Counter("ifs_shipbob_job_runs_total", "Job runs by flow and outcome", ["flow", "outcome"])
JOB_SECONDS = Histogram("ifs_shipbob_job_duration_seconds", "Job run time by flow", ["flow"],
                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
RATE_LIMITED = Counter("ifs_shipbob_rate_limited_total", "429 answers by API", ["api"])
RATE_LIMIT_WAIT = Counter("ifs_shipbob_rate_limit_wait_seconds_total",
                          "Seconds spent waiting for the shared rate limiter", ["api"])
# 1 while ShipBob refuses every refresh token the connector has and jobs wait
# for `ifs-shipbob auth shipbob`; 0 once a token works. The most recent value
# of any live process wins (a refresh in one process clears it for the pool).
SHIPBOB_REAUTHORISATION_NEEDED = Gauge(
    "ifs_shipbob_shipbob_reauthorisation_needed",
    "1 while ShipBob OAuth needs re-authorisation (jobs wait), else 0",
    multiprocess_mode="livemostrecent")
