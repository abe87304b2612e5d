"""ShipBob webhook topics: what the receiver hands to workers, and what each
API version lets us subscribe to (README "ShipBob webhook topics")."""

from __future__ import annotations

from collections.abc import Iterable

# Topics the receiver stores AND enqueues; any other verified topic is stored
# as "ignored". wro.* are only known from third-party material, so they are
# handled if they ever arrive but never subscribed to unless configured
# (SHIPBOB_WEBHOOK_EXTRA_TOPICS). The order.* topics all wake the order's
# shipment voucher job, which re-reads the order.
HANDLED_TOPICS: frozenset[str] = frozenset(
    {
        "order.shipped",
        "order.shipment.delivered",
        "order.shipment.exception",
        "order.shipment.on_hold",
        "order.shipment.cancelled",
        # 2026-07 (developer.shipbob.com/2026-07/api/webhooks/create-subscription)
        "order.shipment.tracking.updated",
        "order.delivered",
        "order.shipment.address.updated",
        "order.shipment.line_item.added",
        "order.shipment.line_item.removed",
        "order.shipment.line_item.updated",
        "order.shipment.shipping_service.updated",
        "return.created",
        "return.updated",
        "return.completed",
        "wro.created",
        "wro.updated",
        "wro.completed",
    }
)

_TOPICS_2025_07 = frozenset(
    {
        "order.shipped",
        "order.shipment.delivered",
        "order.shipment.exception",
        "order.shipment.on_hold",
        "order.shipment.cancelled",
        "return.created",
        "return.updated",
        "return.completed",
    }
)
_TOPICS_2026_01 = _TOPICS_2025_07 | {
    "billing.charge.created",
    "billing.refund.created",
    "billing.credit.created",
}
_TOPICS_2026_07 = _TOPICS_2026_01 | {
    "order.delivered",
    "order.shipment.tracking.updated",
    "order.shipment.address.updated",
    "order.shipment.line_item.added",
    "order.shipment.line_item.removed",
    "order.shipment.line_item.updated",
    "order.shipment.shipping_service.updated",
}

# The subscription enum of each dated API version (POST /{version}/webhook
# rejects topics outside it).
TOPICS_BY_VERSION: dict[str, frozenset[str]] = {
    "2025-07": _TOPICS_2025_07,
    "2026-01": _TOPICS_2026_01,
    "2026-07": _TOPICS_2026_07,
}

# Every topic name we know of; anything else is labelled "other" in metrics so
# an unauthenticated sender cannot blow up label cardinality.
KNOWN_TOPICS: frozenset[str] = HANDLED_TOPICS.union(*TOPICS_BY_VERSION.values())


def topics_for_version(version: str, extra: Iterable[str] = ()) -> list[str]:
    """The handled topics that `version` can subscribe to, and the configured
    `extra` names (ShipBob's list is partial: its answer is the judge), sorted."""
    try:
        available = TOPICS_BY_VERSION[version]
    except KeyError:
        known = ", ".join(sorted(TOPICS_BY_VERSION))
        raise ValueError(f"unknown ShipBob API version {version!r} (known: {known})") from None
    return sorted((HANDLED_TOPICS & available) | set(extra))


def handled_topics(extra: Iterable[str] = ()) -> frozenset[str]:
    """What the receiver enqueues: the handled topics and the configured extras."""
    return HANDLED_TOPICS | frozenset(extra)


def metric_label(topic: str | None, extra: Iterable[str] = ()) -> str:
    return topic if topic is not None and (topic in KNOWN_TOPICS or topic in extra) else "other"
