"""The IFS sandbox over real HTTP: tokens, OData envelopes, queries, paging,
ETags, errors, faults and $metadata (shared/api/ifs-cloud.md §2, §7-§9, §11)."""

from __future__ import annotations

import base64
import time
import xml.etree.ElementTree as ET

import pytest
import requests

from sandbox.ifs import IfsSandboxConfig, create_app
from sandbox.ifs.tenant import TenantRenames
from sandbox.server import BackgroundServer

CO = "CustomerOrderHandling"
RELEASED = f"IfsApp.{CO}.CustomerOrderState'Released'"


class Ifs:
    """A bare HTTP client for the sandbox: no retries, nothing hidden."""

    def __init__(self, url: str, prefix: str = "main", realm: str = "ifsdemo"):
        self.url = url
        self.prefix = prefix
        self.realm = realm
        self.http = requests.Session()

    def token(self, **form) -> requests.Response:
        data = {"grant_type": "client_credentials", "client_id": "ifs-shipbob",
                "client_secret": "sandbox-secret", "scope": "openid microprofile-jwt", **form}
        return self.http.post(f"{self.url}/auth/realms/{self.realm}/protocol/openid-connect/token",
                              data=data, timeout=10)

    def authenticate(self) -> "Ifs":
        response = self.token()
        response.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return self

    def svc(self, projection: str, path: str = "") -> str:
        return f"{self.url}/{self.prefix}/ifsapplications/projection/v1/{projection}.svc/{path}"

    def get(self, projection: str, path: str, params=None, **kw) -> requests.Response:
        return self.http.get(self.svc(projection, path), params=params, timeout=10, **kw)

    def post(self, projection: str, path: str, body=None, **kw) -> requests.Response:
        return self.http.post(self.svc(projection, path), json=body, timeout=10, **kw)

    def patch(self, projection: str, path: str, body, **kw) -> requests.Response:
        return self.http.patch(self.svc(projection, path), json=body, timeout=10, **kw)

    def delete(self, projection: str, path: str, **kw) -> requests.Response:
        return self.http.delete(self.svc(projection, path), timeout=10, **kw)

    def hook(self, name: str, body=None) -> dict:
        response = requests.post(f"{self.url}/_sandbox/{name}", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def dump(self, set_name: str) -> list[dict]:
        response = requests.get(f"{self.url}/_sandbox/dump/{set_name}", timeout=30)
        response.raise_for_status()
        return response.json()["value"]

    def order(self, **fields) -> str:
        """One order via the hook; returns its OrderNo."""
        body = {"CustomerNo": "CU-T", "Contract": "S01", "ShipViaCode": "UPS-GND",
                "lines": [{"PartNo": "P00001", "BuyQtyDue": 2}],
                "address": {"Name": "Ann Lee", "Address1": "1 Main St", "City": "Chicago",
                            "State": "IL", "ZipCode": "60601", "Country": "US"}, **fields}
        return self.hook("orders", body)["orders"][0]["OrderNo"]


def error_of(response: requests.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "details"} <= set(body["error"])
    assert all({"code", "message"} <= set(d) for d in body["error"]["details"])
    return body["error"]


@pytest.fixture(scope="module")
def server():
    srv = BackgroundServer(create_app(IfsSandboxConfig())).start()
    yield srv
    srv.stop()


@pytest.fixture
def ifs(server) -> Ifs:
    client = Ifs(server.url)
    client.hook("reset")
    return client.authenticate()


@pytest.fixture
def seeded(ifs) -> Ifs:
    ifs.hook("seed", {"orders": 30, "parts": 40, "seed": 7, "purchase_orders": 3})
    return ifs


# ------------------------------------------------------------------ tokens

def test_token_response_has_the_iam_shape(ifs):
    response = ifs.token()
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 180
    assert {"access_token", "refresh_expires_in", "id_token", "not-before-policy",
            "session_state", "scope"} <= set(body)


@pytest.mark.parametrize("form, status, error", [
    ({"client_secret": "wrong"}, 401, "unauthorized_client"),
    ({"client_id": "someone-else"}, 401, "invalid_client"),
    ({"grant_type": "password"}, 400, "unsupported_grant_type"),
])
def test_token_endpoint_refuses_bad_clients(ifs, form, status, error):
    response = ifs.token(**form)
    assert response.status_code == status
    assert response.json()["error"] == error


def test_token_needs_form_encoding_and_the_right_realm(ifs):
    url = f"{ifs.url}/auth/realms/ifsdemo/protocol/openid-connect/token"
    assert requests.post(url, json={"grant_type": "client_credentials"}, timeout=5).status_code == 400
    assert Ifs(ifs.url, realm="other").token().status_code == 404


def test_client_secret_basic_is_accepted(ifs):
    response = requests.post(f"{ifs.url}/auth/realms/ifsdemo/protocol/openid-connect/token",
                             data={"grant_type": "client_credentials"},
                             auth=("ifs-shipbob", "sandbox-secret"), timeout=5)
    assert response.status_code == 200


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic aWZzOnNi"])
def test_projection_calls_need_a_valid_bearer_token(ifs, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(ifs.svc(CO, "CustomerOrderSet"), headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert error_of(response)["code"] == "UNAUTHORIZED"


def test_an_expired_token_gets_401_and_a_new_one_works():
    with BackgroundServer(create_app(IfsSandboxConfig(token_ttl_seconds=1))) as srv:
        client = Ifs(srv.url).authenticate()
        assert client.get(CO, "CustomerOrderSet").status_code == 200
        time.sleep(1.2)
        assert client.get(CO, "CustomerOrderSet").status_code == 401
        assert client.authenticate().get(CO, "CustomerOrderSet").status_code == 200


def test_expire_tokens_hook(ifs):
    ifs.hook("expire_tokens")
    assert ifs.get(CO, "CustomerOrderSet").status_code == 401


# --------------------------------------------------------------- envelopes

def test_entity_envelope_and_etag_format(ifs):
    order_no = ifs.order()
    response = ifs.get(CO, f"CustomerOrderSet(OrderNo='{order_no}')")
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith(f"/{CO}.svc/$metadata#CustomerOrderSet/$entity")
    assert body["@odata.context"].startswith("http://")
    assert body["luname"] == "CustomerOrder"
    assert body["keyref"] == f"ORDER_NO={order_no}^"
    assert body["Objgrants"] is None
    assert body["Objstate"] == "Released"  # bodies carry bare enum members
    etag = body["@odata.etag"]
    assert etag == response.headers["ETag"]
    assert etag.startswith('W/"') and etag.endswith('"')
    inner = base64.b64decode(etag[3:-1]).decode()
    assert inner.startswith('W/"') and inner.endswith('"')
    objid, objversion = inner[3:-1].split(":")
    assert len(objid) == 18 and objversion[:14].isdigit()


def test_collection_envelope_with_count(seeded):
    body = seeded.get(CO, "CustomerOrderSet", {"$count": "true", "$top": "3"}).json()
    assert body["@odata.context"].endswith("$metadata#CustomerOrderSet")
    assert body["@odata.count"] == 30
    assert len(body["value"]) == 3
    assert all("@odata.etag" in row and row["luname"] == "CustomerOrder" for row in body["value"])
    assert "@odata.count" not in seeded.get(CO, "CustomerOrderSet").json()


def test_service_document_and_both_prefixes(ifs):
    body = ifs.get(CO, "").json()
    assert {s["name"] for s in body["value"]} == {
        "CustomerOrderSet", "CustomerOrderLineSet", "CustomerOrderAddresses"}
    ifs.prefix = "int"
    assert ifs.get(CO, "CustomerOrderSet").status_code == 200
    ifs.prefix = "b2b"
    assert error_of(ifs.get(CO, "CustomerOrderSet"))["code"] == "ODP_RESOURCE_NOTFOUND"


@pytest.mark.parametrize("path", [
    "NoSuchSet", "CustomerOrderSet(OrderNo='NOPE')",
    "CustomerOrderSet(OrderNo='NOPE')/OrderLinesArray",
    "CustomerOrderLineSet(OrderNo='NOPE',LineNo='1',RelNo='1',LineItemNo=0)"])
def test_unknown_sets_and_keys_are_not_found(ifs, path):
    response = ifs.get(CO, path)
    assert response.status_code == 404
    assert error_of(response)["code"] == "ODP_RESOURCE_NOTFOUND"


def test_unknown_projection_is_not_found(ifs):
    assert error_of(ifs.get("NoSuchHandling", "X"))["code"] == "ODP_RESOURCE_NOTFOUND"


# ------------------------------------------------------------------ keys

def test_lines_by_navigation_filter_and_full_key(ifs):
    order_no = ifs.order(lines=[{"PartNo": "P00001", "BuyQtyDue": 2},
                                {"PartNo": "P00002", "BuyQtyDue": 1, "Contract": "S02"}])
    nav = ifs.get(CO, f"CustomerOrderSet(OrderNo='{order_no}')/OrderLinesArray").json()
    assert nav["@odata.context"].endswith(
        f"$metadata#CustomerOrderSet(OrderNo='{order_no}')/OrderLinesArray")
    assert [(l["LineNo"], l["Contract"]) for l in nav["value"]] == [("1", "S01"), ("2", "S02")]
    flat = ifs.get(CO, "CustomerOrderLineSet", {"$filter": f"OrderNo eq '{order_no}'"}).json()
    assert [l["LineNo"] for l in flat["value"]] == ["1", "2"]
    one = ifs.get(CO, f"CustomerOrderLineSet(OrderNo='{order_no}',LineNo='2',RelNo='1',"
                      "LineItemNo=0)").json()
    assert one["PartNo"] == "P00002"
    assert one["keyref"] == f"LINE_ITEM_NO=0^LINE_NO=2^ORDER_NO={order_no}^REL_NO=1^"


@pytest.mark.parametrize("predicate", [
    "OrderNo=1", "OrderNum='X'", "OrderNo='X',LineNo='1'"])
def test_malformed_keys_are_bad_requests(ifs, predicate):
    assert ifs.get(CO, f"CustomerOrderSet({predicate})").status_code == 400


def test_percent_encoded_slash_stays_inside_the_key(ifs):
    ifs.order(OrderNo="A/B")
    response = ifs.get(CO, "CustomerOrderSet(OrderNo='A%2FB')")
    assert response.status_code == 200
    assert response.json()["OrderNo"] == "A/B"


# ---------------------------------------------------------------- $filter

def test_string_literals_escape_quotes(ifs):
    ifs.order(CustomerPoNo="O'Brien's")
    ifs.order(CustomerPoNo="OBriens")
    rows = ifs.get(CO, "CustomerOrderSet", {"$filter": "CustomerPoNo eq 'O''Brien''s'"}).json()
    assert [r["CustomerPoNo"] for r in rows["value"]] == ["O'Brien's"]


def test_enum_filters_need_qualified_literals(ifs):
    released = ifs.order()
    ifs.order(Objstate="Planned")
    rows = ifs.get(CO, "CustomerOrderSet", {"$filter": f"Objstate eq {RELEASED}"}).json()["value"]
    assert [r["OrderNo"] for r in rows] == [released]
    bare = ifs.get(CO, "CustomerOrderSet", {"$filter": "Objstate eq 'Released'"})
    assert bare.status_code == 400
    assert "qualified" in error_of(bare)["message"]
    for wrong in ("IfsApp.OtherHandling.CustomerOrderState'Released'",
                  f"IfsApp.{CO}.CustomerOrderState'Shipped'"):
        assert ifs.get(CO, "CustomerOrderSet", {"$filter": f"Objstate eq {wrong}"}).status_code == 400


def test_unknown_property_in_filter_select_orderby_is_400(ifs):
    for params in ({"$filter": "Nope eq 1"}, {"$select": "OrderNo,Nope"}, {"$orderby": "Nope"}):
        response = ifs.get(CO, "CustomerOrderSet", params)
        assert response.status_code == 400
        assert "Nope" in error_of(response)["message"]


def test_filter_grammar_over_http(seeded):
    def count(expr: str, set_name: str = "CustomerOrderLineSet") -> int:
        response = seeded.get(CO, set_name, {"$filter": expr, "$count": "true", "$top": "0"})
        assert response.status_code == 200, response.text
        return response.json()["@odata.count"]

    lines = seeded.dump("CustomerOrderLineSet")
    assert count("BuyQtyDue gt 1") == sum(l["BuyQtyDue"] > 1 for l in lines)
    assert count("BuyQtyDue ge 2 and Contract eq 'S02'") == sum(
        l["BuyQtyDue"] >= 2 and l["Contract"] == "S02" for l in lines)
    assert count("(Contract eq 'S01' or Contract eq 'S02') and not startswith(PartNo,'P0001')") == \
        sum(not l["PartNo"].startswith("P0001") for l in lines)
    assert count("contains(CatalogDesc,'Mug') or endswith(PartNo,'7')") == sum(
        "Mug" in l["CatalogDesc"] or l["PartNo"].endswith("7") for l in lines)
    assert count("BuyQtyDue mul 2 le 2") == sum(l["BuyQtyDue"] <= 1 for l in lines)
    assert count("RealShipDate eq null") == len(lines)
    assert count("DateEntered ge 2000-01-01T00:00:00Z", "CustomerOrderSet") == 30
    assert count("DateEntered lt 2000-01-01T00:00:00+02:00", "CustomerOrderSet") == 0
    assert count("year(DateEntered) ge 2000", "CustomerOrderSet") == 30


@pytest.mark.parametrize("expr, status, code", [
    ("DateEntered ge 2026-01-01", 400, "ODP_BAD_REQUEST"),  # Date vs DateTimeOffset
    ("OrderNo eq 1", 400, "ODP_BAD_REQUEST"),
    ("not OrderNo eq 'X'", 400, "ODP_BAD_REQUEST"),  # `not` binds tighter than eq
    ("OrderNo eq 'unterminated", 400, "ODP_BAD_REQUEST"),
    ("OrderNo", 400, "ODP_BAD_REQUEST"),
    ("round(1) eq 1", 501, "ODP_NOT_IMPLEMENTED"),
    ("Objstate has IfsApp.CustomerOrderHandling.CustomerOrderState'Released'", 501,
     "ODP_NOT_IMPLEMENTED"),
])
def test_invalid_filters(ifs, expr, status, code):
    response = ifs.get(CO, "CustomerOrderSet", {"$filter": expr})
    assert response.status_code == status
    assert error_of(response)["code"] == code


# ---------------------------------------------- select, order, top, skip

def test_select_limits_properties_and_names_them_in_the_context(seeded):
    body = seeded.get(CO, "CustomerOrderSet", {"$select": "OrderNo,Contract", "$top": "1"}).json()
    assert body["@odata.context"].endswith("$metadata#CustomerOrderSet(OrderNo,Contract)")
    row = body["value"][0]
    assert set(row) == {"@odata.etag", "luname", "keyref", "Objgrants", "OrderNo", "Contract"}


def test_orderby_several_keys_top_and_skip(seeded):
    all_rows = seeded.dump("CustomerOrderSet")
    expected = sorted(all_rows, key=lambda r: r["OrderNo"], reverse=True)
    expected = sorted(expected, key=lambda r: r["ShipViaCode"])
    params = {"$orderby": "ShipViaCode asc,OrderNo desc", "$select": "OrderNo,ShipViaCode"}
    rows = seeded.get(CO, "CustomerOrderSet", params).json()["value"]
    assert [r["OrderNo"] for r in rows] == [r["OrderNo"] for r in expected]
    window = seeded.get(CO, "CustomerOrderSet", {**params, "$top": "5", "$skip": "10"}).json()
    assert [r["OrderNo"] for r in window["value"]] == [r["OrderNo"] for r in expected[10:15]]
    assert seeded.get(CO, "CustomerOrderSet", {"$top": "-1"}).status_code == 400


def test_expand_of_a_collection_is_not_implemented(ifs):
    response = ifs.get(CO, "CustomerOrderSet", {"$expand": "OrderLinesArray"})
    assert response.status_code == 501
    assert error_of(response)["code"] == "ODP_NOT_IMPLEMENTED"


# ----------------------------------------------------------------- paging

def follow(ifs: Ifs, url: str, **kw) -> list[list[dict]]:
    pages = []
    while url:
        body = ifs.http.get(url, timeout=10, **kw).json()
        pages.append(body["value"])
        url = body.get("@odata.nextLink")
    return pages


def test_next_links_walk_the_whole_set_with_maxpagesize(seeded):
    first = seeded.get(CO, "CustomerOrderLineSet", {"$orderby": "PartNo asc", "$count": "true"},
                       headers={"Prefer": "odata.maxpagesize=7"})
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=7"
    link = first.json()["@odata.nextLink"]
    assert link.startswith("http://") and "$skiptoken=" in link and "$orderby=" in link
    pages = follow(seeded, first.url, headers={"Prefer": "odata.maxpagesize=7"})
    rows = [r for page in pages for r in page]
    assert all(len(page) == 7 for page in pages[:-1])
    assert [r["keyref"] for r in rows] == [
        r["keyref"] for r in sorted(seeded.dump("CustomerOrderLineSet"),
                                    key=lambda r: (r["PartNo"], r["OrderNo"], r["LineNo"]))]


def test_server_page_size_truncates_and_top_still_bounds_the_result():
    with BackgroundServer(create_app(IfsSandboxConfig(page_size=10))) as srv:
        client = Ifs(srv.url).authenticate()
        client.hook("seed", {"orders": 30, "parts": 20})
        pages = follow(client, client.svc(CO, "CustomerOrderSet?$top=25&$skip=2"))
        assert [len(p) for p in pages] == [10, 10, 5]
        orders = [r["OrderNo"] for p in pages for r in p]
        assert orders == sorted(r["OrderNo"] for r in client.dump("CustomerOrderSet"))[2:27]


# ------------------------------------------------------------------ ETags

def test_get_patch_with_etag_then_stale_etag_is_412(ifs):
    order_no = ifs.order()
    path = f"CustomerOrderSet(OrderNo='{order_no}')"
    etag = ifs.get(CO, path).json()["@odata.etag"]
    response = ifs.patch(CO, path, {"Cf_Shipbob_Order_Id": "9001"}, headers={"If-Match": etag})
    assert response.status_code == 204
    assert response.headers["ETag"] != etag
    fresh = ifs.get(CO, path).json()
    assert fresh["Cf_Shipbob_Order_Id"] == "9001"
    assert fresh["@odata.etag"] == response.headers["ETag"]
    stale = ifs.patch(CO, path, {"Cf_Shipbob_Order_Id": "9002"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert "modified by another user" in error_of(stale)["details"][0]["message"]
    star = ifs.patch(CO, path, {"CustRef": "x"}, headers={"If-Match": "*",
                                                          "Prefer": "return=representation"})
    assert star.status_code == 200 and star.json()["CustRef"] == "x"


def test_etag_compare_is_byte_for_byte(ifs):
    order_no = ifs.order()
    path = f"CustomerOrderSet(OrderNo='{order_no}')"
    etag = ifs.get(CO, path).json()["@odata.etag"]
    unwrapped = etag[2:]  # without the W/ prefix
    response = ifs.patch(CO, path, {"CustRef": "x"}, headers={"If-Match": unwrapped})
    assert response.status_code == 412


def test_bump_hook_simulates_a_concurrent_edit(ifs):
    order_no = ifs.order()
    path = f"CustomerOrderSet(OrderNo='{order_no}')"
    etag = ifs.get(CO, path).json()["@odata.etag"]
    bumped = ifs.hook("bump", {"set": "CustomerOrderSet", "key": {"OrderNo": order_no}})
    assert bumped["@odata.etag"] != etag
    assert ifs.patch(CO, path, {"CustRef": "x"}, headers={"If-Match": etag}).status_code == 412


def test_stale_etag_fault_then_reread_and_retry_succeeds(ifs):
    order_no = ifs.order()
    path = f"CustomerOrderSet(OrderNo='{order_no}')"
    etag = ifs.get(CO, path).json()["@odata.etag"]
    ifs.hook("faults", {"stale_etag": 1})
    assert ifs.patch(CO, path, {"CustRef": "a"}, headers={"If-Match": etag}).status_code == 412
    etag = ifs.get(CO, path).json()["@odata.etag"]
    assert ifs.patch(CO, path, {"CustRef": "a"}, headers={"If-Match": etag}).status_code == 204


def test_collection_rows_carry_the_same_etag_as_get_by_key(ifs):
    order_no = ifs.order()
    row = ifs.get(CO, "CustomerOrderSet", {"$filter": f"OrderNo eq '{order_no}'"}).json()["value"][0]
    assert row["@odata.etag"] == ifs.get(CO, f"CustomerOrderSet(OrderNo='{order_no}')").json()[
        "@odata.etag"]


def test_patch_without_if_match_is_an_upsert(ifs):
    existing = ifs.order()
    updated = ifs.patch(CO, f"CustomerOrderSet(OrderNo='{existing}')", {"CustRef": "upd"})
    assert updated.status_code == 204
    created = ifs.patch(CO, "CustomerOrderSet(OrderNo='TYPO-1')",
                        {"CustomerNo": "CU-T", "Contract": "S01"})
    assert created.status_code == 201
    assert created.json()["OrderNo"] == "TYPO-1"
    assert created.json()["Objstate"] == "Planned"
    assert created.headers["Location"].endswith("CustomerOrderSet(OrderNo='TYPO-1')")
    assert ifs.get(CO, "CustomerOrderSet(OrderNo='TYPO-1')").status_code == 200
    with_match = ifs.patch(CO, "CustomerOrderSet(OrderNo='TYPO-2')", {"CustRef": "x"},
                           headers={"If-Match": "*"})
    assert with_match.status_code == 404


def test_objstate_and_other_computed_attributes_are_read_only(ifs):
    order_no = ifs.order()
    path = f"CustomerOrderSet(OrderNo='{order_no}')"
    for body in ({"Objstate": "Cancelled"}, {"DateEntered": "2026-01-01T00:00:00Z"}):
        response = ifs.patch(CO, path, body, headers={"If-Match": "*"})
        assert response.status_code == 400
        assert "read-only" in error_of(response)["message"]
    assert ifs.get(CO, path).json()["Objstate"] == "Released"


@pytest.mark.parametrize("kwargs", [
    {"data": '{"CustRef": "x"}'},  # no Content-Type
    {"data": '{"CustRef": "x"}', "headers": {"Content-Type": "text/plain"}},
    {"data": "{not json", "headers": {"Content-Type": "application/json"}},
    {"data": '{"NoSuchField": 1}', "headers": {"Content-Type": "application/json"}},
    {"data": '{"CustRef": 12}', "headers": {"Content-Type": "application/json"}},
])
def test_bad_bodies_are_deserialization_errors(ifs, kwargs):
    order_no = ifs.order()
    headers = {"If-Match": "*", **kwargs.pop("headers", {})}
    response = ifs.http.patch(ifs.svc(CO, f"CustomerOrderSet(OrderNo='{order_no}')"),
                              headers=headers, timeout=5, **kwargs)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "ODP_DESERIALIZATION_ERROR"
    assert error["message"] == "Error while de-serializing contents."


def test_missing_if_match_on_action_and_delete_is_428(ifs):
    order_no = ifs.order()
    action = (f"CustomerOrderSet(OrderNo='{order_no}')/IfsApp.{CO}."
              "CustomerOrder_RegisterFulfillment")
    response = ifs.post(CO, action, {"ExternalRef": "1", "ShipDate": "2026-01-02",
                                     "Lines": [{"LineNo": "1", "RelNo": "1", "LineItemNo": 0,
                                                "Qty": 1}]})
    assert response.status_code == 428
    assert error_of(response)["code"] == "ODP_MISSING_PRECONDITION"
    planned = ifs.order(Objstate="Planned")
    response = ifs.delete(CO, f"CustomerOrderSet(OrderNo='{planned}')")
    assert response.status_code == 428
    etag = ifs.get(CO, f"CustomerOrderSet(OrderNo='{planned}')").json()["@odata.etag"]
    assert ifs.delete(CO, f"CustomerOrderSet(OrderNo='{planned}')",
                      headers={"If-Match": etag}).status_code == 204
    assert ifs.get(CO, f"CustomerOrderSet(OrderNo='{planned}')").status_code == 404


# ----------------------------------------------------------------- faults

def test_mi_modified_once_then_the_retry_succeeds(ifs):
    ifs.hook("faults", {"mi_modified": 1})
    first = ifs.get(CO, "CustomerOrderSet")
    assert first.status_code == 500
    assert error_of(first)["code"] == "MI_MODIFIED_ERROR"
    assert ifs.get(CO, "CustomerOrderSet").status_code == 200
    stats = requests.get(f"{ifs.url}/_sandbox/stats", timeout=5).json()
    assert stats["faults_served"] == {"mi_modified": 1}
    assert stats["requests"][f"{CO}/CustomerOrderSet"]["GET"] == 2


@pytest.mark.parametrize("fault, status", [("too_many", 429), ("unavailable", 503)])
def test_rate_limit_and_unavailable_carry_retry_after(ifs, fault, status):
    ifs.hook("faults", {fault: 2, "retry_after": 3})
    for _ in range(2):
        response = ifs.get(CO, "CustomerOrderSet")
        assert response.status_code == status
        assert response.headers["Retry-After"] == "3"
    assert ifs.get(CO, "CustomerOrderSet").status_code == 200


def test_lost_response_applies_the_write_but_answers_504(ifs):
    ifs.hook("faults", {"lost_response": 1})
    body = {"Contract": "S01", "PartNo": "P1", "OnHandQty": 5}
    response = ifs.post("ExternalStockLevelHandling", "ExternalStockLevelSet", body)
    assert response.status_code == 504
    assert len(ifs.dump("ExternalStockLevelSet")) == 1


def test_error_rate_and_latency(ifs):
    ifs.hook("faults", {"error_rate": 1.0})
    assert ifs.get(CO, "CustomerOrderSet").status_code >= 500
    ifs.hook("faults", {"error_rate": 0.0, "latency_ms": 150})
    started = time.monotonic()
    assert ifs.get(CO, "CustomerOrderSet").status_code == 200
    assert time.monotonic() - started >= 0.15
    assert requests.post(f"{ifs.url}/_sandbox/faults", json={"nope": 1}, timeout=5).status_code == 400


# --------------------------------------------------------------- metadata

def test_metadata_lists_sets_properties_actions_and_enums(ifs):
    response = ifs.get(CO, "$metadata")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/xml")
    ns = {"edm": "http://docs.oasis-open.org/odata/ns/edm"}
    schema = ET.fromstring(response.content).find(".//edm:Schema", ns)
    assert schema.get("Namespace") == f"IfsApp.{CO}"
    sets = {e.get("Name") for e in schema.findall(".//edm:EntitySet", ns)}
    assert sets == {"CustomerOrderSet", "CustomerOrderLineSet", "CustomerOrderAddresses"}
    order = schema.find("edm:EntityType[@Name='CustomerOrder']", ns)
    props = {p.get("Name") for p in order.findall("edm:Property", ns)}
    assert {"OrderNo", "Objstate", "Cf_Shipbob_Order_Id", "DateEntered"} <= props
    assert order.find("edm:NavigationProperty[@Name='OrderLinesArray']", ns) is not None
    assert schema.find("edm:Action[@Name='CustomerOrder_RegisterFulfillment']", ns) is not None
    members = [m.get("Name") for m in
               schema.findall("edm:EnumType[@Name='CustomerOrderState']/edm:Member", ns)]
    assert "Released" in members and "PartiallyDelivered" in members
    stock = ifs.get("InventoryPartInStockHandling", "$metadata").text
    assert 'Name="InventoryPartInStockSet"' in stock and 'Name="QtyOnhand"' in stock


def test_a_renamed_tenant_is_served_under_its_names():
    tenant = TenantRenames(
        projections={"FulfillmentVoucherHandling": "DeliveryNoteHandling"},
        entity_sets={"FulfillmentVoucherSet": "DeliveryNoteSet", "ReturnMaterialSet": "RmaSet"},
        navigations={"CustomerOrder": {"OrderLinesArray": "OrderLines"}},
        properties={"CustomerOrder": {"Cf_Shipbob_Order_Id": "Cf_Sb_Ref"},
                    "FulfillmentVoucher": {"VoucherNo": "DelnoteNo"},
                    "FulfillmentVoucherLine": {"VoucherNo": "DelnoteNo"},
                    "FulfillmentLine": {"Qty": "QtyToDeliver"}},
        enum_types={"CustomerOrderState": "CustOrderState"},
        enum_members={"CustomerOrderState": {"Released": "Approved"}},
        actions={"CustomerOrder_RegisterFulfillment": "CustomerOrder_Deliver3pl"},
        action_parameters={"CustomerOrder_RegisterFulfillment": {"TrackingNo": "TrackingNumber"}},
        change_stamps={"CustomerOrder": "LastChanged"},
    )
    with BackgroundServer(create_app(IfsSandboxConfig(tenant=tenant, prefixes=("int",)))) as srv:
        client = Ifs(srv.url, prefix="int").authenticate()
        order_no = client.order()  # hooks take the model's own names too
        path = f"CustomerOrderSet(OrderNo='{order_no}')"
        row = client.get(CO, path).json()
        assert row["Objstate"] == "Approved" and "Cf_Sb_Ref" in row and "LastChanged" in row
        assert "Cf_Shipbob_Order_Id" not in row
        released = f"IfsApp.{CO}.CustOrderState'Approved'"
        found = client.get(CO, "CustomerOrderSet", {"$filter": f"Objstate eq {released}"}).json()
        assert [r["OrderNo"] for r in found["value"]] == [order_no]
        assert client.get(CO, "CustomerOrderSet", {"$filter": f"Objstate eq {RELEASED}"}).status_code == 400
        assert len(client.get(CO, f"{path}/OrderLines").json()["value"]) == 1
        assert client.get(CO, f"{path}/OrderLinesArray").status_code == 404
        response = client.post(
            CO, f"{path}/IfsApp.{CO}.CustomerOrder_Deliver3pl",
            {"ExternalRef": "S1", "ShipDate": "2026-01-02", "TrackingNumber": "1Z9",
             "Lines": [{"LineNo": "1", "RelNo": "1", "LineItemNo": 0, "QtyToDeliver": 2}]},
            headers={"If-Match": row["@odata.etag"]})
        assert response.status_code == 200, response.text
        voucher = client.get("DeliveryNoteHandling",
                             f"DeliveryNoteSet(DelnoteNo='{response.json()['value']}')").json()
        assert voucher["OrderNo"] == order_no and voucher["TrackingNo"] == "1Z9"
        metadata = client.get(CO, "$metadata").text
        assert metadata.count("CustomerOrder_Deliver3pl") == 1
        assert '<Parameter Name="TrackingNumber"' in metadata and "RegisterFulfillment" not in metadata
        assert client.get("ReturnMaterialAuthorizationHandling", "RmaSet").status_code == 200
        assert client.get("FulfillmentVoucherHandling", "FulfillmentVoucherSet").status_code == 404
        client.prefix = "main"
        assert client.get(CO, "CustomerOrderSet").status_code == 404


# ------------------------------------------------------------ idempotency

def test_a_repeated_post_creates_a_second_record(ifs):
    ifs.hook("purchase_orders", {"OrderNo": "P9", "lines": [{"PartNo": "P00001", "BuyQtyDue": 10}]})
    body = {"OrderNo": "P9", "LineNo": "1", "ReleaseNo": "1", "QtyArrived": 2,
            "ExternalRef": "WRO-1", "ReceiptDate": "2026-01-05"}
    first = ifs.post("PurchaseReceiptHandling", "PurchaseReceiptSet", body)
    second = ifs.post("PurchaseReceiptHandling", "PurchaseReceiptSet", body)
    assert first.status_code == second.status_code == 201
    assert first.json()["ReceiptNo"] != second.json()["ReceiptNo"]
    found = ifs.get("PurchaseReceiptHandling", "PurchaseReceiptSet",
                    {"$filter": "ExternalRef eq 'WRO-1'"}).json()["value"]
    assert len(found) == 2
