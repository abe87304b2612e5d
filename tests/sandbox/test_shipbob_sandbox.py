"""The ShipBob stand-in over real HTTP: auth, rate limit, channels, orders and shipping,
receiving, returns, products and levels (shipbob.md §10).

The shared server validates every response against the spec (relaxed), so a body that
drifts from ShipBob's schema fails whichever test provoked it with a 500.
"""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import parse_qs, urlparse

import pytest

from sandbox.shipbob import Channel, ShipBobSandboxConfig
from sandbox.shipbob.testkit import SandboxHandle

CHANNEL = 128944
OTHER_CHANNEL = 128945  # a second channel with orders_write
READONLY_CHANNEL = 128946


def order_body(ref: str, lines=(("P00001", 2),), **extra) -> dict:
    return {"reference_id": ref, "shipping_method": "Standard", "type": "DTC",
            "recipient": {"name": "John Doe", "address": {
                "address1": "100 N Racine Ave", "city": "Chicago", "state": "IL",
                "country": "US", "zip_code": "60607"}},
            "products": [{"reference_id": sku, "quantity": q, "name": f"Item {sku}"}
                         for sku, q in lines], **extra}


def wro_body(items, fc=156, po="PO-1") -> dict:
    return {"fulfillment_center": {"id": fc}, "purchase_order_number": po,
            "package_type": "Package", "box_packaging_type": "MultipleSkuPerBox",
            "expected_arrival_date": "2026-02-01T15:00:00Z",
            "boxes": [{"tracking_number": "TRK-1",
                       "box_items": [{"inventory_id": i, "quantity": q} for i, q in items]}]}


@pytest.fixture(scope="module")
def server():
    cfg = ShipBobSandboxConfig(
        validate_responses=True, webhook_retry_time_scale=0.001,
        channels=[Channel(), Channel(id=OTHER_CHANNEL, name="second"),
                  Channel(id=READONLY_CHANNEL, name="readonly", scopes=["orders_read"])])
    with SandboxHandle(cfg) as sb:
        yield sb


@pytest.fixture
def sb(server):
    assert server.hook("POST", "/reset").ok
    seeded = server.hook("POST", "/seed", json={
        "count": 5, "levels": {"P00001": {"156": 10, "157": 0}, "P00002": {"156": 5, "157": 7}}})
    server.inv = seeded.json()["inventory_ids"]  # SKU -> inventory_id
    return server


def level(sb, sku: str, fc: int) -> dict:
    body = sb.api("GET", f"/inventory-level/locations?InventoryIds={sb.inv[sku]}").json()
    return next(loc for loc in body["items"][0]["locations"] if loc["location_id"] == fc)


# -- auth -------------------------------------------------------------------------------------

def test_requests_without_a_valid_bearer_token_get_401_without_body(sb):
    r = sb.api("GET", "/channel", token="")
    assert r.status_code == 401 and r.content == b""
    r = sb.api("GET", "/channel", token="not-a-token")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert sb.api("GET", "/channel", headers={"Authorization": "Bearer t\u00f6ken"}).status_code == 401
    assert sb.api("GET", "/channel").status_code == 200


def _refresh(sb, refresh_token, secret="sb-secret"):
    import requests
    return requests.post(f"{sb.url}/connect/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh_token,
        "client_id": "sb-client", "client_secret": secret})


def test_refresh_rotates_the_refresh_token_and_retires_the_old_one(sb):
    assert _refresh(sb, "sandbox-refresh-0", secret="wrong").json() == {"error": "invalid_client"}
    first = _refresh(sb, "sandbox-refresh-0")
    assert first.status_code == 200
    tok = first.json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 3600 and tok["id_token"]
    assert tok["refresh_token"] != "sandbox-refresh-0"
    assert sb.api("GET", "/channel", token=tok["access_token"]).status_code == 200

    old = _refresh(sb, "sandbox-refresh-0")
    assert old.status_code == 400 and old.json() == {"error": "invalid_grant"}
    second = _refresh(sb, tok["refresh_token"])
    assert second.status_code == 200 and second.json()["refresh_token"] != tok["refresh_token"]
    assert _refresh(sb, tok["refresh_token"]).json() == {"error": "invalid_grant"}


