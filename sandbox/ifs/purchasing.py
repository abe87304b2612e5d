"""Purchase orders (read by the connector) and purchase receipts.

The receipt set is a stand-in invention (ifs-cloud.md §6, §10): a POST
registers an arrival on one PO line and raises stock on the RECEIVING
location of the line's site.
"""

from __future__ import annotations

from sandbox.ifs import inventory
from sandbox.ifs.errors import ORA_EXIST, ORA_GENERAL, ORA_NOT_EXIST, ORA_STATE, BusinessError
from sandbox.ifs.store import Store

POS, PO_LINES, RECEIPTS = "PurchaseOrder", "PurchaseOrderLine", "PurchaseReceipt"
PO_NUMBER_START = 1000
RECEIVABLE_LINE_STATES = frozenset({"Released", "Arrived"})


def lines_of(store: Store, order_no: str) -> list[dict]:
    return store.table(PO_LINES).where("OrderNo", order_no)


def create_purchase_order(store: Store, values: dict, lines: list[dict]) -> dict:
    """Test hooks and seeding (the connector only reads purchase orders)."""
    order_no = values.get("OrderNo") or store.next_key(POS, "P", PO_NUMBER_START)
    if store.table(POS).find(OrderNo=order_no) is not None:
        raise BusinessError(ORA_EXIST, POS, "FND_RECORD_EXIST", "The Purchase Order already exists.")
    state = values.get("Objstate", "Released")
    header = {"DateEntered": store.now(), "Objstate": state, **values, "OrderNo": order_no}
    store.insert(POS, header)
    for number, line in enumerate(lines, start=1):
        store.insert(PO_LINES, {
            "Contract": header["Contract"], "BuyUnitMeas": "PCS", "QtyArrived": 0,
            "Description": store.parts.get(line.get("PartNo")),
            "PlannedReceiptDate": header.get("WantedReceiptDate"), "Objstate": state,
            **line, "OrderNo": order_no, "LineNo": str(line.get("LineNo") or number),
            "ReleaseNo": str(line.get("ReleaseNo") or "1"),
        })
    return header


def create_receipt(store: Store, values: dict, children: dict, parent: dict | None = None) -> dict:
    """POST PurchaseReceiptSet: register an arrival."""
    order = store.table(POS).find(OrderNo=values.get("OrderNo"))
    if order is None:
        raise BusinessError(ORA_NOT_EXIST, POS, "FND_RECORD_NOT_EXIST",
                            f"The Purchase Order {values.get('OrderNo')} does not exist.")
    if order["Objstate"] != "Released":
        raise BusinessError(ORA_STATE, POS, "RECEIVENOTALLOWED",
                            f"Purchase order {order['OrderNo']} is {order['Objstate']}; only "
                            "Released orders can be received.")
    line = store.table(PO_LINES).find(OrderNo=order["OrderNo"], LineNo=values.get("LineNo"),
                                      ReleaseNo=values.get("ReleaseNo"))
    label = f"{order['OrderNo']}/{values.get('LineNo')}/{values.get('ReleaseNo')}"
    if line is None:
        raise BusinessError(ORA_NOT_EXIST, PO_LINES, "FND_RECORD_NOT_EXIST",
                            f"The Purchase Order Line {label} does not exist.")
    qty = values.get("QtyArrived")
    if qty is None or qty <= 0:
        raise BusinessError(ORA_GENERAL, RECEIPTS, "QTYNEGATIVE",
                            "Arrived quantity must be greater than zero.")
    if line["Objstate"] not in RECEIVABLE_LINE_STATES:
        raise BusinessError(ORA_STATE, PO_LINES, "RECEIVENOTALLOWED",
                            f"Purchase order line {label} is {line['Objstate']}.")
    remaining = line["BuyQtyDue"] - line["QtyArrived"]
    if qty > remaining:
        raise BusinessError(ORA_GENERAL, PO_LINES, "OVERRECEIPT",
                            f"Arrived quantity {qty:g} exceeds the remaining quantity {remaining:g} "
                            f"on purchase order line {label}.")
    now = store.now()
    receipt = store.insert(RECEIPTS, {
        "ReceiptDate": now.date(), **values,
        "ReceiptNo": store.next_key(RECEIPTS), "PartNo": line["PartNo"],
        "Contract": line["Contract"], "LocationNo": inventory.RECEIVING_LOCATION,
        "Objstate": "Received", "DateCreated": now,
    })
    line["QtyArrived"] += qty
    line["Objstate"] = "Received" if line["QtyArrived"] >= line["BuyQtyDue"] else "Arrived"
    store.touch(PO_LINES, line)
    if all(l["Objstate"] in ("Received", "Closed", "Cancelled") for l in lines_of(store, order["OrderNo"])):
        order["Objstate"] = "Received"
    store.touch(POS, order)
    inventory.add_stock(store, line["Contract"], line["PartNo"], inventory.RECEIVING_LOCATION, qty,
                        now, uom=line.get("BuyUnitMeas", "PCS"))
    return receipt
