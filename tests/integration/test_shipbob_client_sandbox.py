"""ShipBobClient against the ShipBob sandbox over real HTTP: idempotent
order create, lookups, actions, and every pagination style (shipbob.md §3-§8)."""

from __future__ import annotations

import pytest

from connector.errors import PermanentError
from connector.shipbob import DuplicateReference, ShipBobNotFound

from .test_shipbob_client_support import (  # noqa: F401 - fixtures
    CHANNEL_ID,
    FC_ID,
    make_client,
    order_body,
    prefix,
    return_body,
    sandbox,
    wro_body,
)

pytestmark = pytest.mark.integration

SKUS = 600  # more than two pages of 250 for products and inventory levels


@pytest.fixture(scope="module")
def sb():
    handle = sandbox()
    yield handle
    handle.stop()


@pytest.fixture
def seeded(sb):
    sb.hook("POST", "/reset").raise_for_status()
    resp = sb.hook("POST", "/seed", json={"count": SKUS})
    resp.raise_for_status()
    return resp.json()["inventory_ids"]  # {sku: inventory_id}


@pytest.fixture
def client(sb, prefix):
    return make_client(sb, prefix)


def test_channels_and_fulfillment_centers(client, seeded):
    channels = client.channels()
    assert any(c["id"] == CHANNEL_ID and "orders_write" in c["scopes"] for c in channels)
    assert FC_ID in {fc["id"] for fc in client.fulfillment_centers()}


def test_duplicate_reference_then_lookup(client, seeded):
    sku = next(iter(seeded))
    created = client.create_order(order_body("IFS-1001", sku))
    assert created["reference_id"] == "IFS-1001" and created["status"] == "Processing"
    with pytest.raises(DuplicateReference) as info:
        client.create_order(order_body("IFS-1001", sku))
    assert info.value.reference_id == "IFS-1001" and info.value.status == 422
    found = client.find_orders_by_reference(["IFS-1001", "IFS-unknown"])
    assert [o["id"] for o in found] == [created["id"]]


def test_order_reads_and_actions(client, seeded):
    sku = next(iter(seeded))
    order = client.create_order(order_body("IFS-2001", sku))
    assert client.get_order(order["id"])["id"] == order["id"]
    shipments = client.order_shipments(order["id"])
    assert shipments and shipments[0]["order_id"] == order["id"]
    assert client.get_shipment(shipments[0]["id"])["id"] == shipments[0]["id"]
    assert client.cancel_order(order["id"])["status"] in ("Success", "PartialSuccess")
    with pytest.raises(ShipBobNotFound):
        client.get_order(999_999_999)


def test_tracking_poll_and_upload(sb, client, seeded):
    sku = next(iter(seeded))
    order = client.create_order(order_body("IFS-3001", sku))
    sb.hook("POST", f"/orders/{order['id']}/ship", json={"with_tracking": True}).raise_for_status()
    pending = list(client.orders(HasTracking=True, IsTrackingUploaded=False))
    assert [o["id"] for o in pending] == [order["id"]]
    shipment_ids = [s["id"] for s in pending[0]["shipments"]]
    client.mark_tracking_uploaded(shipment_ids)
    assert list(client.orders(HasTracking=True, IsTrackingUploaded=False)) == []
    assert client.get_shipment(shipment_ids[0])["is_tracking_uploaded"] is True


def test_validation_error_is_permanent_with_the_field_map(client, seeded):
    body = order_body("IFS-4001", next(iter(seeded)))
    del body["recipient"]
    with pytest.raises(PermanentError) as info:
        client.create_order(body)
    assert info.value.status == 400 and isinstance(info.value.body, dict)
    assert not isinstance(info.value, DuplicateReference)


def test_products_and_inventory_pages_return_every_item_once(client, seeded):
    products = list(client.products())
    skus = [v["sku"] for p in products for v in p["variants"]]
    assert sorted(skus) == sorted(seeded) and len(skus) == SKUS
    levels = list(client.inventory_levels())
    assert sorted(lv["inventory_id"] for lv in levels) == sorted(seeded.values())
    by_location = list(client.inventory_level_locations())
    assert sorted(lv["inventory_id"] for lv in by_location) == sorted(seeded.values())
    some = list(seeded.values())[:120]
    assert sorted(lv["inventory_id"] for lv in client.inventory_levels(some)) == sorted(some)
    at_fc = list(client.inventory_level_locations(location_id=FC_ID))
    assert all({loc["location_id"] for loc in lv["locations"]} <= {FC_ID} for lv in at_fc)