def test_authorization_code_needs_the_pkce_verifier(sb):
    import requests
    verifier = "v" * 43
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    redirect_uri = "https://erp.example.com/callback"
    # The authorize endpoint consents at once and answers in the URI fragment.
    r = requests.get(f"{sb.url}/connect/authorize", allow_redirects=False, params={
        "client_id": "sb-client", "redirect_uri": redirect_uri, "state": "s1",
        "scope": "orders_read offline_access", "code_challenge": challenge,
        "code_challenge_method": "S256"})
    assert r.status_code == 302
    fragment = parse_qs(urlparse(r.headers["Location"]).fragment)
    assert fragment["state"] == ["s1"]

    def exchange(code, v):
        return requests.post(f"{sb.url}/connect/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": v, "client_id": "sb-client", "client_secret": "sb-secret"})

    assert exchange(fragment["code"][0], "w" * 43).json() == {"error": "invalid_grant"}
    code = sb.hook("POST", "/oauth/code", json={"redirect_uri": redirect_uri,
                                                "code_challenge": challenge}).json()["code"]
    ok = exchange(code, verifier)
    assert ok.status_code == 200 and "refresh_token" in ok.json()
    assert exchange(code, verifier).json() == {"error": "invalid_grant"}  # codes work once
    assert sb.api("GET", "/channel", token=ok.json()["access_token"]).status_code == 200


def test_expired_access_tokens_get_401():
    with SandboxHandle(ShipBobSandboxConfig(access_token_ttl_seconds=1)) as sb:
        tok = _refresh(sb, "sandbox-refresh-0").json()
        assert tok["expires_in"] == 1
        assert sb.api("GET", "/channel", token=tok["access_token"]).status_code == 200
        time.sleep(1.1)
        r = sb.api("GET", "/channel", token=tok["access_token"])
        assert r.status_code == 401 and "invalid_token" in r.headers["WWW-Authenticate"]

        fresh = _refresh(sb, tok["refresh_token"]).json()["access_token"]
        sb.hook("POST", "/faults", json={"expire_tokens": True})
        assert sb.api("GET", "/channel", token=fresh).status_code == 401
        assert sb.api("GET", "/channel").status_code == 200  # a PAT never expires


# -- rate limit and faults ----------------------------------------------------------------------

def test_sliding_window_limits_each_identity():
    cfg = ShipBobSandboxConfig(rate_limit_per_minute=3, rate_window_seconds=1)
    with SandboxHandle(cfg) as sb:
        remaining = [sb.api("GET", "/channel").headers["x-remaining-calls"] for _ in range(3)]
        assert remaining == ["2", "1", "0"]
        r = sb.api("GET", "/fulfillment-center")  # all endpoints share the window
        assert r.status_code == 429
        assert r.json() == {"statusCode": 429,
                            "message": "Rate limit is exceeded. Try again in 1 seconds."}
        assert r.headers["x-retry-after"] == "1" and r.headers["x-remaining-calls"] == "0"
        # An OAuth app acting for the user is another (user, application) pair.
        oauth = _refresh(sb, "sandbox-refresh-0").json()["access_token"]
        assert sb.api("GET", "/channel", token=oauth).status_code == 200
        time.sleep(1.05)
        assert sb.api("GET", "/channel").status_code == 200
        stats = sb.hook("GET", "/stats").json()
        assert stats["rate_limited"]["limiter"] == 1 and stats["statuses"]["429"] == 1


def test_injected_429s_and_server_errors(sb):
    sb.hook("POST", "/faults", json={"too_many": 2, "retry_after": 7, "server_errors": 2})
    statuses = [sb.api("GET", "/channel") for _ in range(5)]
    assert [r.status_code for r in statuses] == [429, 429, 500, 503, 200]
    assert statuses[0].headers["x-retry-after"] == "7"
    stats = sb.hook("GET", "/stats").json()
    assert stats["rate_limited"]["injected"] == 2
    assert stats["injected_faults"] == {"429": 2, "500": 1, "503": 1}


