"""The IFS sandbox's business rules over real HTTP: fulfillment vouchers, RMAs,
purchase receipts, stock, seeding (the stand-in inventions of ifs-cloud.md §10)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.sandbox.test_ifs_sandbox import Ifs, error_of, ifs, seeded, server  # noqa: F401

CO = "CustomerOrderHandling"
FV = "FulfillmentVoucherHandling"
RMA = "ReturnMaterialAuthorizationHandling"
PO = "PurchaseOrderHandling"
PR = "PurchaseReceiptHandling"
STOCK = "InventoryPartInStockHandling"
COUNT = "InventoryPartCountHandling"
FULFIL = f"IfsApp.{CO}.CustomerOrder_RegisterFulfillment"


def line(no: str, qty, rel: str = "1") -> dict:
    return {"LineNo": no, "RelNo": rel, "LineItemNo": 0, "Qty": qty}


def fulfil(ifs: Ifs, order_no: str, lines: list[dict], ref: str = "SHP-1", etag: str | None = None):
    path = f"CustomerOrderSet(OrderNo='{order_no}')"
    etag = etag or ifs.get(CO, path).json()["@odata.etag"]
    body = {"ExternalRef": ref, "ShipmentRef": "SB-77", "Carrier": "UPS",
            "TrackingNo": "1Z999", "TrackingUrl": "https://ups.example/1Z999",
            "ShipDate": "2026-02-03", "Lines": lines}
    return ifs.post(CO, f"{path}/{FULFIL}", body, headers={"If-Match": etag})


def lines_of(ifs: Ifs, order_no: str) -> dict[str, dict]:
    rows = ifs.get(CO, f"CustomerOrderSet(OrderNo='{order_no}')/OrderLinesArray").json()["value"]
    return {row["LineNo"]: row for row in rows}


@pytest.fixture
def two_lines(ifs) -> str:
    return ifs.order(lines=[{"PartNo": "P00001", "BuyQtyDue": 2},
                            {"PartNo": "P00002", "BuyQtyDue": 1, "Contract": "S02"}])


# ------------------------------------------------------------- fulfillment

def test_partial_then_full_fulfillment(ifs, two_lines):
    path = f"CustomerOrderSet(OrderNo='{two_lines}')"
    before = ifs.get(CO, path).json()["@odata.etag"]
    response = fulfil(ifs, two_lines, [line("1", 1)], etag=before)
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#Edm.String")
    voucher_no = body["value"]
    assert voucher_no.startswith("FV")
    order = ifs.get(CO, path).json()
    assert order["Objstate"] == "PartiallyDelivered"
    assert order["@odata.etag"] != before
    lines = lines_of(ifs, two_lines)
    assert (lines["1"]["QtyShipped"], lines["1"]["Objstate"]) == (1, "PartiallyDelivered")
    assert (lines["2"]["QtyShipped"], lines["2"]["Objstate"]) == (0, "Released")

    voucher = ifs.get(FV, f"FulfillmentVoucherSet(VoucherNo='{voucher_no}')").json()
    assert voucher["luname"] == "FulfillmentVoucher"
    assert {k: voucher[k] for k in ("OrderNo", "ExternalRef", "ShipmentRef", "Carrier",
                                    "TrackingNo", "ShipDate", "DeliveredDate", "Objstate")} == {
        "OrderNo": two_lines, "ExternalRef": "SHP-1", "ShipmentRef": "SB-77", "Carrier": "UPS",
        "TrackingNo": "1Z999", "ShipDate": "2026-02-03", "DeliveredDate": None,
        "Objstate": "Shipped"}
    # the lines are behind a collection navigation: never inline, not expandable (§8)
    assert "Lines" not in voucher and "FulfillmentVoucherLineArray" not in voucher
    voucher_path = f"FulfillmentVoucherSet(VoucherNo='{voucher_no}')"
    assert ifs.get(FV, "FulfillmentVoucherSet",
                   {"$expand": "FulfillmentVoucherLineArray"}).status_code == 501
    voucher_lines = ifs.get(FV, f"{voucher_path}/FulfillmentVoucherLineArray").json()["value"]
    assert [{k: vl[k] for k in line("1", 1)} for vl in voucher_lines] == [line("1", 1)]

    assert fulfil(ifs, two_lines, [line("1", 1), line("2", 1)], ref="SHP-2").status_code == 200
    assert ifs.get(CO, path).json()["Objstate"] == "Delivered"
    assert {l["Objstate"] for l in lines_of(ifs, two_lines).values()} == {"Delivered"}


def test_over_shipment_is_refused_and_changes_nothing(ifs, two_lines):
    response = fulfil(ifs, two_lines, [line("2", 1), line("1", 3)])
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "DATABASE_ERROR"
    assert error["details"][0]["message"].startswith("ORA-20110: CustomerOrderLine.OVERDELIVERY")
    assert all(l["QtyShipped"] == 0 for l in lines_of(ifs, two_lines).values())
    assert ifs.dump("FulfillmentVoucherSet") == []
    # The same line twice in one call counts twice.
    assert fulfil(ifs, two_lines, [line("2", 1), line("2", 1)]).status_code == 500


@pytest.mark.parametrize("lines, ora", [
    ([line("9", 1)], "ORA-20111"),
    ([line("1", 0)], "ORA-20110"),
    ([], "ORA-20110"),
])
def test_fulfillment_validates_lines(ifs, two_lines, lines, ora):
    response = fulfil(ifs, two_lines, lines)
    assert response.status_code == 500
    assert error_of(response)["details"][0]["message"].startswith(ora)


def test_fulfillment_needs_a_deliverable_order(ifs):
    planned = ifs.order(Objstate="Planned")
    response = fulfil(ifs, planned, [line("1", 1)])
    assert response.status_code == 500
    assert "Planned" in error_of(response)["details"][0]["message"]


def test_fulfillment_is_not_idempotent(ifs, two_lines):
    first = fulfil(ifs, two_lines, [line("1", 1)], ref="SHP-X").json()["value"]
    second = fulfil(ifs, two_lines, [line("1", 1)], ref="SHP-X").json()["value"]
    assert first != second
    found = ifs.get(FV, "FulfillmentVoucherSet", {"$filter": "ExternalRef eq 'SHP-X'"}).json()
    assert len(found["value"]) == 2


def test_fulfillment_with_stale_etag_or_bad_parameters(ifs, two_lines):
    path = f"CustomerOrderSet(OrderNo='{two_lines}')"
    etag = ifs.get(CO, path).json()["@odata.etag"]
    ifs.hook("bump", {"set": "CustomerOrderSet", "key": {"OrderNo": two_lines}})
    assert fulfil(ifs, two_lines, [line("1", 1)], etag=etag).status_code == 412
    bad = ifs.post(CO, f"{path}/{FULFIL}", {"ExternalRef": "x", "ShipDate": "03/02/2026",
                                            "Lines": [line("1", 1)]}, headers={"If-Match": "*"})
    assert error_of(bad)["code"] == "ODP_DESERIALIZATION_ERROR"
    missing = ifs.post(CO, f"{path}/{FULFIL}", {"ShipDate": "2026-02-03", "Lines": []},
                       headers={"If-Match": "*"})
    assert error_of(missing)["code"] == "ODP_DESERIALIZATION_ERROR"
    unknown = ifs.post(CO, f"{path}/IfsApp.{CO}.CustomerOrder_NoSuchAction", {},
                       headers={"If-Match": "*"})
    assert unknown.status_code == 404


def test_voucher_tracking_and_delivery_by_patch(ifs, two_lines):
    voucher_no = fulfil(ifs, two_lines, [line("1", 2)]).json()["value"]
    path = f"FulfillmentVoucherSet(VoucherNo='{voucher_no}')"
    etag = ifs.get(FV, path).json()["@odata.etag"]
    response = ifs.patch(FV, path, {"TrackingNo": "1Z000", "DeliveredDate": "2026-02-05"},
                         headers={"If-Match": etag, "Prefer": "return=representation"})
    assert response.status_code == 200
    assert (response.json()["TrackingNo"], response.json()["Objstate"]) == ("1Z000", "Delivered")
    assert ifs.patch(FV, path, {"ShipDate": "2026-01-01"}, headers={"If-Match": "*"}).status_code == 400
    delivered = f"IfsApp.{FV}.FulfillmentVoucherState'Delivered'"
    assert len(ifs.get(FV, "FulfillmentVoucherSet",
                       {"$filter": f"Objstate eq {delivered}"}).json()["value"]) == 1
    assert ifs.post(FV, "FulfillmentVoucherSet", {"OrderNo": two_lines}).status_code == 405
    missing = ifs.patch(FV, "FulfillmentVoucherSet(VoucherNo='FV1')", {"Carrier": "X"})
    assert missing.status_code == 404  # no upsert where IFS cannot insert


# --------------------------------------------------------------------- RMA

def _shipped(ifs: Ifs) -> str:
    order_no = ifs.order(lines=[{"PartNo": "P00001", "BuyQtyDue": 3},
                                {"PartNo": "P00002", "BuyQtyDue": 2},
                                {"PartNo": "P00003", "BuyQtyDue": 1}])
    assert fulfil(ifs, order_no, [line("1", 3), line("2", 2), line("3", 1)]).status_code == 200
    return order_no


def _rma_body(order_no: str, lines: list[tuple[str, str, int, str]], ref: str = "RET-1") -> dict:
    return {"OrderNo": order_no, "ExternalRef": ref, "Contract": "S01",
            "ReturnReasonCode": "DAMAGED",
            "ReturnMaterialLineArray": [
                {"LineNo": no, "RelNo": "1", "LineItemNo": 0, "PartNo": part,
                 "QtyToReturn": qty, "ReturnAction": action}
                for no, part, qty, action in lines]}


def test_rma_create_and_receive(ifs):
    order_no = _shipped(ifs)
    created = ifs.post(RMA, "ReturnMaterialSet", _rma_body(order_no, [
        ("1", "P00001", 2, "Restock"), ("2", "P00002", 1, "Quarantine"),
        ("3", "P00003", 1, "Dispose")]))
    assert created.status_code == 201
    rma = created.json()
    assert isinstance(rma["RmaNo"], int) and rma["Objstate"] == "Planned"
    path = f"ReturnMaterialSet(RmaNo={rma['RmaNo']})"
    assert created.headers["Location"].endswith(path)
    rma_lines = ifs.get(RMA, f"{path}/ReturnMaterialLineArray").json()["value"]
    assert [(l["RmaLineNo"], l["QtyToReturn"], l["ReturnAction"]) for l in rma_lines] == [
        (1, 2, "Restock"), (2, 1, "Quarantine"), (3, 1, "Dispose")]

    receive = f"{path}/IfsApp.{RMA}.ReturnMaterial_Receive"
    release = f"{path}/IfsApp.{RMA}.ReturnMaterial_Release"
    assert ifs.post(RMA, receive, {}).status_code == 428
    # AboutRMA: an RMA must be released before receipt
    unreleased = ifs.post(RMA, receive, {}, headers={"If-Match": "*"})
    assert unreleased.status_code == 500
    assert "released before receipt" in error_of(unreleased)["details"][0]["message"]
    assert ifs.get(RMA, path).json()["Objstate"] == "Planned"
    etag = ifs.get(RMA, path).json()["@odata.etag"]
    assert ifs.post(RMA, release, {}, headers={"If-Match": etag}).status_code == 204
    assert ifs.get(RMA, path).json()["Objstate"] == "Released"
    assert ifs.post(RMA, release, {}, headers={"If-Match": "*"}).status_code == 500  # only once
    etag = ifs.get(RMA, path).json()["@odata.etag"]
    assert ifs.post(RMA, receive, {}, headers={"If-Match": etag}).status_code == 204
    assert ifs.get(RMA, path).json()["Objstate"] == "Received"
    assert {l["LineNo"]: l["QtyReturned"] for l in lines_of(ifs, order_no).values()} == {
        "1": 2, "2": 1, "3": 1}
    stock = {(r["LocationNo"], r["PartNo"]): r for r in ifs.dump("InventoryPartInStockSet")}
    assert (stock["RETURNS", "P00001"]["QtyOnhand"], stock["RETURNS", "P00001"]["AvailableQty"]) == (2, 2)
    assert (stock["QUARANTINE", "P00002"]["QtyOnhand"], stock["QUARANTINE", "P00002"]["AvailableQty"]) == (1, 0)
    # Disposed: nothing comes back (the delivery took P00003 below zero on RECEIVING).
    assert not any(part == "P00003" and loc != "RECEIVING" for loc, part in stock)

    again = ifs.post(RMA, receive, {}, headers={"If-Match": "*"})
    assert again.status_code == 500
    assert "Received" in error_of(again)["details"][0]["message"]


@pytest.mark.parametrize("lines, ora", [
    ([("1", "P00001", 4, "Restock")], "ORA-20110"),   # more than shipped
    ([("9", "P00001", 1, "Restock")], "ORA-20111"),   # no such order line
    ([("1", "P00002", 1, "Restock")], "ORA-20110"),   # wrong part for the line
])
def test_rma_lines_are_validated(ifs, lines, ora):
    order_no = _shipped(ifs)
    response = ifs.post(RMA, "ReturnMaterialSet", _rma_body(order_no, lines))
    assert response.status_code == 500
    assert error_of(response)["details"][0]["message"].startswith(ora)
    assert ifs.dump("ReturnMaterialSet") == []


def test_open_rmas_count_against_the_returnable_quantity(ifs):
    order_no = _shipped(ifs)
    body = _rma_body(order_no, [("1", "P00001", 2, "Restock")])
    assert ifs.post(RMA, "ReturnMaterialSet", body).status_code == 201
    duplicate = ifs.post(RMA, "ReturnMaterialSet", body)  # a retried POST
    assert duplicate.status_code == 500
    assert ifs.post(RMA, "ReturnMaterialSet",
                    _rma_body(order_no, [("1", "P00001", 1, "Restock")])).status_code == 201


def test_rma_for_unshipped_or_unknown_order(ifs):
    order_no = ifs.order()
    assert ifs.post(RMA, "ReturnMaterialSet", _rma_body(order_no, [
        ("1", "P00001", 1, "Restock")])).status_code == 500
    assert ifs.post(RMA, "ReturnMaterialSet", _rma_body("NOPE", [])).status_code == 500
    bad_action = _rma_body(order_no, [("1", "P00001", 1, "Recycle")])
    assert error_of(ifs.post(RMA, "ReturnMaterialSet", bad_action))["code"] == \
        "ODP_DESERIALIZATION_ERROR"
    with_key = {**_rma_body(order_no, []), "RmaNo": 5}
    assert ifs.post(RMA, "ReturnMaterialSet", with_key).status_code == 400


# ----------------------------------------------------- purchase receipts

def test_purchase_orders_and_receipts(ifs):
    ifs.hook("purchase_orders", {"OrderNo": "P2001", "Contract": "S02", "lines": [
        {"PartNo": "P00004", "BuyQtyDue": 24}, {"PartNo": "P00005", "BuyQtyDue": 12}]})
    released = f"IfsApp.{PO}.PurchaseOrderState'Released'"
    pos = ifs.get(PO, "PurchaseOrderSet", {"$filter": f"Objstate eq {released} and Contract eq 'S02'"})
    assert [p["OrderNo"] for p in pos.json()["value"]] == ["P2001"]
    po_lines = ifs.get(PO, "PurchaseOrderSet(OrderNo='P2001')/PurchaseOrderLineArray").json()["value"]
    assert [(l["LineNo"], l["ReleaseNo"], l["BuyQtyDue"], l["QtyArrived"]) for l in po_lines] == [
        ("1", "1", 24, 0), ("2", "1", 12, 0)]

    body = {"OrderNo": "P2001", "LineNo": "1", "ReleaseNo": "1", "QtyArrived": 20,
            "ExternalRef": "WRO-55", "ReceiptDate": "2026-03-01"}
    created = ifs.post(PR, "PurchaseReceiptSet", body)
    assert created.status_code == 201
    receipt = created.json()
    assert (receipt["LocationNo"], receipt["Contract"], receipt["PartNo"]) == (
        "RECEIVING", "S02", "P00004")
    over = ifs.post(PR, "PurchaseReceiptSet", {**body, "QtyArrived": 5})
    assert over.status_code == 500
    assert "OVERRECEIPT" in error_of(over)["details"][0]["message"]
    assert ifs.post(PR, "PurchaseReceiptSet", {**body, "QtyArrived": 4}).status_code == 201
    assert ifs.post(PR, "PurchaseReceiptSet", {**body, "LineNo": "2", "QtyArrived": 12}).status_code == 201

    po = ifs.get(PO, "PurchaseOrderSet(OrderNo='P2001')").json()
    assert po["Objstate"] == "Received"
    stock = [r for r in ifs.dump("InventoryPartInStockSet") if r["LocationNo"] == "RECEIVING"]
    assert {(r["PartNo"], r["QtyOnhand"]) for r in stock} == {("P00004", 24), ("P00005", 12)}
    found = ifs.get(PR, "PurchaseReceiptSet", {"$filter": "ExternalRef eq 'WRO-55' and OrderNo eq "
                                                           "'P2001'", "$count": "true"}).json()
    assert found["@odata.count"] == 3
    closed = ifs.post(PR, "PurchaseReceiptSet", {**body, "QtyArrived": 1})
    assert closed.status_code == 500


def po_lines(ifs: Ifs, order_no: str) -> dict[str, tuple]:
    rows = ifs.get(PO, f"PurchaseOrderSet(OrderNo='{order_no}')/PurchaseOrderLineArray").json()["value"]
    return {row["LineNo"]: (row["BuyQtyDue"], row["QtyArrived"], row["Objstate"]) for row in rows}


def po_state(ifs: Ifs, order_no: str) -> str:
    return ifs.get(PO, f"PurchaseOrderSet(OrderNo='{order_no}')").json()["Objstate"]


def rejected(url: str, body=None) -> str:
    response = requests.post(url, json=body, timeout=30)
    assert response.status_code == 400, response.text
    return response.json()["error"]["details"][0]["message"]


def test_a_buyer_changes_and_cancels_lines_of_a_released_purchase_order(ifs):
    ifs.hook("purchase_orders", {"OrderNo": "PC1", "lines": [
        {"PartNo": "P00001", "BuyQtyDue": 10}, {"PartNo": "P00002", "BuyQtyDue": 4},
        {"PartNo": "P00003", "BuyQtyDue": 2}]})
    etag = ifs.get(PO, "PurchaseOrderSet(OrderNo='PC1')/PurchaseOrderLineArray").json()["value"][0]["@odata.etag"]
    changed = ifs.hook("purchase_orders/PC1/lines/1/1", {"BuyQtyDue": 15})
    assert (changed["BuyQtyDue"], changed["Objstate"]) == (15, "Released")
    assert changed["@odata.etag"] != etag  # a write like any other
    assert ifs.hook("purchase_orders/PC1/lines/2/1/cancel")["Objstate"] == "Cancelled"
    assert po_lines(ifs, "PC1") == {"1": (15, 0, "Released"), "2": (4, 0, "Cancelled"),
                                    "3": (2, 0, "Released")}
    assert po_state(ifs, "PC1") == "Released"

    # an arrival: no cancel any more, and no quantity below what arrived
    arrival = {"OrderNo": "PC1", "LineNo": "3", "ReleaseNo": "1", "QtyArrived": 1, "ReceiptDate": "2026-03-01"}
    assert ifs.post(PR, "PurchaseReceiptSet", arrival).status_code == 201
    assert "CANCELNOTALLOWED" in rejected(f"{ifs.url}/_sandbox/purchase_orders/PC1/lines/3/1/cancel")
    assert "CANCELNOTALLOWED" in rejected(f"{ifs.url}/_sandbox/purchase_orders/PC1/cancel")
    assert "QTYBELOWARRIVED" in rejected(f"{ifs.url}/_sandbox/purchase_orders/PC1/lines/3/1",
                                         {"BuyQtyDue": 0.5})
    assert "CHANGENOTALLOWED" in rejected(f"{ifs.url}/_sandbox/purchase_orders/PC1/lines/2/1",
                                          {"BuyQtyDue": 9})
    assert "does not exist" in rejected(f"{ifs.url}/_sandbox/purchase_orders/PC1/lines/9/1/cancel")
    # lowered to what arrived, the line is received; with the rest received the order is
    assert ifs.hook("purchase_orders/PC1/lines/3/1", {"BuyQtyDue": 1})["Objstate"] == "Received"
    assert ifs.post(PR, "PurchaseReceiptSet", {**arrival, "LineNo": "1", "QtyArrived": 15}).status_code == 201
    assert po_state(ifs, "PC1") == "Received"
    assert "CHANGENOTALLOWED" in rejected(f"{ifs.url}/_sandbox/purchase_orders/PC1/lines/1/1",
                                          {"BuyQtyDue": 20})


def test_a_buyer_cancels_a_whole_purchase_order(ifs):
    ifs.hook("purchase_orders", {"OrderNo": "PC2", "lines": [
        {"PartNo": "P00001", "BuyQtyDue": 10}, {"PartNo": "P00002", "BuyQtyDue": 4}]})
    assert "must be a number" in rejected(f"{ifs.url}/_sandbox/purchase_orders/PC2/lines/1/1", {"BuyQtyDue": "x"})
    assert ifs.hook("purchase_orders/PC2/cancel")["Objstate"] == "Cancelled"
    assert po_state(ifs, "PC2") == "Cancelled"
    assert {no: state for no, (_, _, state) in po_lines(ifs, "PC2").items()} == {
        "1": "Cancelled", "2": "Cancelled"}
    assert "CHANGENOTALLOWED" in rejected(f"{ifs.url}/_sandbox/purchase_orders/PC2/cancel")

    # cancelling the last open line cancels the order
    ifs.hook("purchase_orders", {"OrderNo": "PC3", "lines": [{"PartNo": "P00001", "BuyQtyDue": 1}]})
    ifs.hook("purchase_orders/PC3/lines/1/1/cancel")
    assert po_state(ifs, "PC3") == "Cancelled"


def test_receipt_needs_mandatory_fields(ifs):
    ifs.hook("purchase_orders", {"OrderNo": "P1", "lines": [{"PartNo": "P00001", "BuyQtyDue": 5}]})
    response = ifs.post(PR, "PurchaseReceiptSet", {"OrderNo": "P1", "LineNo": "1", "ReleaseNo": "1"})
    assert response.status_code == 500  # PL/SQL checks mandatory attributes
    assert "FND_MANDATORY: Field [QTY_ARRIVED]" in error_of(response)["details"][0]["message"]


# -------------------------------------------------------------- stock

def test_stock_rows_keys_and_sums(ifs):
    ifs.hook("stock", {"columns": ["Contract", "PartNo", "LocationNo", "LotBatchNo", "QtyOnhand",
                                   "QtyReserved"],
                       "rows": [["S01", "P1", "A-01-01", "*", 10, 2],
                                ["S01", "P1", "A-01-02", "L1", 5, 0],
                                ["S02", "P1", "A-01-01", "*", 7, 0]]})
    rows = ifs.get(STOCK, "InventoryPartInStockSet", {
        "$filter": "PartNo eq 'P1' and Contract eq 'S01' and QtyOnhand gt 0",
        "$select": "Contract,PartNo,LocationNo,QtyOnhand,AvailableQty",
        "$orderby": "LocationNo asc"}).json()["value"]
    assert [(r["LocationNo"], r["QtyOnhand"], r["AvailableQty"]) for r in rows] == [
        ("A-01-01", 10, 8), ("A-01-02", 5, 5)]
    key = ("InventoryPartInStockSet(Contract='S01',PartNo='P1',ConfigurationId='*',"
           "LocationNo='A-01-02',LotBatchNo='L1',SerialNo='*',EngChgLevel='1',"
           "WaivDevRejNo='*',ActivitySeq=0,HandlingUnitId=0)")
    one = ifs.get(STOCK, key).json()
    assert one["QtyOnhand"] == 5 and one["UoM"] is None and one["QtyInTransit"] == 0
    assert ifs.patch(STOCK, key, {"QtyOnhand": 1}, headers={"If-Match": "*"}).status_code == 405


def on_hand(ifs: Ifs, site: str, part: str) -> dict[str, float]:
    return {r["LocationNo"]: r["QtyOnhand"] for r in ifs.dump("InventoryPartInStockSet")
            if r["Contract"] == site and r["PartNo"] == part}


def test_a_delivery_takes_the_goods_off_the_sites_stock(ifs, two_lines):
    ifs.hook("stock", {"columns": ["Contract", "PartNo", "LocationNo", "QtyOnhand"],
                       "rows": [["S01", "P00001", "A-1", 1], ["S01", "P00001", "B-1", 5],
                                ["S01", "P00001", "QUARANTINE", 3], ["S02", "P00001", "A-1", 4]]})
    assert fulfil(ifs, two_lines, [line("1", 2), line("2", 1)]).status_code == 200
    # Nettable rows in key order; quarantine and the other site untouched.
    assert on_hand(ifs, "S01", "P00001") == {"A-1": 0, "B-1": 4, "QUARANTINE": 3}
    assert on_hand(ifs, "S02", "P00001") == {"A-1": 4}
    # Nothing of P00002 at S02: like the ShipBob sandbox, stock goes below zero.
    assert on_hand(ifs, "S02", "P00002") == {"RECEIVING": -1}


def test_a_count_posts_the_difference_once_under_the_etag_of_the_stock(ifs):
    ifs.hook("stock", {"columns": ["Contract", "PartNo", "LocationNo", "QtyOnhand", "UoM"],
                       "rows": [["S01", "P1", "A-1", 2, "PCS"], ["S01", "P1", "B-1", 8, "PCS"]]})
    path = "InventoryPartCountSet(Contract='S01',PartNo='P1')"
    action = f"{path}/IfsApp.{COUNT}.InventoryPartCount_ReportCount"
    count = ifs.get(COUNT, path).json()
    assert (count["QtyOnhand"], count["UoM"], count["LastCountedQty"]) == (10, "PCS", None)
    # The count's ETag moves with the part's stock: a count based on an old
    # read is refused.
    ifs.hook("stock", {"columns": ["Contract", "PartNo", "LocationNo", "QtyOnhand"],
                       "rows": [["S01", "P1", "A-1", 3]]})
    stale = ifs.post(COUNT, action, {"CountedQty": 4}, headers={"If-Match": count["@odata.etag"]})
    assert stale.status_code == 412
    count = ifs.get(COUNT, path).json()
    assert count["QtyOnhand"] == 11
    assert ifs.post(COUNT, action, {"CountedQty": -1}, headers={"If-Match": "*"}).status_code == 500
    posted = ifs.post(COUNT, action, {"CountedQty": 4, "CountRef": "SB-COUNT:S01:P1", "Note": "n"},
                      headers={"If-Match": count["@odata.etag"]})
    assert posted.status_code == 204
    assert on_hand(ifs, "S01", "P1") == {"A-1": 0, "B-1": 4}
    count = ifs.get(COUNT, path).json()
    assert (count["QtyOnhand"], count["LastCountedQty"], count["LastCountRef"]) == (4, 4, "SB-COUNT:S01:P1")
    # A surplus goes onto the first nettable location.
    assert ifs.post(COUNT, action, {"CountedQty": 6}, headers={"If-Match": count["@odata.etag"]}).status_code == 204
    assert on_hand(ifs, "S01", "P1") == {"A-1": 2, "B-1": 4}


def test_fifty_thousand_skus_load_and_query_quickly(ifs):
    rows = [["S01", f"SKU{i:05d}", "A-01-01", i % 50] for i in range(50_000)]
    started = time.monotonic()
    assert ifs.hook("stock", {"replace": True, "rows": rows})["total"] == 50_000
    assert time.monotonic() - started < 10
    started = time.monotonic()
    one = ifs.get(STOCK, "InventoryPartInStockSet", {"$filter": "PartNo eq 'SKU04242'"}).json()
    assert [r["QtyOnhand"] for r in one["value"]] == [42]
    first = ifs.get(STOCK, "InventoryPartInStockSet", {"$count": "true"}).json()
    assert first["@odata.count"] == 50_000 and len(first["value"]) == 500
    second = ifs.http.get(first["@odata.nextLink"], timeout=10).json()
    assert second["value"][0]["PartNo"] == "SKU00500"
    assert time.monotonic() - started < 10


def test_external_stock_levels_crud(ifs):
    svc = "ExternalStockLevelHandling"
    body = {"Contract": "S01", "PartNo": "P1", "Sku": "P1", "OnHandQty": 5, "FulfillableQty": 4,
            "LastSyncDate": "2026-03-01T10:00:00Z"}
    assert ifs.post(svc, "ExternalStockLevelSet", body).status_code == 201
    duplicate = ifs.post(svc, "ExternalStockLevelSet", body)
    assert duplicate.status_code == 500
    assert "ORA-20112" in error_of(duplicate)["details"][0]["message"]
    path = "ExternalStockLevelSet(Contract='S01',PartNo='P1')"
    etag = ifs.get(svc, path).json()["@odata.etag"]
    assert ifs.patch(svc, path, {"OnHandQty": 6}, headers={"If-Match": etag}).status_code == 204
    assert ifs.get(svc, path).json()["OnHandQty"] == 6
    upsert = ifs.patch(svc, "ExternalStockLevelSet(Contract='S02',PartNo='P1')", {"OnHandQty": 1})
    assert upsert.status_code == 201 and upsert.json()["Contract"] == "S02"
    assert ifs.delete(svc, path, headers={"If-Match": etag}).status_code == 412
    assert ifs.delete(svc, path, headers={"If-Match": "*"}).status_code == 204


# ------------------------------------------------------------- seeding

def test_seed_is_realistic_and_deterministic(ifs):
    spec = {"orders": 40, "parts": 30, "seed": 3, "split_ratio": 0.5,
            "unmapped_ship_via_ratio": 0.25, "purchase_orders": 4}
    summary = ifs.hook("seed", spec)
    assert summary["orders"] == 40 and summary["split_orders"] > 0
    assert summary["unmapped_ship_via_orders"] > 0
    orders = ifs.dump("CustomerOrderSet")
    lines = ifs.dump("CustomerOrderLineSet")
    addresses = ifs.dump("CustomerOrderAddresses")
    assert {o["Objstate"] for o in orders} == {"Released"}
    assert len(addresses) == 40 and all(len(a["Country"]) == 2 for a in addresses)
    header_site = {o["OrderNo"]: o["Contract"] for o in orders}
    split = {l["OrderNo"] for l in lines if l["Contract"] != header_site[l["OrderNo"]]}
    assert len(split) == summary["split_orders"]
    assert all(1 <= sum(l["OrderNo"] == o for l in lines) <= 5 for o in header_site)
    assert sum(o["ShipViaCode"] in ("DHL-EXP", "LTL-FREIGHT") for o in orders) == \
        summary["unmapped_ship_via_orders"]
    assert len(ifs.dump("PurchaseOrderSet")) == 4
    stock = ifs.dump("InventoryPartInStockSet")
    assert len(stock) == summary["stock_rows"] and {r["Contract"] for r in stock} == {"S01", "S02"}
    assert ifs.hook("seed", spec) == summary
    again = ifs.dump("CustomerOrderLineSet")
    assert [(l["OrderNo"], l["PartNo"], l["BuyQtyDue"]) for l in again] == [
        (l["OrderNo"], l["PartNo"], l["BuyQtyDue"]) for l in lines]


def test_seed_rejects_bad_specs(ifs):
    response = requests.post(f"{ifs.url}/_sandbox/seed", json={"orders": -1}, timeout=5)
    assert response.status_code == 400
    response = requests.post(f"{ifs.url}/_sandbox/seed", json={"ordres": 1}, timeout=5)
    assert response.status_code == 400


def test_new_orders_by_post_and_lines_through_the_navigation(ifs):
    created = ifs.post(CO, "CustomerOrderSet", {"CustomerNo": "CU1", "CustomerPoNo": "PO-42",
                                                "Contract": "S01", "ShipViaCode": "UPS-GND",
                                                "WantedDeliveryDate": "2026-01-15T00:00:00Z"})
    assert created.status_code == 201
    order_no = created.json()["OrderNo"]
    assert created.json()["Objstate"] == "Planned"
    nav = f"CustomerOrderSet(OrderNo='{order_no}')/OrderLinesArray"
    new_line = ifs.post(CO, nav, {"CatalogNo": "P00009", "BuyQtyDue": 2,
                                  "CatalogType": "InventoryPart"})
    assert new_line.status_code == 201
    assert (new_line.json()["OrderNo"], new_line.json()["LineNo"]) == (order_no, "1")
    assert ifs.post(CO, nav, {"OrderNo": "OTHER", "CatalogNo": "P1", "BuyQtyDue": 1}).status_code == 400
    again = ifs.post(CO, "CustomerOrderSet", {"CustomerNo": "CU1", "CustomerPoNo": "PO-42",
                                              "Contract": "S01"})
    assert again.json()["OrderNo"] != order_no  # no idempotency: a second order
    mandatory = ifs.post(CO, "CustomerOrderSet", {"CustomerPoNo": "PO-43"})
    assert mandatory.status_code == 500


def test_generated_numbers_skip_explicitly_given_ones(ifs):
    ifs.order(OrderNo="C1000001")
    created = ifs.post(CO, "CustomerOrderSet", {"CustomerNo": "CU1", "Contract": "S01"})
    assert created.status_code == 201 and created.json()["OrderNo"] == "C1000002"


def test_stats_count_requests_and_writes(ifs, two_lines):
    fulfil(ifs, two_lines, [line("1", 1)])
    stats = requests.get(f"{ifs.url}/_sandbox/stats", timeout=5).json()
    assert stats["requests"][f"{CO}/CustomerOrderSet"] == {"GET": 1, "POST": 1}
    assert stats["writes"] == 1
    assert stats["actions"] == {FULFIL: 1}
