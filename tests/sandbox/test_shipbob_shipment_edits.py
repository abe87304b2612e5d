"""Edits and cancels of an unpicked shipment in the ShipBob stand-in, over real HTTP:
updateAddress, getLineItems/updateLineItems (the full list), bulkUpdateShippingService,
the three shipment cancels, and every one of them refused once the warehouse has picked
(ShipBob 2026-01 OpenAPI, Orders). The server checks each response against the spec.
"""

from __future__ import annotations

import pytest

from sandbox.shipbob import ShipBobSandboxConfig
from sandbox.shipbob.testkit import SandboxHandle

from .test_shipbob_sandbox import level, order_body

SEATTLE = {"recipient_name": "Jane Roe", "street_address1": "400 Broad St", "street_address2": "",
           "city": "Seattle", "state": "WA", "zip_code": "98109", "country_code": "US",
           "email": "jane@example.com", "phone_number": "555-0100"}


@pytest.fixture(scope="module")
def server():
    with SandboxHandle(ShipBobSandboxConfig(validate_responses=True)) as sb:
        yield sb


@pytest.fixture
def sb(server):
    assert server.hook("POST", "/reset").ok
    seeded = server.hook("POST", "/seed", json={"count": 4, "levels": {
        "P00001": {"156": 20, "157": 0}, "P00002": {"156": 5}, "P00003": {"156": 3}}})
    server.inv = seeded.json()["inventory_ids"]
    return server


def new_order(sb, ref="SO-1", lines=(("P00001", 2), ("P00002", 1))) -> tuple[dict, int]:
    order = sb.api("POST", "/order", json=order_body(ref, lines, location_id=156)).json()
    return order, order["shipments"][0]["id"]


def line_items(sb, sid: int) -> dict[str, int]:
    r = sb.api("GET", f"/shipment/{sid}:getLineItems")
    assert r.status_code == 200, r.text
    return {it["product_variant"]["sku"]: it["quantity"] for it in r.json()}


def update_lines(sb, sid: int, lines: dict[str, int]):
    return sb.api("POST", f"/shipment/{sid}:updateLineItems", json={"items": [
        {"inventory_id": sb.inv[sku], "quantity": q} for sku, q in lines.items()]})


def shipment(sb, sid: int) -> dict:
    return sb.api("GET", f"/shipment/{sid}").json()


# -- line items -------------------------------------------------------------------------------

def test_update_line_items_replaces_the_whole_list_and_moves_committed_stock(sb):
    order, sid = new_order(sb)
    [first] = sb.api("GET", f"/shipment/{sid}:getLineItems").json()[:1]
    assert first["committed_quantity"] == 2 and first["product_variant"]["sku"] == "P00001"

    r = update_lines(sb, sid, {"P00001": 7, "P00003": 1})  # P00002 left out: removed
    assert r.status_code == 200
    body = r.json()
    assert body["is_success"] is True and body["id"] == sid and body["error"] is None
    changes = {c["inventory_id"]: (c["action"], c["previous_value"], c["new_value"])
               for c in body["shipment_line_items"]}
    assert changes == {sb.inv["P00001"]: ("UpdateLineItem", "2", "7"),
                       sb.inv["P00002"]: ("RemoveLineItem", "1", None),
                       sb.inv["P00003"]: ("AddLineItem", None, "1")}
    assert line_items(sb, sid) == {"P00001": 7, "P00003": 1}
    assert [level(sb, s, 156)["committed_quantity"] for s in ("P00001", "P00002", "P00003")] == [7, 0, 1]

    view = sb.api("GET", f"/order/{order['id']}").json()
    assert {p["sku"]: p["quantity"] for p in view["products"]} == {"P00001": 7, "P00003": 1}
    assert {p["sku"] for p in view["shipments"][0]["products"]} == {"P00001", "P00003"}
    assert view["shipments"][0]["last_update_at"] > order["shipments"][0]["last_update_at"]

    unchanged = update_lines(sb, sid, {"P00001": 7, "P00003": 1}).json()
    assert unchanged["is_success"] is True and unchanged["shipment_line_items"] == []