# -- channels ----------------------------------------------------------------------------------

def test_channel_and_fulfillment_center_reads(sb):
    body = sb.api("GET", "/channel").json()
    assert body["next"] is None and body["items"][0]["id"] == CHANNEL
    assert "orders_write" in body["items"][0]["scopes"]
    fcs = sb.api("GET", "/fulfillment-center").json()
    assert [fc["id"] for fc in fcs] == [156, 157] and fcs[0]["name"] == "Cicero (IL)"


def test_channel_header_is_required_to_create_orders_and_returns(sb):
    r = sb.api("POST", "/order", channel=0, json=order_body("SO-1"))
    assert r.status_code == 400 and "shipbob_channel_id" in r.json()
    assert sb.api("POST", "/order", channel=999, json=order_body("SO-1")).status_code == 400
    assert sb.api("POST", "/order", channel=READONLY_CHANNEL, json=order_body("SO-1")).status_code == 403
    r = sb.api("POST", "/return", channel=0, json={
        "reference_id": "RMA-1", "fulfillment_center": {"id": 156},
        "inventory": [{"id": sb.inv["P00001"], "quantity": 1, "requested_action": "Default"}]})
    assert r.status_code == 400 and "shipbob_channel_id" in r.json()["errors"]


def test_reads_are_filtered_by_the_channel_header(sb):
    mine = sb.api("POST", "/order", json=order_body("SO-1")).json()
    theirs = sb.api("POST", "/order", channel=OTHER_CHANNEL, json=order_body("SO-1")).json()
    assert mine["id"] != theirs["id"]  # reference ids are unique per channel only
    listed = sb.api("GET", "/order?ReferenceIds=SO-1").json()
    assert [o["id"] for o in listed] == [mine["id"]]
    assert len(sb.api("GET", "/order?ReferenceIds=SO-1", channel=0).json()) == 2
    assert sb.api("GET", f"/order/{theirs['id']}").status_code == 404
    assert sb.api("GET", f"/order/{theirs['id']}", channel=OTHER_CHANNEL).status_code == 200


# -- orders ------------------------------------------------------------------------------------

def test_order_create_matches_the_spec_and_commits_stock(sb):
    r = sb.api("POST", "/order", json=order_body("SO-1", [("P00001", 2), ("P00002", 1)],
                                                  location_id=157))
    assert r.status_code == 201
    order = r.json()
    assert sb.world.validator.response_errors("POST", "/2026-01/order", 201, order) == []
    assert isinstance(order["id"], int) and order["status"] == "Processing"
    assert order["channel"] == {"id": CHANNEL, "name": "ifs-shipbob"}
    [shipment] = order["shipments"]
    assert shipment["order_id"] == order["id"] and shipment["reference_id"] == "SO-1"
    assert shipment["status"] == "Processing" and shipment["tracking"] is None
    assert shipment["is_tracking_uploaded"] is False
    assert shipment["location"] == {"id": 157, "name": "Moreno Valley (CA)"}
    assert {p["sku"] for p in shipment["products"]} == {"P00001", "P00002"}
    assert level(sb, "P00001", 157)["committed_quantity"] == 2
    assert level(sb, "P00002", 157)["fulfillable_quantity"] == 6


def test_order_goes_to_a_center_that_can_fill_it(sb):
    order = sb.api("POST", "/order", json=order_body("SO-1", [("P00002", 6)])).json()
    assert order["shipments"][0]["location"]["id"] == 157  # 156 holds only 5


