"""`POST /inventory/history:query` of the ShipBob stand-in over real HTTP: the events are
the sandbox's own stock movements (picks, WRO stows, restocks, adjustments), they add up
to the on-hand change, and they page by `inventory_audit_event_id` cursor (ShipBob 2026-01
OpenAPI, "Query Inventory History Events"). The server checks responses against the spec.
"""

from __future__ import annotations

import pytest

from sandbox.shipbob import ShipBobSandboxConfig
from sandbox.shipbob.testkit import SandboxHandle

from .test_shipbob_sandbox import level, order_body, wro_body

PAGE = 3


@pytest.fixture(scope="module")
def server():
    with SandboxHandle(ShipBobSandboxConfig(validate_responses=True,
                                            inventory_history_page_size=PAGE)) as sb:
        yield sb


@pytest.fixture
def sb(server):
    assert server.hook("POST", "/reset").ok
    seeded = server.hook("POST", "/seed", json={"count": 2, "levels": {
        "P00001": {"156": 10, "157": 4}, "P00002": {"156": 6, "157": 0}}})
    server.inv = seeded.json()["inventory_ids"]
    return server


def query(sb, **body):
    return sb.api("POST", "/inventory/history:query", json={"facility_id": 156, **body})


def adjust(sb, sku: str, change: int, fc: int = 156, reason: str = "Cycle count"):
    r = sb.hook("POST", "/inventory/adjust", json={"sku": sku, "fulfillment_center_id": fc,
                                                   "quantity_change": change, "reason": reason})
    assert r.status_code == 200, r.text
    return r.json()


def all_events(sb, **body) -> list[dict]:
    out, cursor = [], None
    while True:
        page = query(sb, cursor=cursor, **body).json()
        out += page["data"]
        if not page["next"]:
            return out
        cursor = page["data"][-1]["inventory_audit_event_id"]