def test_update_line_items_rules(sb):
    _, sid = new_order(sb)
    post = lambda body: sb.api("POST", f"/shipment/{sid}:updateLineItems", json=body)  # noqa: E731

    # The body breaks the schema: 400 Orders.ErrorResponse.
    for body in ({"items": []}, {}, {"items": [{"inventory_id": sb.inv["P00001"]}]},
                 {"items": [{"inventory_id": "x", "quantity": 1}]}):
        r = post(body)
        assert r.status_code == 400 and r.json()["code"] == "INVALID_PARAMETER", body
    r = sb.api("POST", f"/shipment/{sid}:updateLineItems", data=b"")
    assert r.status_code == 400 and r.json()["code"] == "INVALID_PARAMETER"

    # Rules: 200 with is_success false ("HTTP 200 for both successful and failed operations").
    inv = sb.inv["P00001"]
    for items in ([{"inventory_id": inv, "quantity": 0}],
                  [{"inventory_id": 99, "quantity": 1}],
                  [{"inventory_id": inv, "quantity": 1}, {"inventory_id": inv, "quantity": 2}],
                  [{"inventory_id": inv, "quantity": 1, "fulfillment_center_id": 157}],
                  [{"inventory_id": inv, "quantity": 1, "is_manually_assigned_lot": True},
                   {"inventory_id": sb.inv["P00002"], "quantity": 1, "is_manually_assigned_lot": False}]):
        r = post({"items": items})
        assert r.status_code == 200
        assert r.json()["is_success"] is False and r.json()["error"]["code"] == "VALIDATION_ERROR", items
    assert line_items(sb, sid) == {"P00001": 2, "P00002": 1}  # nothing changed

    missing = sb.api("POST", "/shipment/1:updateLineItems",
                     json={"items": [{"inventory_id": inv, "quantity": 1}]})
    assert missing.status_code == 200 and missing.json()["error"]["code"] == "NOT_FOUND"
    r = sb.api("GET", "/shipment/1:getLineItems")
    assert r.status_code == 404 and r.json() == {"code": "NOT_FOUND", "message": "Shipment not found"}


# -- address ----------------------------------------------------------------------------------

def test_update_address_changes_the_shipment_and_marks_the_order_updated(sb):
    order, sid = new_order(sb)
    before = shipment(sb, sid)
    r = sb.api("PUT", f"/shipment/{sid}:updateAddress", json=SEATTLE)
    assert r.status_code == 200 and r.json() == {"id": sid, "is_success": True, "error": None}
    after = shipment(sb, sid)
    address = after["recipient"]["address"]
    assert (address["address1"], address["address2"], address["city"], address["state"],
            address["zip_code"], address["country"]) == ("400 Broad St", None, "Seattle", "WA",
                                                          "98109", "US")
    assert after["recipient"]["name"] == "Jane Roe" and after["recipient"]["email"] == "jane@example.com"
    changed = sb.api("GET", "/order", params={"LastUpdateStartDate": after["last_update_at"]}).json()
    assert [o["id"] for o in changed] == [order["id"]]
    assert after["last_update_at"] > before["last_update_at"]

    # Fields left out keep their value.
    sb.api("PUT", f"/shipment/{sid}:updateAddress", json={"street_address1": "1 Pike St", "city": "Seattle"})
    kept = shipment(sb, sid)["recipient"]
    assert kept["address"]["address1"] == "1 Pike St" and kept["address"]["zip_code"] == "98109"


def test_update_address_validation(sb):
    _, sid = new_order(sb)
    for body in ({"city": "Seattle"}, {"street_address1": "1 Pike St", "city": ""},
                 {"street_address1": 5, "city": "Seattle"}):
        r = sb.api("PUT", f"/shipment/{sid}:updateAddress", json=body)
        assert r.status_code == 400 and r.json()["code"] == "INVALID_PARAMETER", body
    r = sb.api("PUT", "/shipment/1:updateAddress", json=SEATTLE)
    assert r.status_code == 200 and r.json()["is_success"] is False
    assert r.json()["error"]["code"] == "NOT_FOUND"
    assert shipment(sb, sid)["recipient"]["address"]["city"] == "Chicago"


# -- shipping service -------------------------------------------------------------------------

def test_bulk_update_shipping_service_answers_per_shipment(sb):
    methods = sb.api("GET", "/shipping-method").json()
    overnight = next(m for m in methods if m["name"] == "Overnight")
    (_, a), (_, b) = new_order(sb, "SO-1"), new_order(sb, "SO-2", (("P00002", 1),))
    sb.hook("POST", f"/shipments/{b}/pick").raise_for_status()
    r = sb.api("PUT", "/shipment:bulkUpdateShippingService", json={
        "shipment_ids": [a, b, 1], "requested_shipping_service_id": overnight["service_level"]["id"],
        "reason": "ERP ship-via changed"})
    assert r.status_code == 200
    body = r.json()
    assert body["summary"] == {"total": 3, "successful": 1, "failed": 2}
    assert [(x["id"], x["is_success"], (x["error"] or {}).get("code")) for x in body["results"]] == [
        (a, True, None), (b, False, "CONFLICT"), (1, False, "NOT_FOUND")]
    assert shipment(sb, a)["ship_option"] == "Overnight"
    assert shipment(sb, b)["ship_option"] == "Standard"


def test_bulk_update_shipping_service_validation(sb):
    _, sid = new_order(sb)
    for body in ({"shipment_ids": [], "requested_shipping_service_id": 1, "reason": "x"},
                 {"shipment_ids": [sid], "requested_shipping_service_id": 1},
                 {"shipment_ids": [sid], "requested_shipping_service_id": 999, "reason": "x"}):
        r = sb.api("PUT", "/shipment:bulkUpdateShippingService", json=body)
        assert r.status_code == 400 and r.json()["code"] == "INVALID_PARAMETER", body
    assert shipment(sb, sid)["ship_option"] == "Standard"


