"""The ShipBob webhook receiver (served by gunicorn through webhooks.wsgi:app).

A thin entrypoint: it wires settings, the secret source, the inbox and the
wake-up call; the flows run in workers, never in a request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response

from connector.settings import Settings, load_settings
from webhooks.health import celery_broker_check, database_check, health_blueprint
from webhooks.metrics import ReceiverMetrics
from webhooks.receiver import Receiver
from webhooks.secrets import SecretSource

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    enqueue: Callable[[int], None] | None = None,
    broker_check: Callable[[], None] | None = None,
) -> Flask:
    settings = settings or load_settings()
    if enqueue is None:
        # Imported here, not at module level: it builds the Celery app.
        from workers.dispatch import wake_webhook_event as enqueue

    configured = settings.webhook_secrets()
    if not configured:
        log.warning("SHIPBOB_WEBHOOK_SECRET is not set: only the secret stored by "
                    "`ifs-shipbob webhooks subscribe` can verify deliveries")
    secrets = SecretSource(configured, settings.database_url)
    metrics = ReceiverMetrics()
    receiver = Receiver(
        secrets=secrets,
        database_url=settings.database_url,
        body_limit=settings.webhook_body_limit_bytes,
        enqueue=enqueue,
        metrics=metrics,
    )

    app = Flask(__name__)
    app.register_blueprint(receiver.blueprint())
    app.register_blueprint(
        health_blueprint(
            {
                "database": database_check(settings.database_url),
                "broker": broker_check or celery_broker_check,
            }
        )
    )
    app.add_url_rule(
        "/metrics", "metrics", lambda: Response(metrics.render(), content_type=metrics.content_type)
    )
    app.extensions["ifs_shipbob_metrics"] = metrics  # for tests and embedding apps
    return app