def test_duplicate_reference_is_422_and_invalid_orders_are_400_field_maps(sb):
    assert sb.api("POST", "/order", json=order_body("SO-1")).status_code == 201
    dup = sb.api("POST", "/order", json=order_body("SO-1"))
    assert dup.status_code == 422
    assert dup.json() == {"": ["Cannot insert order with existing ReferenceId"]}

    bad = order_body("SO-2", type="Retail")
    del bad["recipient"]["address"]["city"]
    bad["products"][0]["quantity"] = 0
    r = sb.api("POST", "/order", json=bad)
    assert r.status_code == 400
    assert set(r.json()) == {"type", "recipient.address.city", "products[0].quantity"}
    assert all(isinstance(m, list) and m for m in r.json().values())

    unknown = order_body("SO-3", [("NEW-SKU", 1)])
    del unknown["products"][0]["name"]
    r = sb.api("POST", "/order", json=unknown)
    assert r.status_code == 400 and "products[0].name" in r.json()
    unknown["products"][0]["name"] = "New thing"  # a name creates the product
    assert sb.api("POST", "/order", json=unknown).status_code == 201
    assert sb.api("GET", "/product?SKU=NEW-SKU").json()["items"][0]["name"] == "New thing"
    # Lines by ShipBob product id validate too (the spec's undeclared product_id is ignored).
    pid = sb.api("GET", "/product?SKU=P00003").json()["items"][0]["id"]
    by_id = order_body("SO-4")
    by_id["products"] = [{"id": pid, "quantity": 1}]
    assert sb.api("POST", "/order", json=by_id).json()["products"][0]["sku"] == "P00003"


def test_order_list_filters_and_paging(sb):
    ids = [sb.api("POST", "/order", json=order_body(f"SO-{i}")).json()["id"] for i in range(5)]
    assert [o["id"] for o in sb.api("GET", "/order").json()] == ids[::-1]  # newest first
    assert [o["id"] for o in sb.api("GET", "/order?SortOrder=Oldest&Limit=2&Page=2").json()] == ids[2:4]
    assert [o["reference_id"] for o in sb.api("GET", "/order?ReferenceIds=SO-1,SO-3").json()] == ["SO-3", "SO-1"]
    # A list filter is one comma-separated string (the OpenAPI document): an
    # escaped comma or a repeated parameter is split all the same.
    assert len(sb.api("GET", "/order?ReferenceIds=SO-1%2CSO-3").json()) == 2
    assert len(sb.api("GET", "/order?ReferenceIds=SO-1&ReferenceIds=SO-3").json()) == 2
    assert [o["id"] for o in sb.api("GET", f"/order?ids={ids[0]}").json()] == [ids[0]]
    assert sb.api("GET", "/order?Limit=251").status_code == 400
    shipped = sb.hook("POST", f"/orders/{ids[0]}/ship", json={}).json()
    stamp = shipped["shipments"][0]["last_update_at"]
    later = sb.api("GET", "/order", params={"LastUpdateStartDate": stamp}).json()
    assert [o["id"] for o in later] == [ids[0]]
    assert [o["id"] for o in sb.api("GET", "/order?HasTracking=true").json()] == [ids[0]]
    assert sb.api("GET", "/order/1").status_code == 404
    assert sb.api("GET", "/order/1").json()["status"] == 404


def test_cancel_releases_stock_and_is_refused_once_shipped(sb):
    order = sb.api("POST", "/order", json=order_body("SO-1", location_id=156)).json()
    r = sb.api("POST", f"/order/{order['id']}:cancel")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "Success" and body["order"]["status"] == "Cancelled"
    assert body["canceled_shipment_results"][0]["is_success"] is True
    assert level(sb, "P00001", 156)["committed_quantity"] == 0
    assert sb.api("POST", f"/order/{order['id']}:cancel").status_code == 422

    shipped = sb.api("POST", "/order", json=order_body("SO-2")).json()
    sb.hook("POST", f"/orders/{shipped['id']}/ship", json={})
    assert sb.api("POST", f"/order/{shipped['id']}:cancel").status_code == 422
    assert sb.api("POST", "/order/42:cancel").status_code == 404


