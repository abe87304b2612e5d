"""Webhook subscriptions and the events the flows raise (shipbob.md §6).

POST /webhook answers 200 (not 201) with a string id and the secret, generated when none
is sent; GET never shows secrets; there is no update, only DELETE (204) and re-create.
An event is delivered to every subscription listing its topic; topics the configured API
version does not have are never sent (2026-01 has no order.shipment.tracking.updated).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urlparse

from flask import Blueprint

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


def topics_for(api_version: str) -> list[str]:
    return TOPICS.get(api_version, _V2026_01)


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
        self.topics = topics_for(w.config.api_version)
        self.subscriptions: dict[str, Subscription] = {}

    def subscribe(self, body: dict) -> Subscription:
        errors = self._errors(body)
        if errors:
            raise object_result(errors)  # the spec declares 422 for this operation
        sub = Subscription(str(self.w.ids.next("webhook")), body["url"], list(body["topics"]),
                           body.get("description"), body.get("secret") or new_secret(),
                           timeutil.iso(timeutil.now()))
        self.subscriptions[sub.id] = sub
        return sub

    def _errors(self, body: dict) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        topics = body.get("topics")
        if not isinstance(topics, list) or not topics:
            errors["topics"] = ["The topics field is required."]
        else:
            for i, t in enumerate(topics):
                if t not in self.topics:
                    errors[f"topics[{i}]"] = [f"'{t}' is not a {self.w.config.api_version} topic."]
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
        if topic not in self.topics:
            return
        body = json.dumps(payload, separators=(",", ":")).encode()
        for sub in self.subscriptions.values():
            if topic in sub.topics:
                self.dispatcher.enqueue(sub, topic, body)


@bp.post("/webhook")
def create_subscription():
    w = world()
    body = json_body()
    with w.lock:
        sub = w.webhooks.subscribe(body)
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
