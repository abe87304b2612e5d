"""Operational gauges computed from the stored state at scrape time.

A custom Prometheus collector: every scrape reads the database (and the
shared Redis stats), so the numbers are the same whichever process answers,
however many gunicorn processes or Celery prefork children there are. The
receiver serves it on /metrics (webhooks/app.py): one always-up service,
where a worker service scaled to N would report every gauge N times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from connector import kv
from connector.db.models import Flow, Job, JobState, WebhookEvent
from connector.polls import POLL_NAMES
from connector.shipbob.auth import refusal_state

if TYPE_CHECKING:
    from connector.settings import Settings

log = logging.getLogger(__name__)

# States that mean "not settled": the counts stay cheap (the (state,
# next_run_at) index), where done rows grow without bound.
OPEN_STATES = (JobState.PENDING, JobState.RUNNING, JobState.ATTENTION, JobState.FAILED)
SHIPBOB_LIMITER = "shipbob"


class StateCollector(Collector):
    def __init__(self, session: Callable[[], AbstractContextManager[Session]], read_limiter: Callable[[], dict[str, str]] | None,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        """`session`: a context manager factory for a database session;
        `read_limiter`: the pool-wide ShipBob limiter stats (None when they
        live in one worker process only, the embedded default)."""
        self.session, self.read_limiter, self.now = session, read_limiter, now

    def describe(self) -> list[Metric]:  # computed per scrape: nothing to check at registration
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("ifs_shipbob_gauge_source_up",
                               "1 when this scrape could read the source of the state gauges", labels=["source"])
        try:
            with self.session() as session:
                families = list(self._from_database(session))
            yield from families
            up.add_metric(["database"], 1)
        except Exception as exc:  # noqa: BLE001 - a scrape must answer even with the database away
            log.warning("state gauges: database unreadable: %s", type(exc).__name__)
            up.add_metric(["database"], 0)
        if self.read_limiter is not None:
            try:
                stats = self.read_limiter()
                yield from self._from_limiter(stats)
                up.add_metric(["redis"], 1)
            except Exception as exc:  # noqa: BLE001
                log.warning("state gauges: limiter stats unreadable: %s", type(exc).__name__)
                up.add_metric(["redis"], 0)
        yield up

    # ------------------------------------------------------------ database

    def _from_database(self, session: Session) -> Iterator[Metric]:
        now = self.now()
        items = GaugeMetricFamily("ifs_shipbob_items", "Items (jobs) by flow and open state",
                                  labels=["flow", "state"])
        counts = dict(((f, s), n) for f, s, n in session.execute(
            select(Job.flow, Job.state, func.count()).where(Job.state.in_([s.value for s in OPEN_STATES]))
            .group_by(Job.flow, Job.state)).all())
        for flow in Flow:
            for state in OPEN_STATES:
                items.add_metric([flow.value, state.value], counts.get((flow.value, state.value), 0))
        yield items

        yield self._oldest(session, now, "ifs_shipbob_oldest_pending_age_seconds",
                           "Age of the oldest pending item per flow since it was created (0: none)",
                           JobState.PENDING, Job.created_at)
        yield self._oldest(session, now, "ifs_shipbob_oldest_attention_age_seconds",
                           "Time the longest-parked item per flow has waited for a person (0: none)",
                           JobState.ATTENTION, Job.updated_at)

        polls = GaugeMetricFamily("ifs_shipbob_poll_last_success_age_seconds",
                                  "Seconds since each poll last succeeded (absent: never)", labels=["poll"])
        for name in POLL_NAMES:
            stamp = kv.get(session, f"poll.{name}.last_success")
            if stamp:
                polls.add_metric([name], _age(now, datetime.fromisoformat(stamp)))
        yield polls

        oldest_event, waiting = session.execute(
            select(func.min(WebhookEvent.received_at), func.count()).where(WebhookEvent.processed_at.is_(None))
        ).one()
        yield GaugeMetricFamily("ifs_shipbob_webhook_inbox_lag_seconds",
                                "Age of the oldest stored webhook event not yet processed (0: none)",
                                value=_age(now, oldest_event) if oldest_event else 0)
        yield GaugeMetricFamily("ifs_shipbob_webhook_inbox_unprocessed",
                                "Stored webhook events not yet processed", value=waiting)
        # The workers' gauge of the same name (connector/metrics.py) exists
        # only in a process that met the refusal; this one is read from the
        # refusal record, so it is right after restarts too.
        yield GaugeMetricFamily("ifs_shipbob_shipbob_reauthorisation_needed",
                                "1 while ShipBob refuses every stored OAuth refresh token "
                                "(re-authorise the app), else 0", value=1 if refusal_state(session) else 0)

    def _oldest(self, session: Session, now: datetime, name: str, doc: str, state: JobState,
                column: InstrumentedAttribute[datetime]) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, doc, labels=["flow"])
        oldest: dict[str, datetime] = dict(session.execute(
            select(Job.flow, func.min(column)).where(Job.state == state.value).group_by(Job.flow)).all())
        for flow in Flow:
            family.add_metric([flow.value], _age(now, oldest[flow.value]) if oldest.get(flow.value) else 0)
        return family

    # -------------------------------------------------------------- limiter

    def _from_limiter(self, stats: dict[str, str]) -> Iterator[Metric]:
        if "remaining_calls" in stats:
            yield GaugeMetricFamily("ifs_shipbob_shipbob_remaining_calls",
                                    "ShipBob's last x-remaining-calls answer (rate-limit headroom)",
                                    value=float(stats["remaining_calls"]))
        if "remaining_calls_at" in stats:
            seen = datetime.fromtimestamp(float(stats["remaining_calls_at"]), timezone.utc)
            yield GaugeMetricFamily("ifs_shipbob_shipbob_remaining_calls_age_seconds",
                                    "Seconds since that answer", value=_age(self.now(), seen))
        yield CounterMetricFamily("ifs_shipbob_shipbob_pool_rate_limited",
                                  "429 answers from ShipBob across the pool (kept in Redis; "
                                  "a Redis flush resets it)", value=float(stats.get("rate_limited_count", 0)))


def _age(now: datetime, then: datetime) -> float:
    # SQLite hands back naive datetimes even for timezone-aware columns.
    then = then if then.tzinfo else then.replace(tzinfo=timezone.utc)
    return max(0.0, (now - then).total_seconds())


def collector_for(settings: Settings, statement_timeout: float | None = None) -> StateCollector:
    """The collector over this deployment's database and (with REDIS_URL)
    the pool-wide limiter stats."""
    from connector.db.session import session_scope

    read_limiter = None
    if settings.redis_url:
        from connector.coordination import coordinator_for

        def read_limiter() -> dict[str, str]:
            return coordinator_for(settings).read(SHIPBOB_LIMITER)

    return StateCollector(lambda: session_scope(settings.database_url, statement_timeout), read_limiter)
