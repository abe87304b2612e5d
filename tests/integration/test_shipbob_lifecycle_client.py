"""ShipBobClient's lifecycle calls against the ShipBob sandbox over real HTTP: edits of an
unpicked shipment (address, the full line list, shipping service), shipment cancel, each
refused once picked; fulfillable stock per fulfillment center in bulk; and inventory
history page by page with a cursor that resumes exactly where it stopped."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connector.shipbob import ShipBobNotFound
from connector.shipbob.shipment_edits import ShipmentAddress, ShipmentUpdateRefused

from .test_shipbob_client_support import (  # noqa: F401 - fixtures
    FC_ID,
    make_client,
    order_body,
    prefix,
    sandbox,
    wro_body,
)

pytestmark = pytest.mark.integration

HISTORY_PAGE = 2
SEATTLE = ShipmentAddress(street_address1="400 Broad St", city="Seattle", state="WA",
                          zip_code="98109", country_code="US", recipient_name="Jane Roe")


@pytest.fixture(scope="module")
def sb():
    handle = sandbox(inventory_history_page_size=HISTORY_PAGE)
    yield handle
    handle.stop()


@pytest.fixture
def inv(sb):
    sb.hook("POST", "/reset").raise_for_status()
    levels = {"P00001": {"156": 30, "157": 5}, "P00002": {"156": 8, "157": 0},
              "P00003": {"156": 0, "157": 2}}
    resp = sb.hook("POST", "/seed", json={"count": 300, "levels": levels})
    resp.raise_for_status()
    return resp.json()["inventory_ids"]  # {sku: inventory_id}


@pytest.fixture
def client(sb, prefix):
    return make_client(sb, prefix)


def two_line_order(client, inv, ref="IFS-1") -> tuple[dict, int]:
    body = order_body(ref, "P00001", 2)
    body["location_id"] = FC_ID
    body["products"].append({"reference_id": "P00002", "sku": "P00002", "name": "P00002", "quantity": 1})
    order = client.create_order(body)
    return order, order["shipments"][0]["id"]


def calls(sb, route: str) -> int:
    return sb.hook("GET", "/stats").json()["requests"].get(route, 0)


# -- edits ------------------------------------------------------------------------------------

def test_edits_reach_the_unpicked_shipment(sb, client, inv):
    order, sid = two_line_order(client, inv)
    client.update_shipment_address(sid, SEATTLE)
    shipment = client.get_shipment(sid)
    assert shipment["recipient"]["address"]["city"] == "Seattle"
    assert shipment["recipient"]["address"]["address2"] is None and shipment["recipient"]["name"] == "Jane Roe"

    lines = client.shipment_line_items(sid)
    assert {(x.sku, x.quantity, x.committed_quantity) for x in lines} == {("P00001", 2, 2), ("P00002", 1, 1)}
    changes = client.update_shipment_line_items(sid, {inv["P00001"]: 7})
    assert {(c.inventory_id, c.action, c.previous_value, c.new_value) for c in changes} == {
        (inv["P00001"], "UpdateLineItem", "2", "7"), (inv["P00002"], "RemoveLineItem", "1", None)}
    assert [(x.sku, x.quantity) for x in client.shipment_line_items(sid)] == [("P00001", 7)]
    assert client.update_shipment_line_items(sid, {inv["P00001"]: 7}) == []  # a replay changes nothing

    methods = {m.name: m for m in client.shipping_methods()}
    overnight = methods["Overnight"]
    assert overnight.active and overnight.service_level_id is not None
    [result] = client.bulk_update_shipping_service([sid, sid], overnight.service_level_id, "ERP ship-via FDX-ON")
    assert result.shipment_id == sid and result.ok
    assert client.get_shipment(sid)["ship_option"] == "Overnight"
    assert client.get_order(order["id"])["products"][0]["quantity"] == 7


def test_every_edit_and_the_cancel_are_refused_once_picked(sb, client, inv):
    _, sid = two_line_order(client, inv)
    sb.hook("POST", f"/shipments/{sid}/pick").raise_for_status()
    for edit in (lambda: client.update_shipment_address(sid, SEATTLE),
                 lambda: client.update_shipment_line_items(sid, {inv["P00001"]: 1})):
        with pytest.raises(ShipmentUpdateRefused) as info:
            edit()
        assert info.value.code == "CONFLICT" and info.value.shipment_id == sid
        assert "picked" in str(info.value)
    [result] = client.bulk_update_shipping_service([sid], 2, "rush")
    assert not result.ok and result.code == "CONFLICT"
    with pytest.raises(ShipmentUpdateRefused) as info:
        client.cancel_shipment(sid)
    assert info.value.status == 422
    shipment = client.get_shipment(sid)
    assert shipment["status"] == "Processing" and shipment["recipient"]["address"]["city"] == "Chicago"
    assert {x.quantity for x in client.shipment_line_items(sid)} == {2, 1}


def test_cancel_shipment_counts_an_earlier_cancel_as_done(sb, client, inv):
    _, sid = two_line_order(client, inv)
    assert client.cancel_shipment(sid)["status"] == "Cancelled"
    assert client.cancel_shipment(sid)["status"] == "Cancelled"  # the retry after a lost answer
    with pytest.raises(ShipmentUpdateRefused):
        client.update_shipment_address(sid, SEATTLE)
    with pytest.raises(ShipBobNotFound):
        client.cancel_shipment(1)
    with pytest.raises(ShipBobNotFound):
        client.update_shipment_line_items(1, {inv["P00001"]: 1})


def test_bad_edits_are_refused_before_any_call(sb, client, inv):
    before = sb.hook("GET", "/stats").json()["total"]
    with pytest.raises(ValueError):
        client.update_shipment_line_items(1, {})
    with pytest.raises(ValueError):
        client.update_shipment_line_items(1, {inv["P00001"]: 0})
    with pytest.raises(ValueError):
        client.update_shipment_address(1, ShipmentAddress(street_address1="1 Main St", city=" "))
    with pytest.raises(ValueError):
        client.bulk_update_shipping_service([1], 1, "")
    assert sb.hook("GET", "/stats").json()["total"] == before


# -- stock ------------------------------------------------------------------------------------

def test_fulfillable_per_center_for_many_items_in_few_calls(sb, client, inv):
    client.create_order({**order_body("IFS-9", "P00001", 4), "location_id": FC_ID})
    ids = list(inv.values())[:250]
    route = "GET /2026-01/inventory-level/locations"
    before = calls(sb, route)
    levels = client.fulfillable_levels(ids)
    assert calls(sb, route) - before == 2  # 250 ids: two URLs' worth, not 250 calls
    assert set(levels) == set(ids)
    p1 = levels[inv["P00001"]]
    assert p1.sku == "P00001" and p1.fulfillable(156) == 26 and p1.fulfillable(157) == 5
    assert p1.fulfillable() == 31 and p1.centers[156].committed == 4
    assert levels[inv["P00003"]].fulfillable(156) == 0 and levels[inv["P00003"]].fulfillable(999) == 0

    products = "GET /2026-01/product"
    before = (calls(sb, route), calls(sb, products))
    by_sku = client.fulfillable_levels_by_sku(["P00002", "P00003", "NO-SUCH-SKU"])
    assert (calls(sb, route) - before[0], calls(sb, products) - before[1]) == (1, 1)
    assert {sku: s.fulfillable(156) for sku, s in by_sku.items()} == {"P00002": 8, "P00003": 0}
    assert client.fulfillable_levels([]) == {}


def test_inventory_history_pages_and_resumes_from_its_cursor(sb, client, inv):
    p1 = inv["P00001"]
    wro = client.create_wro(wro_body("PO-1", p1, 5))
    sb.hook("POST", f"/receiving/{wro['id']}/receive",
            json={"items": [{"inventory_id": p1, "stowed": 5}]}).raise_for_status()
    order = client.create_order({**order_body("IFS-7", "P00001", 3), "location_id": FC_ID})
    sb.hook("POST", f"/orders/{order['id']}/ship", json={}).raise_for_status()
    sb.hook("POST", "/inventory/adjust", json={"inventory_id": p1, "fulfillment_center_id": FC_ID,
                                              "quantity_change": -1, "reason": "Damaged"}).raise_for_status()

    pages = list(client.inventory_history(FC_ID, inventory_ids=[p1]))
    assert [len(p.events) for p in pages] == [2, 1] and [p.more for p in pages] == [True, False]
    events = [e for p in pages for e in p.events]
    assert [(e.category, e.quantity) for e in events] == [
        ("ReceivingStow", 5), ("OrderPicked", -3), ("InventoryAdjusted", -1)]
    stow, pick, _ = events
    assert stow.reference is not None and stow.reference[0] == "WroAndBox"
    assert stow.reference[1].startswith(f"{wro['id']} ")
    assert pick.order_id == order["id"] and pick.committed == -3 and pick.sku == "P00001"
    assert pick.at is not None and pick.at.tzinfo is not None and pick.facility_id == FC_ID
    cursor = pages[-1].cursor
    assert cursor == events[-1].id

    # Resuming from the kept cursor: only what happened since, each event once.
    assert [p.events for p in client.inventory_history(FC_ID, cursor=cursor)] == [[]]
    assert list(client.inventory_history(FC_ID, cursor=cursor))[0].cursor == cursor
    sb.hook("POST", "/inventory/adjust", json={"inventory_id": p1, "fulfillment_center_id": FC_ID,
                                              "quantity_change": 2}).raise_for_status()
    [page] = list(client.inventory_history(FC_ID, cursor=cursor))
    assert [(e.category, e.quantity) for e in page.events] == [("InventoryAdjusted", 2)]
    assert page.cursor == page.events[0].id and not page.more

    assert [e.category for p in client.inventory_history(FC_ID, event_category="OrderPicked")
            for e in p.events] == ["OrderPicked"]
    assert [p.events for p in client.inventory_history(157)] == [[]]
    now = datetime.now(timezone.utc)
    window = list(client.inventory_history(FC_ID, start=now - timedelta(days=1), end=now + timedelta(minutes=5)))
    assert sum(len(p.events) for p in window) == 4


def test_a_history_range_shipbob_refuses_is_refused_before_the_call(client, inv):
    now = datetime.now(timezone.utc)
    with pytest.raises(ValueError):
        next(client.inventory_history(FC_ID, start=now - timedelta(days=91), end=now))
    with pytest.raises(ValueError):
        next(client.inventory_history(FC_ID, start=now, end=now - timedelta(days=1)))