def test_events_are_the_stock_movements_and_add_up_to_on_hand(sb):
    p1 = sb.inv["P00001"]
    wro = sb.api("POST", "/receiving", json=wro_body([(p1, 5)])).json()
    sb.hook("POST", f"/receiving/{wro['id']}/receive", json={"items": [
        {"inventory_id": p1, "received": 5, "stowed": 3}]}).raise_for_status()
    sb.hook("POST", f"/receiving/{wro['id']}/receive", json={"items": [
        {"inventory_id": p1, "received": 0, "stowed": 2}]}).raise_for_status()
    order = sb.api("POST", "/order", json=order_body("SO-1", [("P00001", 4)], location_id=156)).json()
    sb.hook("POST", f"/orders/{order['id']}/ship", json={}).raise_for_status()  # picked on the way
    adjust(sb, "P00001", -1)
    ret = sb.api("POST", "/return", json={"reference_id": "RMA-1", "fulfillment_center": {"id": 156},
                                          "inventory": [{"id": p1, "quantity": 2,
                                                         "requested_action": "Restock"}]}).json()
    sb.hook("POST", f"/returns/{ret['id']}/advance", json={"status": "Completed"}).raise_for_status()

    events = all_events(sb, inventory_ids=[p1])
    summary = [(e["event_category"], (e["increment"] or e["decrement"])["quantity_change"],
                (e["primary_reference"] or {}).get("type")) for e in events]
    assert summary == [("ReceivingStow", 3, "WroAndBox"), ("ReceivingStow", 2, "WroAndBox"),
                       ("OrderPicked", -4, "OrderId"), ("InventoryAdjusted", -1, "AdjustmentReason"),
                       ("InventoryRestocked", 2, "ReturnId")]
    ids = [e["inventory_audit_event_id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    stow, _, pick, adjusted, _ = events
    assert stow["primary_reference"]["value"].startswith(f"{wro['id']} ")
    assert stow["decrement"] is None and stow["increment"]["facility_id"] == 156
    assert stow["increment"]["sku"] == "P00001"
    assert pick["shipbob_order_id"] == order["id"] and pick["increment"] is None
    assert pick["decrement"]["committed_quantity_change"] == -4
    assert pick["primary_reference"] == {"type": "OrderId", "value": str(order["id"])}
    assert adjusted["decrement"]["quantity_change"] == -1 and adjusted["merchant_user_id"] == 1001
    # The history is the on-hand's own story: seed 10, then +3 +2 -4 -1 +2.
    assert level(sb, "P00001", 156)["on_hand_quantity"] == 10 + sum(q for _, q, _ in summary)


def test_pages_follow_the_event_id_cursor(sb):
    made = [adjust(sb, sku, 1, reason=f"count {i}")["inventory_audit_event_id"]
            for i, sku in enumerate(["P00001", "P00002"] * 4)]
    adjust(sb, "P00001", 1, fc=157)  # another FC: not in 156's history

    first = query(sb).json()
    assert [e["inventory_audit_event_id"] for e in first["data"]] == made[:PAGE]
    assert first["prev"] is None and first["first"] and first["last"]
    assert first["next"].endswith(f"?cursor={made[PAGE - 1]}")
    # The `next` link, posted with the same body, is the page after that event.
    second = sb.api("POST", first["next"], json={"facility_id": 156}).json()
    assert [e["inventory_audit_event_id"] for e in second["data"]] == made[PAGE:2 * PAGE]
    assert second["prev"] is not None
    assert [e["inventory_audit_event_id"] for e in all_events(sb)] == made
    last = query(sb, cursor=made[-1]).json()
    assert last["data"] == [] and last["next"] is None

    assert [e["inventory_id"] for e in all_events(sb, inventory_ids=[sb.inv["P00002"]])] == \
        [sb.inv["P00002"]] * 4
    assert len(all_events(sb, event_category="InventoryAdjusted")) == 8
    assert all_events(sb, event_category="OrderPicked") == []
    assert [e["facility_id"] for e in (x["increment"] for x in all_events(sb, facility_id=157))] == [157]
    assert query(sb, start_date="2099-01-01T00:00:00Z", end_date="2099-02-01T00:00:00Z").json()["data"] == []


def test_bad_queries_are_400(sb):
    r = sb.api("POST", "/inventory/history:query", data=b"")
    assert r.status_code == 400
    for body, field in (({}, "facility_id"),
                        ({"facility_id": "156"}, "facility_id"),
                        ({"facility_id": 156, "event_category": "Picks"}, "event_category"),
                        ({"facility_id": 156, "start_date": "2026-01-05"}, "start_date"),
                        ({"facility_id": 156, "start_date": "2026-01-01T00:00:00Z",
                          "end_date": "2026-06-01T00:00:00Z"}, "start_date"),
                        ({"facility_id": 156, "start_date": "2026-02-01T00:00:00Z",
                          "end_date": "2026-01-01T00:00:00Z"}, "start_date"),
                        ({"facility_id": 156, "inventory_ids": ["x"]}, "inventory_ids[0]")):
        r = sb.api("POST", "/inventory/history:query", json=body)
        assert r.status_code == 400 and field in r.json()["errors"], (body, r.text)
    r = sb.api("POST", "/inventory/history:query?cursor=abc", json={"facility_id": 156})
    assert r.status_code == 400 and "cursor" in r.json()["errors"]


def test_adjust_hook_refuses_what_is_not_there(sb):
    assert sb.hook("POST", "/inventory/adjust", json={
        "sku": "P00002", "fulfillment_center_id": 157, "quantity_change": -1}).status_code == 409
    assert sb.hook("POST", "/inventory/adjust", json={
        "sku": "NOPE", "fulfillment_center_id": 156, "quantity_change": 1}).status_code == 400
    assert query(sb).json()["data"] == []


def test_fulfillable_per_center_for_many_items_in_one_call(sb):
    sb.api("POST", "/order", json=order_body("SO-1", [("P00001", 3)], location_id=156))
    ids = ",".join(str(sb.inv[s]) for s in ("P00001", "P00002"))
    r = sb.api("GET", f"/inventory-level/locations?InventoryIds={ids}&PageSize=250")
    got = {item["sku"]: {loc["location_id"]: loc["fulfillable_quantity"] for loc in item["locations"]}
           for item in r.json()["items"]}
    assert got == {"P00001": {156: 7, 157: 4}, "P00002": {156: 6, 157: 0}}