# -- cancels ----------------------------------------------------------------------------------

def test_shipment_cancel_by_order_and_in_batch(sb):
    order, sid = new_order(sb)
    other, other_sid = new_order(sb, "SO-2")
    assert sb.api("POST", f"/order/{other['id']}/shipment/{sid}:cancel").status_code == 404
    r = sb.api("POST", f"/order/{order['id']}/shipment/{sid}:cancel")
    assert r.status_code == 200 and r.json()["status"] == "Cancelled"
    assert level(sb, "P00001", 156)["committed_quantity"] == 2  # SO-2's only

    assert sb.api("POST", "/shipment:batchCancel", channel=0,
                  json={"shipment_ids": [other_sid]}).status_code == 400
    assert sb.api("POST", "/shipment:batchCancel", json={"shipment_ids": []}).status_code == 422
    r = sb.api("POST", "/shipment:batchCancel", json={"shipment_ids": [other_sid, sid, 1]})
    assert r.status_code == 200
    assert [(x["shipment_id"], x["is_success"], x["action"]) for x in r.json()["results"]] == [
        (other_sid, True, "Cancel"), (sid, False, "Cancel"), (1, False, "Cancel")]
    assert level(sb, "P00001", 156)["committed_quantity"] == 0


# -- once picked ------------------------------------------------------------------------------

def test_every_edit_and_cancel_is_refused_once_picked(sb):
    order, sid = new_order(sb)
    stock = level(sb, "P00001", 156)
    picked = sb.hook("POST", f"/shipments/{sid}/pick")
    assert picked.status_code == 200
    assert picked.json()["status"] == "Processing"
    assert [(d["id"], d["name"]) for d in picked.json()["status_details"]] == [(100, "Picked")]
    now = level(sb, "P00001", 156)
    # The pick takes the units off on-hand and consumes their allocation.
    assert (now["on_hand_quantity"], now["committed_quantity"], now["fulfillable_quantity"]) == (
        stock["on_hand_quantity"] - 2, stock["committed_quantity"] - 2, stock["fulfillable_quantity"])
    assert sb.hook("POST", f"/shipments/{sid}/pick").status_code == 409
    assert sb.hook("POST", f"/shipments/{sid}/status", json={"status": "OnHold"}).status_code == 409

    def refused(stage: str, order_stage: str | None = None) -> None:
        for r in (sb.api("PUT", f"/shipment/{sid}:updateAddress", json=SEATTLE),
                  update_lines(sb, sid, {"P00001": 1})):
            assert r.status_code == 200 and r.json()["is_success"] is False
            assert r.json()["error"]["code"] == "CONFLICT" and stage in r.json()["error"]["message"]
        bulk = sb.api("PUT", "/shipment:bulkUpdateShippingService", json={
            "shipment_ids": [sid], "requested_shipping_service_id": 2, "reason": "x"}).json()
        assert bulk["summary"]["failed"] == 1
        for path, word in ((f"/shipment/{sid}:cancel", stage),
                           (f"/order/{order['id']}/shipment/{sid}:cancel", stage),
                           (f"/order/{order['id']}:cancel", order_stage or stage)):
            r = sb.api("POST", path)
            assert r.status_code == 422 and word in r.json()[""][0], path
        batch = sb.api("POST", "/shipment:batchCancel", json={"shipment_ids": [sid]}).json()
        assert batch["results"][0]["is_success"] is False and stage in batch["results"][0]["reason"]

    refused("picked")
    packed = sb.hook("POST", f"/shipments/{sid}/pack").json()
    assert [(d["id"], d["name"]) for d in packed["status_details"]] == [(101, "Packed")]
    refused("packed")
    assert line_items(sb, sid) == {"P00001": 2, "P00002": 1}
    assert shipment(sb, sid)["recipient"]["address"]["city"] == "Chicago"

    # Shipping a picked shipment does not take the stock twice.
    shipped = sb.hook("POST", f"/orders/{order['id']}/ship", json={}).json()
    assert shipped["shipments"][0]["status"] == "Completed"
    assert level(sb, "P00001", 156)["on_hand_quantity"] == stock["on_hand_quantity"] - 2
    refused("Completed", order_stage="shipped")


def test_a_picked_shipment_ships_whole(sb):
    order, sid = new_order(sb)
    sb.hook("POST", f"/shipments/{sid}/pick").raise_for_status()
    r = sb.hook("POST", f"/orders/{order['id']}/ship",
                json={"shipments": [[{"sku": "P00001", "quantity": 1}]]})
    assert r.status_code == 409


def test_only_an_open_shipment_is_picked(sb):
    order, sid = new_order(sb)
    sb.hook("POST", f"/shipments/{sid}/status", json={"status": "OnHold"})
    assert sb.hook("POST", f"/shipments/{sid}/pick").status_code == 409
    sb.api("POST", f"/order/{order['id']}:cancel")
    assert sb.hook("POST", f"/shipments/{sid}/pack").status_code == 409
