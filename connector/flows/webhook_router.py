"""Turn a stored webhook event into a job (the body is only a hint).

Shipment events become one job per ShipBob order, return events one per
return, WRO events one per purchase order: the job re-fetches authoritative
state, so duplicates and out-of-order events converge on the same result.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from connector import jobs
from connector.context import Context
from connector.db.models import Flow, WebhookEvent, utcnow
from connector.errors import PermanentError
from connector.flows.replenishment import base_po
from connector.webhook_outcomes import StoredOutcome, routed_to

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """The job an event is news for, and the references it adds to it."""

    flow: Flow
    key: str
    ifs_ref: str | None = None
    shipbob_refs: tuple[str, ...] = ()


def route_event(ctx: Context, event_id: int) -> tuple[int, str, str] | None:
    """Record the job for one event; returns (job_id, flow, key) to wake, if any."""
    with ctx.session() as session:
        event = session.get(WebhookEvent, event_id)
        if event is None or event.processed_at is not None:
            return None
        topic, body, webhook_id = event.topic, event.body, event.webhook_id
    outcome = StoredOutcome.IGNORED
    try:
        target = _target(ctx, topic, body)  # may ask ShipBob: outside any transaction
    except PermanentError as exc:  # e.g. a WRO id ShipBob does not know: not worth retrying
        target, outcome = None, StoredOutcome.FAILED
        log.error("webhook cannot be routed: %s", exc, extra={"webhook_id": webhook_id, "topic": topic})
    with ctx.session() as session:
        event = session.get(WebhookEvent, event_id, with_for_update=True)
        if event is None or event.processed_at is not None:
            return None  # another worker routed it meanwhile
        event.processed_at = utcnow()
        if target is None:
            event.outcome = outcome
            return None
        # The job's log lines carry the id of the event that last woke it.
        requested = jobs.request_job(session, target.flow.value, target.key, payload={"webhook_id": webhook_id},
                                     ifs_ref=target.ifs_ref, shipbob_refs=target.shipbob_refs)
        event.outcome = routed_to(requested.job_id)
        log.info("webhook routed", extra={"webhook_id": webhook_id, "topic": topic,
                                          "job_id": requested.job_id, "flow": target.flow.value})
        return (requested.job_id, target.flow.value, target.key) if requested.wake else None


def _target(ctx: Context, topic: str, raw_body: str) -> Target | None:
    try:
        body = json.loads(raw_body)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if topic.startswith("order."):
        order_id = order_id_of(body)
        if order_id is None:
            return None
        return Target(Flow.SHIPMENT_VOUCHER, str(order_id), shipbob_refs=(str(order_id),))
    if topic.startswith("return."):
        return_id = body.get("id") or body.get("return_id")
        if return_id is None:
            return None
        return Target(Flow.RETURN_VOUCHER, str(return_id), shipbob_refs=(str(return_id),))
    if topic.startswith("wro."):
        po = body.get("purchase_order_number")
        if not po and body.get("id") is not None:
            po = ctx.shipbob.get_wro(body["id"]).get("purchase_order_number")
        if not po:
            return None
        po = base_po(str(po))  # a chunk's events go to its purchase order's job
        return Target(Flow.INBOUND_RECEIPT, po, ifs_ref=po)
    return None


def order_id_of(body: Mapping[str, object]) -> str | None:
    """The ShipBob order an order.* body is about. ShipBob publishes no bodies
    and they differ per topic: a shipment (Orders.ShipmentViewModel, and the
    Logistics tracking body) names its order in `order_id`; an order
    (Orders.OrderViewModel) has none and is the order. A shipment whose
    `order_id` is null names no order: never taken for its own `id`."""
    order_id = body["order_id"] if "order_id" in body else body.get("id")
    if isinstance(order_id, int) and not isinstance(order_id, bool):
        return str(order_id)
    if isinstance(order_id, str) and order_id.strip().isascii() and order_id.strip().isdigit():
        return order_id.strip()
    return None