def test_variants_by_sku_is_batched(sb, client, seeded):
    wanted = list(seeded)[:130] + ["NO-SUCH-SKU"]
    before = sb.hook("GET", "/stats").json()
    found = client.variants_by_sku(wanted)
    after = sb.hook("GET", "/stats").json()
    assert set(found) == set(wanted[:130])
    assert all(found[s]["inventory"]["inventory_id"] == seeded[s] for s in found)
    assert _calls(after) - _calls(before) == 3  # 50 SKUs per call


def _calls(stats: dict) -> int:
    return stats["requests"].get("GET /2026-01/product", 0)


def test_order_pages_return_every_order_once(client, seeded):
    skus = list(seeded)
    refs = [f"IFS-P{i:03d}" for i in range(23)]
    for i, ref in enumerate(refs):
        client.create_order(order_body(ref, skus[i]))
    assert sorted(o["reference_id"] for o in client.orders(Limit=5)) == refs
    assert sorted(o["reference_id"] for o in client.orders()) == refs
    assert len(client.find_orders_by_reference(refs)) == 23


def test_wro_pages_and_external_sync(sb, client, seeded):
    inventory = list(seeded.values())
    wros = [client.create_wro(wro_body(f"PO-{i}", inventory[i])) for i in range(12)]
    assert all(w["status"] == "Awaiting" for w in wros)
    listed = list(client.wros(Limit=5))
    assert sorted(w["id"] for w in listed) == sorted(w["id"] for w in wros)
    assert [w["id"] for w in client.wros(PurchaseOrderNumbers=["PO-3"])] == [wros[3]["id"]]
    first = wros[0]
    sb.hook("POST", f"/receiving/{first['id']}/receive", json={
        "items": [{"inventory_id": inventory[0], "received": 5, "stowed": 5}], "complete": True,
    }).raise_for_status()
    done = list(client.wros(Statuses=["Completed"], ExternalSync=False))
    assert [w["id"] for w in done] == [first["id"]]
    assert client.wro_boxes(first["id"])[0]["box_items"][0]["inventory_id"] == inventory[0]
    client.set_external_sync([first["id"]])
    assert list(client.wros(Statuses=["Completed"], ExternalSync=False)) == []
    assert client.get_wro(first["id"])["external_sync_timestamp"]


def test_return_pages_and_cancel(client, seeded):
    inventory = list(seeded.values())
    created = [client.create_return(return_body(f"RMA-{i}", inventory[i])) for i in range(12)]
    listed = list(client.returns(Limit=5))
    assert sorted(r["id"] for r in listed) == sorted(r["id"] for r in created)
    assert [r["id"] for r in client.returns(ReferenceIds=["RMA-4"])] == [created[4]["id"]]
    assert client.get_return(created[0]["id"])["reference_id"] == "RMA-0"
    client.cancel_return(created[0]["id"])
    assert client.get_return(created[0]["id"])["status"].replace(" ", "") == "Cancelled"


# IFS keys as they come: ShipBob splits a list filter at every comma.
AWKWARD_KEYS = ["K,123", "A B", "O'Brien", "Ünï", " padded "]
DECOYS = ["K", "123", "padded"]  # what a split (or trimmed) look-up would find instead


def test_every_lookup_finds_awkward_keys_exactly(client, seeded):
    skus, inventory = list(seeded), list(seeded.values())
    keys = AWKWARD_KEYS + DECOYS
    orders = {ref: client.create_order(order_body(ref, skus[i]))["id"] for i, ref in enumerate(keys)}
    wros = {po: client.create_wro(wro_body(po, inventory[i]))["id"] for i, po in enumerate(keys)}
    returns = {ref: client.create_return(return_body(ref, inventory[i]))["id"] for i, ref in enumerate(keys)}
    for key in AWKWARD_KEYS:
        assert [o["id"] for o in client.find_orders_by_reference([key])] == [orders[key]], key
        assert [w["id"] for w in client.wros(PurchaseOrderNumbers=[key])] == [wros[key]], key
        assert [r["id"] for r in client.returns(ReferenceIds=[key])] == [returns[key]], key
    assert sorted(o["id"] for o in client.find_orders_by_reference(keys)) == sorted(orders.values())
    assert sorted(w["id"] for w in client.wros(PurchaseOrderNumbers=keys)) == sorted(wros.values())
    assert client.find_orders_by_reference(["K,999"]) == []


def test_webhook_subscriptions(client, seeded):
    made = [client.create_webhook(["order.shipped"], f"https://erp.example.com/hook/{i}",
                                  description=f"hook {i}") for i in range(3)]
    assert all(isinstance(w["id"], str) and w["secret"].startswith("whsec_") for w in made)
    listed = list(client.webhooks())
    assert sorted(w["id"] for w in listed) == sorted(w["id"] for w in made)
    assert all("secret" not in w for w in listed)
    client.delete_webhook(made[0]["id"])
    assert sorted(w["id"] for w in client.webhooks()) == sorted(w["id"] for w in made[1:])