def test_split_shipping_tracking_poll_and_upload(sb):
    order = sb.api("POST", "/order", json=order_body(
        "SO-1", [("P00001", 3), ("P00002", 2)], location_id=156)).json()
    r = sb.hook("POST", f"/orders/{order['id']}/ship", json={"shipments": [
        [{"sku": "P00001", "quantity": 3}], [{"sku": "P00002", "quantity": 1}]]})
    assert r.status_code == 200
    shipped = r.json()
    assert shipped["status"] == "PartiallyFulfilled"
    first, second, rest = shipped["shipments"]
    assert first["id"] == order["shipments"][0]["id"]  # the original shipment keeps its id
    for s in (first, second):
        assert s["status"] == "Completed" and s["actual_fulfillment_date"]
        assert set(s["tracking"]) >= {"carrier", "carrier_service", "tracking_number",
                                      "tracking_url", "shipping_date"}
    assert rest["status"] == "Processing" and rest["tracking"] is None
    assert level(sb, "P00001", 156)["on_hand_quantity"] == 7
    assert level(sb, "P00002", 156)["committed_quantity"] == 1

    # Ship the rest without tracking; tracking comes later (no 2026-01 webhook for that).
    sb.hook("POST", f"/orders/{order['id']}/ship", json={"with_tracking": False})
    full = sb.api("GET", f"/order/{order['id']}").json()
    assert full["status"] == "Fulfilled" and full["shipments"][2]["tracking"] is None
    poll = "/order?HasTracking=true&IsTrackingUploaded=false&Limit=250"
    assert [o["id"] for o in sb.api("GET", poll).json()] == [order["id"]]

    ids = [s["id"] for s in full["shipments"]]
    upload = sb.api("POST", "/shipment:batchUpdateTrackingUpload",
                    json={"shipment_ids": ids[:2] + [1], "is_tracking_uploaded": True}).json()
    assert upload["summary"] == {"total": 3, "successful": 2, "failed": 1}
    assert sb.api("GET", poll).json() == []

    stamp = sb.api("GET", f"/shipment/{ids[1]}").json()["last_tracking_update_at"]
    r = sb.hook("POST", f"/shipments/{ids[2]}/tracking", json={"carrier": "UPS"})
    assert r.json()["tracking"]["carrier"] == "UPS" and r.json()["is_tracking_uploaded"] is False
    assert [o["id"] for o in sb.api("GET", poll).json()] == [order["id"]]
    since = sb.api("GET", "/order", params={"LastTrackingUpdateStartDate": stamp}).json()
    assert [o["id"] for o in since] == [order["id"]]
    assert len(sb.api("GET", f"/order/{order['id']}/shipment").json()) == 3


def test_ship_hook_refuses_more_than_the_order_holds(sb):
    order = sb.api("POST", "/order", json=order_body("SO-1")).json()
    r = sb.hook("POST", f"/orders/{order['id']}/ship",
                json={"shipments": [[{"sku": "P00001", "quantity": 5}]]})
    assert r.status_code == 409


# -- receiving ---------------------------------------------------------------------------------

def test_wro_create_read_and_paging_headers(sb):
    r = sb.api("POST", "/receiving", channel=0, json=wro_body([(sb.inv["P00001"], 25)]))
    assert r.status_code == 201
    wro = r.json()
    assert sb.world.validator.response_errors("POST", "/2026-01/receiving", 201, wro) == []
    assert wro["status"] == "Awaiting" and wro["status_history"][0]["status"] == "Awaiting"
    assert wro["inventory_quantities"] == [{"inventory_id": sb.inv["P00001"], "sku": "P00001",
                                            "expected_quantity": 25, "received_quantity": 0,
                                            "stowed_quantity": 0}]
    assert level(sb, "P00001", 156)["awaiting_quantity"] == 25
    for po in ("PO-2", "PO-3"):
        sb.api("POST", "/receiving", json=wro_body([(sb.inv["P00002"], 1)], po=po))
    page = sb.api("GET", "/receiving?Limit=2")
    assert page.headers["Total-Count"] == "3" and page.headers["Total-Pages"] == "2"
    assert page.headers["Page-Number"] == "1" and page.headers["Page-Size"] == "2"
    nxt = sb.api("GET", page.headers["Next-Page"])
    assert [w["purchase_order_number"] for w in nxt.json()] == ["PO-3"]
    assert "Next-Page" not in nxt.headers
    assert [w["id"] for w in sb.api("GET", "/receiving?PurchaseOrderNumbers=PO-2").json()] == [wro["id"] + 1]
    assert sb.api("GET", f"/receiving/{wro['id']}/boxes").json()[0]["box_items"][0]["quantity"] == 25
    assert sb.api("GET", "/receiving/1").status_code == 404

    bad = wro_body([(sb.inv["P00001"], 1)])
    bad["package_type"] = "Crate"
    bad["boxes"][0]["box_items"][0]["inventory_id"] = 1
    r = sb.api("POST", "/receiving", json=bad)
    assert r.status_code == 400 and "package_type" in r.json()
    bad["package_type"] = "Pallet"
    r = sb.api("POST", "/receiving", json=bad)
    assert r.status_code == 400 and "boxes[0].box_items[0].inventory_id" in r.json()
    r = sb.api("POST", "/receiving", json=dict(bad, boxes=None))  # nullable, but required
    assert r.status_code == 400 and "boxes" in r.json()


