"""A tenant's order change stamp follows every write to the order, its lines
and its delivery address (what a poll for edits after the push reads), while
the order's ETag changes only when the order row itself is written."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sandbox.ifs.app import create_app
from sandbox.ifs.config import IfsSandboxConfig
from sandbox.ifs.store import Store
from sandbox.ifs.tenant import TenantRenames

START = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def client(monkeypatch):
    ticks = iter(range(10_000))  # one second per write: IFS stamps are whole seconds
    monkeypatch.setattr(Store, "now", staticmethod(lambda: START + timedelta(seconds=next(ticks))))
    app = create_app(IfsSandboxConfig(tenant=TenantRenames(change_stamps={"CustomerOrder": "LastChanged"})))
    return app.test_client()


def order_row(client, order_no: str) -> dict:
    [row] = [r for r in client.get("/_sandbox/dump/CustomerOrderSet").get_json()["value"]
             if r["OrderNo"] == order_no]
    return row


def bump(client, entity_set: str, key: dict, changes: dict) -> None:
    response = client.post("/_sandbox/bump", json={"set": entity_set, "key": key, "changes": changes})
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("entity_set, key, changes", [
    ("CustomerOrderLineSet", {"LineNo": "2", "RelNo": "1", "LineItemNo": 0}, {"BuyQtyDue": 7}),
    ("CustomerOrderLineSet", {"LineNo": "1", "RelNo": "1", "LineItemNo": 0}, {"Objstate": "Cancelled"}),
    ("CustomerOrderAddresses", {}, {"City": "Seattle"}),
])
def test_a_line_or_address_write_moves_the_orders_stamp_not_its_etag(client, entity_set, key, changes):
    created = client.post("/_sandbox/orders", json={
        "lines": [{"PartNo": "P1", "BuyQtyDue": 1}, {"PartNo": "P2", "BuyQtyDue": 2}],
        "address": {"Name": "Ada", "Address1": "1 Main St", "City": "Portland", "Country": "US"}})
    order_no = created.get_json()["orders"][0]["OrderNo"]
    before = order_row(client, order_no)

    bump(client, entity_set, {"OrderNo": order_no, **key}, changes)

    after = order_row(client, order_no)
    assert after["LastChanged"] > before["LastChanged"]
    assert after["@odata.etag"] == before["@odata.etag"]


def test_another_orders_line_leaves_the_stamp_alone(client):
    orders = client.post("/_sandbox/orders", json={"orders": [
        {"lines": [{"PartNo": "P1", "BuyQtyDue": 1}]}, {"lines": [{"PartNo": "P1", "BuyQtyDue": 1}]}]})
    first, second = (o["OrderNo"] for o in orders.get_json()["orders"])
    before = order_row(client, first)
    bump(client, "CustomerOrderLineSet", {"OrderNo": second, "LineNo": "1", "RelNo": "1", "LineItemNo": 0},
         {"BuyQtyDue": 3})
    assert order_row(client, first)["LastChanged"] == before["LastChanged"]
