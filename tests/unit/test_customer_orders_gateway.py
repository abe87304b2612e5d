"""The customer order gateway under a renamed tenant: every IFS name it reads
or sends comes from the mapping's `ifs.customer_order` section. The real
IfsClient runs over a scripted transport that answers in the tenant's names
and records what was sent."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from connector.coordination import LocalCoordinator
from connector.errors import NeedsAttention
from connector.ifs import odata
from connector.ifs.client import IfsClient
from connector.ifs.customer_orders import Address, CustomerOrders, LineKey, OrderStamp
from connector.ifs.names import IfsNames
from connector.ifs.names.customer_orders import CustomerOrderNames
from connector.ifs.needs import Need
from connector.mapping import Mapping
from connector.settings import Settings

from .test_shipbob_fakes import response

# A tenant where every customer order name differs from the defaults, as a
# mapping file would give it.
RENAMED = Mapping.model_validate({"ifs": {"customer_order": {
    "projection": "SalesOrderHandling", "order_set": "SalesOrders", "line_set": "SalesOrderLines",
    "lines_nav": "Lines", "address_set": "SalesOrderDeliveryAddresses", "state_enum": "SalesOrderStatus",
    "released_state": "Approved", "cancelled_state": "Voided", "line_state_enum": "SalesOrderLineStatus",
    "closed_line_states": ["Closed", "Shipped"], "shipbob_id_field": "Cf_3pl_Ref",
    "changed_field": "ChangedAt",
    "order": {"order_no": "SoNo", "site": "Site", "state": "Status", "ship_via": "Carrier",
              "date_entered": "Entered"},
    "line": {"order_no": "SoNo", "line_no": "Ln", "rel_no": "Rel", "line_item_no": "Item", "part_no": "Part",
             "description": "Text", "site": "LineSite", "qty_due": "Due", "qty_shipped": "Sent",
             "qty_returned": "Back", "state": "LineStatus"},
    "address": {"order_no": "SoNo", "name": "Addressee", "address1": "Street", "address2": "Street2",
                "city": "Town", "state": "Region", "zip_code": "Postcode", "country": "CountryCode",
                "email": "Mail", "phone": "Tel"},
}}}).ifs.customer_order

HEADER = {"SoNo": "C1", "Site": "S01", "Status": "Approved", "Carrier": "UPS-GND",
          "Entered": "2026-12-05", "Cf_3pl_Ref": "101,102", "@odata.etag": 'W/"v1"'}
LINES = [
    {"SoNo": "C1", "Ln": "1", "Rel": "1", "Item": 0, "Part": "P1", "Text": "Widget", "LineSite": "S02",
     "Due": 5, "Sent": 2, "Back": 1, "LineStatus": "Approved"},
    {"SoNo": "C1", "Ln": "2", "Rel": "3", "Item": None, "Part": "P2", "Text": None, "LineSite": None,
     "Due": 1, "Sent": 1, "Back": 0, "LineStatus": "Shipped"},
]
ADDRESS = {"SoNo": "C1", "Addressee": "Ada Lovelace", "Street": "1 Main St", "Street2": None, "Town": "Chicago",
           "Region": "IL", "Postcode": "60607", "CountryCode": "US", "Mail": "ada@example.com", "Tel": None}


class ScriptedIfs:
    """A requests.Session stand-in: the token endpoint, GETs answered from
    `answers` (service path -> entity or rows, or a function of the query),
    PATCHes answered with the changed entity. Records every request."""

    def __init__(self, answers):
        self.answers = answers
        self.sent: list[dict] = []

    def post(self, url, **kw):  # the token endpoint
        return response(200, {"access_token": "token-1", "expires_in": 3600})

    def request(self, method, url, data=None, headers=None, **kw):
        parts = urlsplit(url)
        path = unquote(parts.path.split(".svc/", 1)[1])
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.sent.append({"method": method, "path": path, "query": query, "body": data,
                          "headers": headers, "projection": parts.path.split(".svc/", 1)[0].rsplit("/", 1)[1]})
        if method == "PATCH":
            return response(200, {"@odata.etag": 'W/"v2"'})
        answer = self.answers[path]
        answer = answer(query) if callable(answer) else answer
        return response(200, {"value": answer} if isinstance(answer, list) else answer)


def gateway(answers, names: CustomerOrderNames = RENAMED):
    transport = ScriptedIfs(answers)
    settings = Settings(ifs_base_url="http://ifs.test", ifs_batch_reads=False)
    return CustomerOrders(IfsClient(settings, LocalCoordinator(), session=transport), names), transport


def test_read_gives_the_order_its_lines_and_address_from_the_tenants_names():
    orders, sent = gateway({"SalesOrders(SoNo='C1')": HEADER, "SalesOrders(SoNo='C1')/Lines": LINES,
                            "SalesOrderDeliveryAddresses": [ADDRESS]})
    order, lines, address = orders.read("C1")
    assert (order.order_no, order.site, order.state, order.ship_via, order.date_entered, order.shipbob_ids) == (
        "C1", "S01", "Approved", "UPS-GND", "2026-12-05", ("101", "102"))
    assert order.entity["@odata.etag"] == 'W/"v1"'  # kept: the write-back needs no GET
    assert [line.key for line in lines] == [LineKey("1", "1", 0), LineKey("2", "3", 0)]
    first = lines[0]
    assert (first.part_no, first.description, first.site, first.qty_due, first.qty_shipped,
            first.qty_returned, first.state) == ("P1", "Widget", "S02", 5.0, 2.0, 1.0, "Approved")
    assert (first.open_qty, first.returnable_qty) == (3.0, 1.0)
    assert lines[1].site is None  # the order's own site
    assert address == Address(name="Ada Lovelace", address1="1 Main St", address2=None, city="Chicago",
                              state="IL", zip_code="60607", country="US", email="ada@example.com", phone=None)
    assert {s["projection"] for s in sent.sent} == {"SalesOrderHandling"}
    assert sent.sent[2]["query"] == {"$filter": "SoNo eq 'C1'"}


def test_an_order_without_ids_or_address_reads_as_empty():
    orders, _ = gateway({"SalesOrders(SoNo='C1')": {**HEADER, "Cf_3pl_Ref": None},
                         "SalesOrders(SoNo='C1')/Lines": [], "SalesOrderDeliveryAddresses": []})
    order, lines, address = orders.read("C1")
    assert (order.shipbob_ids, lines, address) == ((), [], None)


def test_decisions_use_the_tenants_states():
    orders, _ = gateway({"SalesOrders(SoNo='C1')": HEADER, "SalesOrders(SoNo='C1')/Lines": LINES,
                         "SalesOrderDeliveryAddresses": [ADDRESS]})
    order, lines, _address = orders.read("C1")
    assert orders.is_released(order) and not orders.is_cancelled(order)
    voided = orders._order({**HEADER, "Status": "Voided"})
    assert orders.is_cancelled(voided) and not orders.is_released(voided)
    # line 1 is open (3 left); line 2 is in a closed state
    assert [orders.is_open(line) for line in lines] == [True, False]
    assert [line.part_no for line in orders.lines("C1")] == ["P1", "P2"]


def test_the_poll_query_filters_selects_and_pages_in_the_tenants_names():
    orders, sent = gateway({"SalesOrders": [{"SoNo": "C7", "ChangedAt": "2026-12-05T10:00:00Z"},
                                            {"SoNo": "C8", "ChangedAt": None}]})
    since = datetime(2026, 12, 1, tzinfo=timezone.utc)
    until = datetime(2026, 12, 2, tzinfo=timezone.utc)
    found = orders.released_unpushed_since(["S01", "S02"], since, until)
    assert found == [OrderStamp("C7", "2026-12-05T10:00:00Z"), OrderStamp("C8", None)]
    [request] = sent.sent
    assert request["query"]["$filter"] == (
        "Status eq IfsApp.SalesOrderHandling.SalesOrderStatus'Approved' and (Site eq 'S01' or Site eq 'S02') "
        "and ChangedAt ge 2026-12-01T00:00:00Z and Cf_3pl_Ref eq null and ChangedAt lt 2026-12-02T00:00:00Z")
    assert request["query"]["$select"] == "SoNo,ChangedAt"
    assert request["query"]["$orderby"] == "ChangedAt asc,SoNo asc"


def test_the_default_names_send_the_filter_ifs_documents():
    # ifs-cloud.md §3/§8: enum filters as qualified literals
    orders, sent = gateway({"CustomerOrderSet": []}, names=CustomerOrderNames())
    orders.released_unpushed_since(["S01"], datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert sent.sent[0]["query"]["$filter"] == (
        "Objstate eq IfsApp.CustomerOrderHandling.CustomerOrderState'Released' and (Contract eq 'S01') "
        "and DateEntered ge 2026-12-01T00:00:00Z and Cf_Shipbob_Order_Id eq null")


def test_released_unpushed_and_cancelled_since_ask_in_the_tenants_names():
    orders, sent = gateway({"SalesOrders": [{"SoNo": "C1"}, {"SoNo": "C2"}]})
    assert orders.released_unpushed(["S01"]) == ["C1", "C2"]
    assert orders.cancelled_since(["S01"], datetime(2026, 11, 7, tzinfo=timezone.utc)) == ["C1", "C2"]
    unpushed, cancelled = (s["query"] for s in sent.sent)
    assert unpushed == {"$filter": "Status eq IfsApp.SalesOrderHandling.SalesOrderStatus'Approved' "
                                   "and (Site eq 'S01') and Cf_3pl_Ref eq null",
                        "$select": "SoNo", "$orderby": "SoNo asc", "$top": "1000"}
    assert cancelled["$filter"] == ("Status eq IfsApp.SalesOrderHandling.SalesOrderStatus'Voided' "
                                    "and (Site eq 'S01') and ChangedAt ge 2026-11-07T00:00:00Z")


def test_part_nos_asks_the_line_set_fifty_orders_at_a_time():
    def lines_of(query):
        asked = [clause.split("'")[1] for clause in query["$filter"].strip("()").split(" or ")]
        return [{"Part": f"P-{order_no}"} for order_no in asked]

    orders, sent = gateway({"SalesOrderLines": lines_of})
    order_nos = [f"C{i}" for i in range(120)]
    assert orders.part_nos(order_nos) == {f"P-{no}" for no in order_nos}
    assert [len(s["query"]["$filter"].split(" or ")) for s in sent.sent] == [50, 50, 20]
    assert all(s["query"]["$filter"].startswith("(SoNo eq 'C") and s["query"]["$select"] == "Part"
               for s in sent.sent)
    assert orders.part_nos([]) == set() and len(sent.sent) == 3


def test_shipbob_ids_are_written_comma_joined_under_the_etag_read_with_the_order():
    orders, sent = gateway({"SalesOrders(SoNo='C1')": {**HEADER, "Cf_3pl_Ref": None}})
    order = orders._order({**HEADER, "Cf_3pl_Ref": None})
    orders.write_shipbob_ids(order, ["101", "102"])
    [patch] = sent.sent  # no GET: the ETag came with the order
    assert (patch["method"], patch["path"]) == ("PATCH", "SalesOrders(SoNo='C1')")
    assert patch["headers"]["If-Match"] == 'W/"v1"'
    assert odata.json_body({"Cf_3pl_Ref": "101,102"}) == patch["body"]


def test_ids_already_there_are_not_written_again():
    orders, sent = gateway({})
    orders.write_shipbob_ids(orders._order(HEADER), ["101", "102"])
    assert sent.sent == []


def test_doctor_checks_every_name_the_gateway_uses():
    needs = IfsNames(customer_order=RENAMED).needs().projections["SalesOrderHandling"].needs
    described = {need.describe() for need in needs}
    assert {"entity set SalesOrders", "key SoNo on SalesOrders", "property ChangedAt on SalesOrders",
            "property Cf_3pl_Ref on SalesOrders", "navigation Lines on SalesOrders",
            "property LineStatus on SalesOrders/Lines", "property Part on SalesOrderLines",
            "property SoNo on SalesOrderLines", "property Postcode on SalesOrderDeliveryAddresses",
            "enum member SalesOrderStatus'Approved'", "enum member SalesOrderStatus'Voided'"} <= described
    assert Need("enum type", "SalesOrderLineStatus") in needs
    assert {n.name for n in needs if n.kind == "enum member" and n.enum == "SalesOrderLineStatus"} == {
        "Closed", "Shipped"}


@pytest.mark.parametrize("missing", ["Ln", "Rel", "Part"])
def test_a_line_without_its_key_or_part_parks_naming_the_property(missing):
    # what a tenant whose property has another name sends: not a KeyError deep in a flow
    orders, _ = gateway({"SalesOrders(SoNo='C1')/Lines": [
        {k: v for k, v in LINES[0].items() if k != missing}]})
    with pytest.raises(NeedsAttention, match=f"without '{missing}'.*ifs.customer_order"):
        orders.lines("C1")


def test_an_order_row_without_its_number_parks_naming_the_property():
    orders, _ = gateway({"SalesOrders": [{"ChangedAt": "2026-12-05T10:00:00Z"}]})
    with pytest.raises(NeedsAttention, match="without 'SoNo'"):
        orders.released_unpushed_since(["S01"], datetime(2026, 12, 1, tzinfo=timezone.utc))


def test_pushed_orders_changed_since_are_asked_in_the_tenants_names():
    orders, sent = gateway({"SalesOrders": [{"SoNo": "C7", "ChangedAt": "2026-12-05T10:00:00Z"}]})
    found = orders.released_pushed_since(["S01"], datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert found == [OrderStamp("C7", "2026-12-05T10:00:00Z")]
    assert orders.released_pushed_since(["S01"], None) == found
    since, every = (s["query"] for s in sent.sent)
    assert since["$filter"] == (
        "Status eq IfsApp.SalesOrderHandling.SalesOrderStatus'Approved' and (Site eq 'S01') "
        "and ChangedAt ge 2026-12-01T00:00:00Z and Cf_3pl_Ref ne null")
    assert (since["$select"], since["$orderby"]) == ("SoNo,ChangedAt", "ChangedAt asc,SoNo asc")
    assert "ChangedAt ge" not in every["$filter"]


def test_an_order_read_carries_its_change_stamp_and_many_are_read_at_once():
    header = {**HEADER, "ChangedAt": "2026-12-06T08:00:00Z"}
    answers = {}
    for no in ("C1", "C2"):
        answers[f"SalesOrders(SoNo='{no}')"] = {**header, "SoNo": no}
        answers[f"SalesOrders(SoNo='{no}')/Lines"] = [{**LINES[0], "SoNo": no}]
    answers["SalesOrderDeliveryAddresses"] = lambda query: [
        {**ADDRESS, "SoNo": query["$filter"].split("'")[1]}]
    orders, _ = gateway(answers)
    read = orders.read_orders(["C1", "C2"])
    assert [(o.order_no, o.changed, [ln.part_no for ln in lines], a.name if a else None)
            for o, lines, a in read] == [("C1", "2026-12-06T08:00:00Z", ["P1"], "Ada Lovelace"),
                                         ("C2", "2026-12-06T08:00:00Z", ["P1"], "Ada Lovelace")]