def test_partial_receipt_completion_and_external_sync(sb):
    inv = sb.inv["P00001"]
    wro = sb.api("POST", "/receiving", json=wro_body([(inv, 10)])).json()
    r = sb.hook("POST", f"/receiving/{wro['id']}/receive",
                json={"items": [{"inventory_id": inv, "received": 10, "stowed": 4}]})
    assert r.status_code == 200
    assert r.json()["wros"][0]["status"] == "Processing"
    lv = level(sb, "P00001", 156)
    assert (lv["on_hand_quantity"], lv["awaiting_quantity"]) == (14, 0)
    poll = "/receiving?Statuses=Completed&ExternalSync=false"
    assert sb.api("GET", poll).json() == []
    assert sb.api("POST", f"/receiving/{wro['id']}:cancel").status_code == 422

    sb.hook("POST", f"/receiving/{wro['id']}/receive",
            json={"items": [{"inventory_id": inv, "received": 0, "stowed": 6}]})
    [done] = sb.api("GET", poll).json()
    assert done["status"] == "Completed" and done["external_sync_timestamp"] is None
    assert done["inventory_quantities"][0]["stowed_quantity"] == 10
    assert sb.api("GET", f"/receiving/{wro['id']}/boxes").json()[0]["box_status"] == "Completed"

    r = sb.api("POST", "/receiving:setExternalSync", json={"ids": [wro["id"]], "is_external_sync": True})
    assert r.status_code == 200 and r.json()["external_sync_timestamp"]
    assert sb.api("GET", poll).json() == []
    assert len(sb.api("GET", "/receiving?ExternalSync=true").json()) == 1
    assert sb.api("POST", "/receiving:setExternalSync", json={"ids": [1]}).status_code == 400


def test_staff_split_creates_an_unlinked_wro_with_the_same_po(sb):
    a, b = sb.inv["P00001"], sb.inv["P00002"]
    wro = sb.api("POST", "/receiving", json=wro_body([(a, 10), (b, 4)], po="PO-9")).json()
    r = sb.hook("POST", f"/receiving/{wro['id']}/receive", json={
        "split_into_new_wro": True, "items": [{"inventory_id": a, "received": 6, "stowed": 6}]})
    original, split = r.json()["wros"]
    assert split["id"] != original["id"] and split["purchase_order_number"] == "PO-9"
    assert split["status"] == "Completed"
    assert split["inventory_quantities"] == [{"inventory_id": a, "sku": "P00001",
                                              "expected_quantity": 6, "received_quantity": 6,
                                              "stowed_quantity": 6}]
    assert {q["inventory_id"]: q["expected_quantity"] for q in original["inventory_quantities"]} == {a: 4, b: 4}
    assert original["status"] == "Awaiting"
    assert len(sb.api("GET", "/receiving?PurchaseOrderNumbers=PO-9").json()) == 2
    lv = level(sb, "P00001", 156)
    assert (lv["on_hand_quantity"], lv["awaiting_quantity"]) == (16, 4)


