"""Webhook subscriptions and the events the flows raise (shipbob.md §6).

POST /webhook answers 200 (not 201) with a string id and the secret, generated when none
is sent; GET never shows secrets; there is no update, only DELETE (204) and re-create.
An event is delivered to every subscription listing its topic; topics the configured API
version does not have are never sent (2026-01 has no order.shipment.tracking.updated).

The topics follow `webhook_api_version` (default: the API version). Set apart from the API
version, the subscription routes answer under that version's prefix as well, and only a
subscription made there may list its topics. What ShipBob does not publish is
configuration: each order topic's body (`webhook_bodies`), WRO topic names
(`wro_webhook_topics`) and further topic names (`extra_webhook_topics`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urlparse

from flask import Blueprint, request

from . import paging, timeutil
from .delivery import Dispatcher, new_secret
from .errors import not_found, object_result
from .web import arg_int, json_body, world

bp = Blueprint("webhooks", __name__)

_V2025_07 = ["order.shipped", "order.shipment.delivered", "order.shipment.exception",
             "order.shipment.on_hold", "order.shipment.cancelled",
             "return.created", "return.updated", "return.completed"]
_V2026_01 = _V2025_07 + ["billing.charge.created", "billing.refund.created", "billing.credit.created"]
_V2026_07 = _V2026_01 + ["order.delivered", "order.shipment.tracking.updated",
                         "order.shipment.address.updated", "order.shipment.line_item.added",
                         "order.shipment.line_item.removed", "order.shipment.line_item.updated",
                         "order.shipment.shipping_service.updated"]
TOPICS = {"2025-07": _V2025_07, "2026-01": _V2026_01, "2026-07": _V2026_07}
SECRET_PATTERN = re.compile(r"^whsec_[a-zA-Z0-9+/]{32}$")


# The body of each order topic unless `webhook_bodies` says otherwise: the legacy topics'
# documented payloads (order.shipped: the order), 2026-07's order.delivered: the order;
# every order.shipment.* topic: the shipment (⚠ ShipBob publishes no payloads).
BODIES = {"order.shipped": "order", "order.delivered": "order"}


def topics_for(api_version: str) -> list[str]:
    return TOPICS.get(api_version, _V2026_01)


def request_version() -> str:
    """The API version a request came in under: the first path segment."""
    return request.path.lstrip("/").split("/", 1)[0]


@dataclass
class Subscription:
    id: str
    url: str
    topics: list[str]
    description: str | None
    secret: str
    created_at: str

    def view(self) -> dict:  # GET /webhook items: no secret
        return {"id": self.id, "url": self.url, "topics": self.topics, "enabled": True,
                "description": self.description, "created_at": self.created_at}


class Webhooks:
    def __init__(self, w, dispatcher: Dispatcher):
        self.w = w
        self.dispatcher = dispatcher
        cfg = w.config
        extras = list(cfg.wro_webhook_topics.values()) + list(cfg.extra_webhook_topics)
        # Every topic that may be subscribed to and sent.
        self.topics = list(dict.fromkeys(topics_for(cfg.topics_version) + extras))
        self.subscriptions: dict[str, Subscription] = {}

    def topics_at(self, version: str) -> list[str]:
        """The topics a subscription made under /{version}/ may list."""
        return self.topics if version == self.w.config.topics_version else topics_for(version)

    def subscribe(self, body: dict, version: str | None = None) -> Subscription:
        errors = self._errors(body, version or self.w.config.topics_version)
        if errors:
            raise object_result(errors)  # the spec declares 422 for this operation
        sub = Subscription(str(self.w.ids.next("webhook")), body["url"], list(body["topics"]),
                           body.get("description"), body.get("secret") or new_secret(),
                           timeutil.iso(timeutil.now()))
        self.subscriptions[sub.id] = sub
        return sub

    def _errors(self, body: dict, version: str) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        topics = body.get("topics")
        allowed = self.topics_at(version)
        if not isinstance(topics, list) or not topics:
            errors["topics"] = ["The topics field is required."]
        else:
            for i, t in enumerate(topics):
                if t not in allowed:
                    errors[f"topics[{i}]"] = [f"'{t}' is not a {version} topic."]
        url = body.get("url")
        parsed = urlparse(url) if isinstance(url, str) else None
        schemes = ("https", "http") if self.w.config.allow_http_webhook_urls else ("https",)
        if parsed is None or parsed.scheme not in schemes or not parsed.netloc:
            errors["url"] = [f"The url must be an absolute {' or '.join(schemes).upper()} URL."]
        secret = body.get("secret")
        if secret is not None and not (isinstance(secret, str) and SECRET_PATTERN.match(secret)):
            errors["secret"] = ["The secret must match ^whsec_[a-zA-Z0-9+/]{32}$."]
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            errors["description"] = ["The description must be a string."]
        return errors

    def emit(self, topic: str, payload: dict) -> None:
        """Queue one message per subscription to `topic`; the body is serialised once."""
        subs = self._subscribers(topic)
        if not subs:
            return
        body = json.dumps(payload, separators=(",", ":")).encode()
        for sub in subs:
            self.dispatcher.enqueue(sub, topic, body)

    def emit_order_event(self, topic: str, order, shipment=None) -> None:
        """An order topic, with the body `webhook_bodies` (else BODIES) names for it: the
        order, or the shipment (the order when the event has no single shipment)."""
        if not self._subscribers(topic):
            return
        kind = self.w.config.webhook_bodies.get(topic) or BODIES.get(topic, "shipment")
        orders = self.w.orders
        if kind == "shipment" and shipment is not None:
            self.emit(topic, orders.shipment_view(shipment))
        else:
            self.emit(topic, orders.order_view(order))

    def emit_wro_event(self, event: str, view: dict) -> None:
        """A WRO event, sent only under the topic name `wro_webhook_topics` gives it."""
        topic = self.w.config.wro_webhook_topics.get(event)
        if topic:
            self.emit(topic, view)

    def _subscribers(self, topic: str) -> list[Subscription]:
        if topic not in self.topics:
            return []
        return [sub for sub in self.subscriptions.values() if topic in sub.topics]


@bp.post("/webhook")
def create_subscription():
    w = world()
    body = json_body()
    with w.lock:
        sub = w.webhooks.subscribe(body, request_version())
    return {"id": sub.id, "created_at": sub.created_at, "description": sub.description,
            "secret": sub.secret, "topics": sub.topics, "url": sub.url}, 200


@bp.get("/webhook")
def list_subscriptions():
    w = world()
    size = arg_int("RecordsPerPage", 50, 1, 250)
    with w.lock:
        return paging.cursor_list(list(w.webhooks.subscriptions.values()), size,
                                  Subscription.view)


@bp.delete("/webhook/<sub_id>")
def delete_subscription(sub_id: str):
    w = world()
    with w.lock:
        if w.webhooks.subscriptions.pop(sub_id, None) is None:
            raise not_found("Webhook subscription", sub_id)
    return "", 204
