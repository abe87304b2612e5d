"""A cancellation in ShipBob's dashboard (the stand-in's hook): the API's
rules, but no webhook, as `order.shipment.cancelled` "does not fire for
manual or imported cancellations" (shipbob.md §6)."""

from __future__ import annotations

from tests.sandbox.test_shipbob_webhooks import (  # noqa: F401
    flush,
    new_order,
    receiver,
    receiver_server,
    sb,
    server,
    subscribe,
)


def test_a_dashboard_cancel_follows_the_api_rules_and_sends_no_webhook(sb, receiver):
    subscribe(sb, receiver, ["order.shipment.cancelled"])
    whole, one, picked = (new_order(sb, f"SO-{i}", 1) for i in range(3))

    assert sb.hook("POST", f"/orders/{whole['id']}/cancel").json()["status"] == "Success"
    shipment = one["shipments"][0]["id"]
    assert sb.hook("POST", f"/shipments/{shipment}/cancel").json()["status"] == "Cancelled"
    sb.hook("POST", f"/shipments/{picked['shipments'][0]['id']}/pick")
    refused = sb.hook("POST", f"/orders/{picked['id']}/cancel")
    assert refused.status_code == 409 and "picked" in refused.json()["error"]
    assert sb.hook("POST", f"/shipments/{shipment}/cancel").status_code == 409  # already cancelled

    assert [sb.api("GET", f"/order/{o['id']}").json()["status"] for o in (whole, one, picked)] == [
        "Cancelled", "Cancelled", "Processing"]
    flush(sb)
    assert receiver.got == []
    sb.api("POST", f"/order/{new_order(sb, 'SO-9', 1)['id']}:cancel")  # the API's does notify
    flush(sb)
    assert receiver.topics() == ["order.shipment.cancelled"]