def test_a_wro_holds_at_most_10000_unique_skus(sb):
    body = wro_body([(i, 1) for i in range(1, 10_002)])
    r = sb.api("POST", "/receiving", json=body)
    assert r.status_code == 422 and "WRO_UNIQUE_SKU_LIMIT_EXCEEDED" in r.text


def test_cancelling_an_awaiting_wro_releases_awaiting_stock(sb):
    wro = sb.api("POST", "/receiving", json=wro_body([(sb.inv["P00002"], 3)])).json()
    r = sb.api("POST", f"/receiving/{wro['id']}:cancel")
    assert r.status_code == 200 and r.json()["status"] == "Cancelled"
    assert level(sb, "P00002", 156)["awaiting_quantity"] == 0


# -- returns -----------------------------------------------------------------------------------

def return_body(sb, ref="RMA-1", qty=2, action="Default", **extra) -> dict:
    return {"reference_id": ref, "fulfillment_center": {"id": 156},
            "inventory": [{"id": sb.inv["P00001"], "quantity": qty, "requested_action": action}],
            **extra}


def test_return_lifecycle_restocks_and_locks_after_arrival(sb):
    r = sb.api("POST", "/return", json=return_body(sb, tracking_number="1Z999"))
    assert r.status_code == 201
    ret = r.json()
    assert sb.world.validator.response_errors("POST", "/2026-01/return", 201, ret) == []
    assert ret["status"] == "AwaitingArrival" and ret["fulfillment_center"]["id"] == 156
    dup = sb.api("POST", "/return", json=return_body(sb))
    assert dup.status_code == 422 and dup.json()["errors"]

    upd = sb.api("PUT", f"/return/{ret['id']}", json=return_body(sb, qty=3))
    assert upd.status_code == 200 and upd.json()["inventory"][0]["quantity"] == 3
    sb.hook("POST", f"/returns/{ret['id']}/advance", json={"status": "Arrived"})
    assert sb.api("PUT", f"/return/{ret['id']}", json=return_body(sb)).status_code == 422
    assert sb.api("POST", f"/return/{ret['id']}:cancel").status_code == 422

    done = sb.hook("POST", f"/returns/{ret['id']}/advance", json={
        "status": "Completed",
        "actions": [{"inventory_id": sb.inv["P00001"], "action": "Dispose", "quantity_processed": 1}]})
    body = done.json()
    assert body["status"] == "Completed" and body["completed_date"]
    taken = body["inventory"][0]["action_taken"]
    assert [(t["action"], t["quantity_processed"]) for t in taken] == [("Dispose", 1), ("Restock", 2)]
    assert [h["status"] for h in body["status_history"]] == ["AwaitingArrival", "Arrived",
                                                             "Processing", "Completed"]
    assert level(sb, "P00001", 156)["on_hand_quantity"] == 12
    assert sb.hook("POST", f"/returns/{ret['id']}/advance", json={"status": "Arrived"}).status_code == 409


def test_return_cancel_and_list_filters(sb):
    a = sb.api("POST", "/return", json=return_body(sb, "RMA-A")).json()
    b = sb.api("POST", "/return", json=return_body(sb, "RMA-B")).json()
    r = sb.api("POST", f"/return/{a['id']}:cancel")
    assert r.status_code == 200 and r.json()["status"] == "Cancelled"

    page = sb.api("GET", "/return?Limit=1&Cursor=1")
    assert page.headers["Total-Count"] == "2" and page.headers["Total-Pages"] == "2"
    body = page.json()
    assert [x["id"] for x in body["items"]] == [b["id"]] and body["next"]  # newest first
    assert [x["id"] for x in sb.api("GET", body["next"]).json()["items"]] == [a["id"]]
    assert [x["id"] for x in sb.api("GET", "/return?Status=Awaiting Arrival").json()["items"]] == [b["id"]]
    assert [x["id"] for x in sb.api("GET", "/return?ReferenceIds=RMA-A").json()["items"]] == [a["id"]]
    assert sb.api("GET", "/return?ReferenceIds=RMA-A", channel=OTHER_CHANNEL).json()["items"] == []
    assert sb.api("GET", f"/return/{b['id']}").json()["status_history"][0]["status"] == "AwaitingArrival"
    bad = sb.api("POST", "/return", json=return_body(sb, "RMA-C", action="Keep"))
    assert bad.status_code == 400 and "inventory[0].requested_action" in bad.json()["errors"]


