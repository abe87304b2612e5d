"""The ShipBob webhook receiver (served by gunicorn through webhooks.wsgi:app).

A thin entrypoint: it wires settings, the secret source, the inbox and the
wake-up call; the flows run in workers, never in a request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response

from connector.gauges import collector_for
from connector.settings import Settings, load_settings
from webhooks.console import console_blueprint
from webhooks.health import Readiness, celery_broker_check, database_check, health_blueprint
from webhooks.ifs_events import ifs_events_blueprint
from webhooks.metrics import ReceiverMetrics
from webhooks.receiver import Receiver
from webhooks.secrets import SecretSource
from webhooks.topics import handled_topics

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    enqueue: Callable[[int], None] | None = None,
    broker_check: Callable[[], None] | None = None,
    wake_job: Callable[[int, str, str], None] | None = None,
) -> Flask:
    settings = settings or load_settings()
    if enqueue is None or broker_check is None or wake_job is None:
        # Imported here, not at module level: it builds a Celery app.
        from workers.dispatch import WebhookPublisher

        publisher = WebhookPublisher(settings.webhook_publish_timeout_seconds)
        enqueue = enqueue or publisher
        broker_check = broker_check or (lambda: celery_broker_check(publisher.app))
        wake_job = wake_job or publisher.wake_job
    statement_timeout = settings.webhook_statement_timeout_seconds

    configured = settings.webhook_secrets()
    if not configured:
        log.warning("SHIPBOB_WEBHOOK_SECRET is not set: only the secret stored by "
                    "`ifs-shipbob webhooks subscribe` can verify deliveries")
    secrets = SecretSource(configured, settings.database_url, statement_timeout=statement_timeout)
    # The state gauges live here, the one service that is always up (see connector/gauges.py).
    metrics = ReceiverMetrics(collector_for(settings, statement_timeout))
    receiver = Receiver(
        secrets=secrets,
        database_url=settings.database_url,
        body_limit=settings.webhook_body_limit_bytes,
        enqueue=enqueue,
        metrics=metrics,
        body_timeout=settings.webhook_body_timeout_seconds,
        statement_timeout=statement_timeout,
        handled_topics=handled_topics(settings.shipbob_webhook_extra_topics),
    )

    app = Flask(__name__)
    app.register_blueprint(receiver.blueprint())
    app.register_blueprint(ifs_events_blueprint(settings, wake_job, metrics))
    readiness = Readiness({"database": database_check(settings.database_url, statement_timeout),
                           "broker": broker_check})
    app.register_blueprint(health_blueprint(readiness))
    app.add_url_rule(
        "/metrics", "metrics", lambda: Response(metrics.render(), content_type=metrics.content_type)
    )
    if settings.console_users:  # the operations console: off unless configured
        app.register_blueprint(console_blueprint(settings))
    app.extensions["ifs_shipbob_metrics"] = metrics  # for tests and embedding apps
    app.extensions["ifs_shipbob_readiness"] = readiness
    return app
