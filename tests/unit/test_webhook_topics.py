from __future__ import annotations

import pytest

from webhooks.topics import HANDLED_TOPICS, handled_topics, metric_label, topics_for_version


def test_2026_01_subscribes_to_the_handled_topics_of_its_enum_only():
    assert topics_for_version("2026-01") == sorted(
        [
            "order.shipped",
            "order.shipment.delivered",
            "order.shipment.exception",
            "order.shipment.on_hold",
            "order.shipment.cancelled",
            "return.created",
            "return.updated",
            "return.completed",
        ]
    )


def test_2026_07_adds_delivery_and_tracking_topics():
    topics = topics_for_version("2026-07")
    assert {"order.delivered", "order.shipment.tracking.updated"} <= set(topics)
    assert set(topics_for_version("2026-01")) < set(topics)


def test_2026_07_adds_its_order_topics_and_nothing_unpublished():
    added = set(topics_for_version("2026-07")) - set(topics_for_version("2026-01"))
    assert added == {
        "order.delivered",
        "order.shipment.tracking.updated",
        "order.shipment.address.updated",
        "order.shipment.line_item.added",
        "order.shipment.line_item.removed",
        "order.shipment.line_item.updated",
        "order.shipment.shipping_service.updated",
    }


def test_configured_extra_topics_are_subscribed_and_handled():
    assert "wro.box.stowed" in topics_for_version("2026-01", ["wro.box.stowed"])
    assert topics_for_version("2026-07", ["order.delivered"]) == topics_for_version("2026-07")
    assert handled_topics(["wro.box.stowed"]) == HANDLED_TOPICS | {"wro.box.stowed"}
    assert handled_topics() == HANDLED_TOPICS
    assert metric_label("wro.box.stowed", handled_topics(["wro.box.stowed"])) == "wro.box.stowed"
    assert metric_label("wro.box.stowed") == "other"


def test_billing_and_unconfirmed_wro_topics_are_never_subscribed():
    for version in ("2025-07", "2026-01", "2026-07"):
        topics = topics_for_version(version)
        assert not [t for t in topics if t.startswith(("billing.", "wro."))]
        assert set(topics) <= HANDLED_TOPICS


def test_wro_topics_are_still_handled_if_they_arrive():
    assert {"wro.created", "wro.updated", "wro.completed"} <= HANDLED_TOPICS


def test_unknown_version_is_a_clear_error():
    with pytest.raises(ValueError, match="2026-01"):
        topics_for_version("1.0")


def test_metric_label_bounds_cardinality():
    assert metric_label("order.shipped") == "order.shipped"
    assert metric_label("billing.charge.created") == "billing.charge.created"
    assert metric_label("anything.an.attacker.sends") == "other"
    assert metric_label(None) == "other"
