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
CHANGEABLE_ORDER_STATES = frozenset({"Planned", "Released"})
DONE_LINE_STATES = frozenset({"Received", "Closed", "Cancelled"})


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


def _changeable_order(store: Store, order_no: str) -> dict:
    order = store.table(POS).find(OrderNo=order_no)
    if order is None:
        raise BusinessError(ORA_NOT_EXIST, POS, "FND_RECORD_NOT_EXIST",
                            f"The Purchase Order {order_no} does not exist.")
    if order["Objstate"] not in CHANGEABLE_ORDER_STATES:
        raise BusinessError(ORA_STATE, POS, "CHANGENOTALLOWED",
                            f"Purchase order {order_no} is {order['Objstate']} and cannot be changed.")
    return order


def _line(store: Store, order: dict, line_no: str, release_no: str) -> dict:
    line = store.table(PO_LINES).find(OrderNo=order["OrderNo"], LineNo=line_no, ReleaseNo=release_no)
    if line is None:
        raise BusinessError(ORA_NOT_EXIST, PO_LINES, "FND_RECORD_NOT_EXIST",
                            f"The Purchase Order Line {order['OrderNo']}/{line_no}/{release_no} does not exist.")
    return line


def change_line_quantity(store: Store, order_no: str, line_no: str, release_no: str, qty: float) -> dict:
    """A buyer changes the ordered quantity of a line."""
    order = _changeable_order(store, order_no)
    line = _line(store, order, line_no, release_no)
    label = f"{order_no}/{line_no}/{release_no}"
    if line["Objstate"] in ("Closed", "Cancelled"):
        raise BusinessError(ORA_STATE, PO_LINES, "CHANGENOTALLOWED",
                            f"Purchase order line {label} is {line['Objstate']}.")
    if qty is None or qty <= 0 or qty < line["QtyArrived"]:
        raise BusinessError(ORA_GENERAL, PO_LINES, "QTYBELOWARRIVED",
                            f"The quantity {qty} on purchase order line {label} must be greater than zero "
                            f"and not below the arrived quantity {line['QtyArrived']:g}.")
    line["BuyQtyDue"] = qty
    if line["QtyArrived"] >= qty:
        line["Objstate"] = "Received"
    elif line["Objstate"] == "Received":
        line["Objstate"] = "Arrived"
    store.touch(PO_LINES, line)
    _settle(store, order)
    return line


def cancel_line(store: Store, order_no: str, line_no: str, release_no: str) -> dict:
    """A buyer cancels one line; only while nothing has arrived on it."""
    order = _changeable_order(store, order_no)
    line = _line(store, order, line_no, release_no)
    _check_cancellable(line)
    line["Objstate"] = "Cancelled"
    store.touch(PO_LINES, line)
    _settle(store, order)
    return line


def cancel_order(store: Store, order_no: str) -> dict:
    """A buyer cancels the whole order: every line, none of which may have arrivals."""
    order = _changeable_order(store, order_no)
    lines = lines_of(store, order_no)
    for line in lines:
        if line["Objstate"] != "Cancelled":
            _check_cancellable(line)
    for line in lines:
        line["Objstate"] = "Cancelled"
        store.touch(PO_LINES, line)
    order["Objstate"] = "Cancelled"
    store.touch(POS, order)
    return order


def _check_cancellable(line: dict) -> None:
    label = f"{line['OrderNo']}/{line['LineNo']}/{line['ReleaseNo']}"
    if line["QtyArrived"] or line["Objstate"] not in ("Planned", "Released"):
        raise BusinessError(ORA_STATE, PO_LINES, "CANCELNOTALLOWED",
                            f"Purchase order line {label} is {line['Objstate']} with {line['QtyArrived']:g} "
                            "arrived and cannot be cancelled.")


def _settle(store: Store, order: dict) -> None:
    """The order's state after a change to its lines."""
    states = {line["Objstate"] for line in lines_of(store, order["OrderNo"])}
    if states == {"Cancelled"}:
        order["Objstate"] = "Cancelled"
    elif states <= DONE_LINE_STATES:
        order["Objstate"] = "Received"
    store.touch(POS, order)


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