# -- products and levels -----------------------------------------------------------------------

def test_product_create_and_search(sb):
    r = sb.api("POST", "/product", json={"name": "Mug", "type_id": 1, "variants": [
        {"sku": "MUG-1", "name": "Mug small"}, {"sku": "MUG-2", "name": "Mug large"}]})
    assert r.status_code == 201
    product = r.json()
    assert sb.world.validator.response_errors("POST", "/2026-01/product", 201, product) == []
    assert all(isinstance(v["inventory"]["inventory_id"], int) for v in product["variants"])
    assert sb.api("POST", "/product", json={"name": "Again", "variants": [{"sku": "MUG-1"}]}).status_code == 400

    found = sb.api("GET", "/product?SKU=any:MUG-2,P00001").json()["items"]
    assert [p["name"] for p in found] == [sb.api("GET", "/product?SKU=P00001").json()["items"][0]["name"], "Mug"]
    inv = product["variants"][1]["inventory"]["inventory_id"]
    assert sb.api("GET", f"/product?InventoryId={inv}").json()["items"][0]["id"] == product["id"]


def test_cursor_pages_walk_every_item_once(sb):
    seen, url, calls = [], "/inventory-level?PageSize=2", 0
    while url:
        body = sb.api("GET", url).json()
        seen += [i["sku"] for i in body["items"]]
        url, calls = body["next"], calls + 1
    assert seen == [f"P{i:05d}" for i in range(1, 6)] and calls == 3
    first = sb.api("GET", "/inventory-level?PageSize=2").json()
    assert first["prev"] is None and first["first"] and first["last"]
    p1 = sb.api("GET", "/inventory-level?InventoryIds=" + str(sb.inv["P00001"])).json()["items"][0]
    assert p1["total_on_hand_quantity"] == 10 and p1["total_fulfillable_quantity"] == 10
    assert p1["total_sellable_quantity"] == 10 and p1["total_awaiting_quantity"] == 0
    locs = sb.api("GET", "/inventory-level/locations?LocationId=157&PageSize=1").json()
    assert [loc["location_id"] for loc in locs["items"][0]["locations"]] == [157]
    assert sb.hook("GET", "/stats").json()["pages"]["GET /2026-01/inventory-level"]["calls"] >= 3


def test_exception_moves_stock_out_of_committed(sb):
    order = sb.api("POST", "/order", json=order_body("SO-1", location_id=156)).json()
    sid = order["shipments"][0]["id"]
    r = sb.hook("POST", f"/shipments/{sid}/status", json={"status": "Exception"})
    assert r.json()["status"] == "Exception"
    assert sb.api("GET", f"/order/{order['id']}").json()["status"] == "Exception"
    totals = sb.api("GET", f"/inventory-level/{sb.inv['P00001']}").json()
    assert totals["total_exception_quantity"] == 2 and totals["total_committed_quantity"] == 0
    assert totals["total_sellable_quantity"] == 8
    sb.hook("POST", f"/shipments/{sid}/status", json={"status": "Processing"})
    assert sb.api("GET", f"/inventory-level/{sb.inv['P00001']}").json()["total_committed_quantity"] == 2


def test_seeding_50000_skus_is_fast(sb):
    started = time.monotonic()
    r = sb.hook("POST", "/seed", json={"count": 50_000, "seed": 7})
    assert r.status_code == 200 and r.json()["created"] == 49_995  # P00001-5 exist already
    assert time.monotonic() - started < 10
    page = sb.api("GET", "/inventory-level?PageSize=250").json()
    assert len(page["items"]) == 250 and page["next"]
