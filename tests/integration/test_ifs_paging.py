"""@odata.nextLink in every form OData allows (OData JSON 4.01 §4.3): absolute,
root-relative, and relative to the payload's context URL (the service root),
in collections, navigation collections and `$batch` parts.

A relative link on a navigation, e.g.
`PurchaseOrderSet(OrderNo='P1')/PurchaseOrderLineArray?$skiptoken=3`, resolves
against the service root, not against the request URL (which would double
the key segment and 404)."""

from __future__ import annotations

import pytest
import requests

from connector.coordination import LocalCoordinator
from connector.ifs import odata
from connector.ifs.client import IfsClient, Read
from connector.settings import Settings

pytestmark = pytest.mark.integration

CO, ORDERS, CO_LINES = "CustomerOrderHandling", "CustomerOrderSet", "OrderLinesArray"
PO, POS, PO_LINES = "PurchaseOrderHandling", "PurchaseOrderSet", "PurchaseOrderLineArray"
SERVER_PAGE = 3  # every collection below is longer than a server page
LINES = 8
FORMS = ["absolute", "root-relative", "relative"]


@pytest.fixture(scope="module")
def server():
    from sandbox.ifs.app import create_app
    from sandbox.ifs.config import IfsSandboxConfig
    from sandbox.server import BackgroundServer

    srv = BackgroundServer(create_app(IfsSandboxConfig(page_size=SERVER_PAGE))).start()
    yield srv
    srv.stop()


def hook(server, name: str, body: dict) -> dict:
    response = requests.post(f"{server.url}/_sandbox/{name}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.fixture(params=FORMS)
def form(request, server):
    hook(server, "reset", {})
    hook(server, "seed", {"orders": 10, "purchase_orders": 0})
    hook(server, "orders", {"OrderNo": "C-LONG", "lines": [
        {"PartNo": f"P{n:05d}", "BuyQtyDue": n} for n in range(1, LINES + 1)]})
    hook(server, "purchase_orders", {"OrderNo": "P5001", "lines": [
        {"PartNo": f"P{n:05d}", "BuyQtyDue": n} for n in range(1, LINES + 1)]})
    hook(server, "faults", {"next_link_form": request.param})
    return request.param


@pytest.fixture
def client(server):
    settings = Settings(ifs_base_url=server.url, http_timeout_seconds=10)
    return IfsClient(settings, LocalCoordinator())


def raw_first_page(client: IfsClient, projection: str, path: str) -> dict:
    return client._get_json(client.url(projection, path), "first page")


def assert_link_form(link: str, form: str) -> None:
    if form == "absolute":
        assert link.startswith("http://")
    elif form == "root-relative":
        assert link.startswith("/main/ifsapplications/projection/v1/")
    else:
        assert not link.startswith(("/", "http")) and "$skiptoken=" in link


def test_collection_pages_are_followed_in_every_link_form(client, form):
    assert_link_form(raw_first_page(client, CO, ORDERS)["@odata.nextLink"], form)
    got = [row["OrderNo"] for row in client.query(CO, ORDERS)]
    assert len(got) == len(set(got)) == 11
    ordered = [row["OrderNo"] for row in client.query(CO, ORDERS, orderby=["OrderNo"], page_size=5)]
    assert ordered == sorted(got)


def test_navigation_pages_are_followed_in_every_link_form(client, form):
    order_lines = f"{odata.key_path(ORDERS, OrderNo='C-LONG')}/{CO_LINES}"
    po_lines = f"{odata.key_path(POS, OrderNo='P5001')}/{PO_LINES}"
    assert_link_form(raw_first_page(client, PO, po_lines)["@odata.nextLink"], form)
    assert [line["BuyQtyDue"] for line in client.query(CO, order_lines)] == list(range(1, LINES + 1))
    assert [line["PartNo"] for line in client.query(PO, po_lines)] == [
        f"P{n:05d}" for n in range(1, LINES + 1)]


@pytest.mark.parametrize("batch_reads", [True, False])
def test_batch_parts_follow_their_next_links_in_every_link_form(server, form, batch_reads):
    settings = Settings(ifs_base_url=server.url, http_timeout_seconds=10, ifs_batch_reads=batch_reads)
    client = IfsClient(settings, LocalCoordinator())
    order = odata.key_path(ORDERS, OrderNo="C-LONG")
    header, lines, orders = client.read_many(CO, [Read(order), Read(f"{order}/{CO_LINES}"), Read(ORDERS)])
    assert header["OrderNo"] == "C-LONG"
    assert [line["BuyQtyDue"] for line in lines] == list(range(1, LINES + 1))
    assert len({row["OrderNo"] for row in orders}) == 11
    [po_lines] = client.read_many(PO, [Read(f"{odata.key_path(POS, OrderNo='P5001')}/{PO_LINES}")])
    assert len(po_lines) == LINES
