"""The Celery app: `celery -A workers.app worker|beat`.

One queue per flow, late acks (every task is idempotent: it claims a row
first), prefetch 1, and a beat schedule for polls, the sweeper and the daily
inventory sync.
"""

from __future__ import annotations

from celery import Celery
from celery.schedules import crontab
from celery.signals import setup_logging

from connector import logs
from connector.db.models import Flow
from connector.settings import load_settings
from workers import embedded_broker  # noqa: F401 - registers the embedded+ transport

# A flow without a queue of its own runs on another's workers: a stock
# shortage's re-check is an order matter, served by the order push workers.
SHARED_QUEUES = {Flow.STOCK_SHORTAGE.value: Flow.ORDER_PUSH.value}
# The sweeper has a queue of its own: it is what finds a job whose worker froze
# or died, and must not wait behind a backlog of polls.
QUEUES = [f.value for f in Flow if f.value not in SHARED_QUEUES] + ["webhooks", "polls", "sweep"]
# A task reserved longer than this is redelivered; every retry countdown in
# connector.jobs stays below it (MAX_RETRY_DELAY = 15 min).
VISIBILITY_TIMEOUT = 60 * 60


def queue_for(flow: str) -> str:
    return SHARED_QUEUES.get(flow) or (flow if flow in QUEUES else "polls")


def _transport_options(settings, publish_timeout: float | None = None) -> dict:
    # Kombu passes these to the transport: only Redis understands them (the
    # SQLAlchemy transport of the embedded default hands them to create_engine).
    if not settings.effective_broker_url.startswith("redis"):
        return {}
    options = {
        "visibility_timeout": VISIBILITY_TIMEOUT,
        # Our keys only, so deployments and test runs can share a Redis.
        "global_keyprefix": settings.redis_prefix,
    }
    if publish_timeout is not None:
        options.update(
            # Without these a broker that accepts connections but never
            # answers holds a publish forever (kombu's redis transport notes).
            socket_timeout=publish_timeout,
            socket_connect_timeout=publish_timeout,
            socket_keepalive=True,
            # kombu retries connecting forever by default.
            max_retries=0,
        )
    return options


def stale_after(period: float) -> float:
    return max(10 * period, 60.0)


def beat_schedule(settings) -> dict:
    polls = {
        "orders": settings.order_poll_seconds,
        "unpushed": settings.unpushed_poll_seconds,
        "tracking": settings.tracking_poll_seconds,
        "shipments": settings.shipments_poll_seconds,
        "replenishment": settings.replenishment_poll_seconds,
        "receiving": settings.receiving_poll_seconds,
        "returns": settings.returns_poll_seconds,
        "inventory_activity": settings.inventory_activity_poll_seconds,
    }
    # A periodic task not started within ten of its periods (a minute at
    # least) expires unrun: a pool that was down or swamped meets at most ten
    # of each on its return, not a pile of stale ones. Not sooner, or a busy pool
    # that reaches each queue late would drop every poll and every sweep.
    schedule = {
        f"poll-{name}": {"task": "workers.tasks.poll", "args": [name], "schedule": seconds,
                         "options": {"queue": "polls", "expires": stale_after(seconds)}}
        for name, seconds in polls.items()
    }
    schedule["sweep"] = {"task": "workers.tasks.sweep", "schedule": settings.sweep_seconds,
                         "options": {"queue": "sweep", "expires": stale_after(settings.sweep_seconds)}}
    schedule["inventory-sync-daily"] = {
        "task": "workers.tasks.sync_inventory",
        "schedule": crontab(hour=settings.inventory_sync_hour_utc, minute=0),
        "options": {"queue": "inventory_sync"},
    }
    return schedule


def make_app(publish_timeout: float | None = None) -> Celery:
    """`publish_timeout`: an app that only publishes (the receiver), whose
    every broker socket operation gives up after that many seconds."""
    settings = load_settings()
    celery = Celery("ifs_shipbob", broker=settings.effective_broker_url,
                    include=["workers.tasks", "workers.metrics"])
    celery.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="polls",
        task_queues=None,
        task_create_missing_queues=True,
        task_ignore_result=True,
        # Task events for Flower (`-E`): workers run without gossip and
        # heartbeats, and then Flower's `enable_events` broadcast finds no
        # event dispatcher, so without this Flower lists no task at all.
        worker_send_task_events=True,
        broker_transport_options=_transport_options(settings, publish_timeout),
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        worker_hijack_root_logger=False,
        beat_schedule=beat_schedule(settings),
    )
    if publish_timeout is not None:
        celery.conf.broker_connection_timeout = publish_timeout
    return celery


@setup_logging.connect
def _json_logs(**_kwargs) -> None:
    # Celery's own handlers would bypass the secret filter: use ours.
    logs.configure(load_settings())


app = make_app()
