"""Customer orders, their lines and addresses, and the fulfillment action.

`register_fulfillment` is the stand-in's delivery action (a stand-in
invention, ifs-cloud.md §4, §10): it checks everything first and changes
nothing when a rule fails, like a PL/SQL call that raises before its DML.
It is not idempotent: IFS has no idempotency key (§9), so a repeated call
creates a second voucher. Delivered inventory parts leave the site's stock.
"""

from __future__ import annotations

from sandbox.ifs import inventory
from sandbox.ifs.errors import ORA_EXIST, ORA_GENERAL, ORA_NOT_EXIST, ORA_STATE, BusinessError
from sandbox.ifs.store import Store

ORDERS, LINES, ADDRESSES, VOUCHERS, VOUCHER_LINES = (
    "CustomerOrder", "CustomerOrderLine", "CustomerOrderAddress", "FulfillmentVoucher",
    "FulfillmentVoucherLine")
DELIVERABLE_STATES = frozenset({"Released", "Reserved", "PartiallyDelivered"})
CLOSED_LINE_STATES = frozenset({"Cancelled", "Invoiced"})
ORDER_NUMBER_START = 1000000
VOUCHER_NUMBER_START = 1000


def _line_label(line: dict) -> str:
    return f"{line['OrderNo']}/{line['LineNo']}/{line['RelNo']}/{line['LineItemNo']}"


def lines_of(store: Store, order_no: str) -> list[dict]:
    return store.table(LINES).where("OrderNo", order_no)


# ------------------------------------------------------------------ create

def create_order(store: Store, values: dict, children: dict, parent: dict | None = None,
                 *, state: str = "Planned") -> dict:
    """POST CustomerOrderSet (and the test hook, with state Released).
    IFS creates orders Planned; releasing is a separate state event (§3)."""
    for required in ("CustomerNo", "Contract"):
        if not values.get(required):
            raise BusinessError(ORA_GENERAL, ORDERS, "FND_MANDATORY",
                                f"Field [{required}] is mandatory for Customer Order.")
    order_no = values.get("OrderNo")
    if order_no is None:
        order_no = store.next_key(ORDERS, "C", ORDER_NUMBER_START)
    elif store.table(ORDERS).find(OrderNo=order_no) is not None:
        raise BusinessError(ORA_EXIST, ORDERS, "FND_RECORD_EXIST", "The Customer Order already exists.")
    now = store.now()
    row = {"Company": store.company, "CurrencyCode": "USD", "BillAddrNo": "1", "ShipAddrNo": "1",
           "DateEntered": now, "Objstate": state, **values, "OrderNo": order_no}
    line_values = children.get(LINES, [])
    store.insert(ORDERS, row)
    customer = store.customers.get(row["CustomerNo"])
    if customer is not None:
        store.insert(ADDRESSES, {"OrderNo": order_no, "AddrFlag": "No", **customer["address"]})
        row.setdefault("DeliveryCountryCode", customer["address"].get("Country"))
    for values_of_line in line_values:
        create_line(store, values_of_line, {}, row)
    return row


def create_line(store: Store, values: dict, children: dict, parent: dict | None) -> dict:
    """POST CustomerOrderSet(OrderNo='X')/OrderLinesArray (Insite's route, §3)."""
    order = parent
    if order is None:
        order = store.table(ORDERS).find(OrderNo=values.get("OrderNo"))
        if order is None:
            raise BusinessError(ORA_NOT_EXIST, ORDERS, "FND_RECORD_NOT_EXIST",
                                "The Customer Order does not exist.")
    if order["Objstate"] in ("Cancelled", "Invoiced", "Delivered"):
        raise BusinessError(ORA_STATE, ORDERS, "NEWLINENOTALLOWED",
                            f"Lines cannot be added to order {order['OrderNo']} in state "
                            f"{order['Objstate']}.")
    part_no = values.get("PartNo") or values.get("CatalogNo")
    if not part_no:
        raise BusinessError(ORA_GENERAL, LINES, "FND_MANDATORY",
                            "Field [CATALOG_NO] is mandatory for Customer Order Line.")
    qty = values.get("BuyQtyDue")
    if qty is None or qty <= 0:
        raise BusinessError(ORA_GENERAL, LINES, "QTYNEGATIVE",
                            "Sales quantity must be greater than zero.")
    existing = lines_of(store, order["OrderNo"])
    line_no = values.get("LineNo") or str(max((int(l["LineNo"]) for l in existing
                                               if l["LineNo"].isdigit()), default=0) + 1)
    row = {
        "Contract": order["Contract"], "Company": order.get("Company", store.company),
        "CustomerNo": order["CustomerNo"], "CatalogNo": part_no, "PartNo": part_no,
        "CatalogDesc": store.parts.get(part_no), "CatalogType": "InventoryPart",
        "SalesUnitMeas": "PCS", "DesiredQty": qty, "QtyShipped": 0, "QtyReturned": 0,
        "QtyInvoiced": 0, "ShipViaCode": order.get("ShipViaCode"),
        "WantedDeliveryDate": order.get("WantedDeliveryDate"),
        "ShipAddrNo": order.get("ShipAddrNo"), "Objstate": "Released",
        **values,
        "OrderNo": order["OrderNo"], "LineNo": line_no,
        "RelNo": values.get("RelNo") or "1", "LineItemNo": values.get("LineItemNo") or 0,
    }
    if store.table(LINES).get(store.table(LINES).key(row)) is not None:
        raise BusinessError(ORA_EXIST, LINES, "FND_RECORD_EXIST",
                            "The Customer Order Line already exists.")
    return store.insert(LINES, row)


def delete_order(store: Store, order: dict) -> None:
    if order["Objstate"] != "Planned":
        raise BusinessError(ORA_STATE, ORDERS, "REMOVENOTALLOWED",
                            f"Order {order['OrderNo']} is {order['Objstate']}: only Planned orders "
                            "can be removed.")
    for line in lines_of(store, order["OrderNo"]):
        store.remove(LINES, line)
    address = store.table(ADDRESSES).find(OrderNo=order["OrderNo"])
    if address is not None:
        store.remove(ADDRESSES, address)
    store.remove(ORDERS, order)


def update_order(store: Store, order: dict, changes: dict) -> None:
    order.update(changes)
    store.touch(ORDERS, order)


# ------------------------------------------------------------- fulfillment

def register_fulfillment(store: Store, order: dict, params: dict) -> str:
    """CustomerOrder_RegisterFulfillment: deliver quantities, create a voucher."""
    order_no = order["OrderNo"]
    if order["Objstate"] not in DELIVERABLE_STATES:
        raise BusinessError(ORA_STATE, ORDERS, "DELIVERNOTALLOWED",
                            f"Order {order_no} is {order['Objstate']}; only Released, Reserved or "
                            "Partially Delivered orders can be delivered.")
    requested = params.get("Lines") or []
    if not requested:
        raise BusinessError(ORA_GENERAL, ORDERS, "NOLINESTODELIVER",
                            f"No lines to deliver were given for order {order_no}.")
    table = store.table(LINES)
    totals: dict[tuple, float] = {}
    for item in requested:
        key = (order_no, item["LineNo"], item["RelNo"], item["LineItemNo"])
        line = table.get(key)
        if line is None:
            raise BusinessError(ORA_NOT_EXIST, LINES, "FND_RECORD_NOT_EXIST",
                                f"The Customer Order Line {order_no}/{item['LineNo']}/"
                                f"{item['RelNo']}/{item['LineItemNo']} does not exist.")
        if item["Qty"] <= 0:
            raise BusinessError(ORA_GENERAL, LINES, "QTYNEGATIVE",
                                f"Quantity to deliver on line {_line_label(line)} must be "
                                "greater than zero.")
        if line["Objstate"] in CLOSED_LINE_STATES:
            raise BusinessError(ORA_STATE, LINES, "DELIVERNOTALLOWED",
                                f"Line {_line_label(line)} is {line['Objstate']}.")
        totals[key] = totals.get(key, 0) + item["Qty"]
    for key, qty in totals.items():
        line = table.get(key)
        remaining = line["BuyQtyDue"] - line["QtyShipped"]
        if qty > remaining:
            raise BusinessError(ORA_GENERAL, LINES, "OVERDELIVERY",
                                f"Quantity to deliver {qty:g} exceeds the remaining quantity "
                                f"{remaining:g} on line {_line_label(line)}.")

    lines = [table.get(key) for key in totals]
    sites = {line["Contract"] for line in lines}
    voucher_no = store.next_key(VOUCHERS, "FV", VOUCHER_NUMBER_START)
    store.insert(VOUCHERS, {
        "VoucherNo": voucher_no, "OrderNo": order_no,
        "Contract": sites.pop() if len(sites) == 1 else order["Contract"],
        "ExternalRef": params.get("ExternalRef"), "ShipmentRef": params.get("ShipmentRef"),
        "Carrier": params.get("Carrier"), "TrackingNo": params.get("TrackingNo"),
        "TrackingUrl": params.get("TrackingUrl"), "ShipDate": params["ShipDate"],
        "DeliveredDate": None, "DateCreated": store.now(), "Objstate": "Shipped",
    })
    for number, item in enumerate(requested, start=1):
        store.insert(VOUCHER_LINES, {
            "VoucherNo": voucher_no, "VoucherLineNo": number, "OrderNo": order_no,
            "LineNo": item["LineNo"], "RelNo": item["RelNo"], "LineItemNo": item["LineItemNo"],
            "Qty": item["Qty"]})
    now = store.now()
    for key, qty in totals.items():
        line = table.get(key)
        if line.get("CatalogType") == "InventoryPart" and line.get("PartNo"):
            # Delivered goods leave the site's stock (IFS docs, "Deliver Customer Orders").
            inventory.take_stock(store, line["Contract"], line["PartNo"], qty, now)
        line["QtyShipped"] = line["QtyShipped"] + qty
        line["RealShipDate"] = params["ShipDate"]
        line["Objstate"] = "Delivered" if line["QtyShipped"] >= line["BuyQtyDue"] else "PartiallyDelivered"
        store.touch(LINES, line)
    refresh_order_state(store, order)
    store.touch(ORDERS, order)
    return voucher_no


def refresh_order_state(store: Store, order: dict) -> None:
    every = lines_of(store, order["OrderNo"])
    lines = [l for l in every if l["Objstate"] != "Cancelled"]
    if every and not lines:
        order["Objstate"] = "Cancelled"  # every line cancelled: so is the order
    elif lines and all(l["Objstate"] in ("Delivered", "Invoiced") for l in lines):
        order["Objstate"] = "Delivered"
    elif any(l["QtyShipped"] > 0 for l in lines):
        order["Objstate"] = "PartiallyDelivered"


def update_voucher(store: Store, voucher: dict, changes: dict) -> None:
    """PATCH FulfillmentVoucherSet: tracking and delivery. Setting
    DeliveredDate is the delivery confirmation and moves it to Delivered."""
    voucher.update(changes)
    if "DeliveredDate" in changes:
        voucher["Objstate"] = "Delivered" if changes["DeliveredDate"] is not None else "Shipped"
    store.touch(VOUCHERS, voucher)


# ------------------------------------------------------------ cancellation

CANCELLABLE_STATES = frozenset({"Planned", "Released", "Reserved", "PartiallyDelivered"})


def cancel_lines(store: Store, order: dict, params: dict) -> None:
    """CustomerOrder_CancelLines (a stand-in invention): cancel `Qty` of each
    given line, as IFS's Cancel Order Line does for a whole line. Only what
    is still to deliver can go: a line with nothing delivered whose whole
    quantity goes is Cancelled (its quantity kept, as IFS keeps it); a
    partly delivered line whose rest goes is Delivered with its due
    lowered to what it delivered; less than the rest lowers the due. The
    order is Cancelled once every line is. Checks everything first and
    changes nothing when a rule fails; not idempotent (§9)."""
    order_no = order["OrderNo"]
    if order["Objstate"] not in CANCELLABLE_STATES:
        raise BusinessError(ORA_STATE, ORDERS, "CANCELNOTALLOWED",
                            f"Order {order_no} is {order['Objstate']}; its lines cannot be cancelled.")
    requested = params.get("Lines") or []
    if not requested:
        raise BusinessError(ORA_GENERAL, ORDERS, "NOLINESTOCANCEL",
                            f"No lines to cancel were given for order {order_no}.")
    table = store.table(LINES)
    totals: dict[tuple, float] = {}
    for item in requested:
        key = (order_no, item["LineNo"], item["RelNo"], item["LineItemNo"])
        line = table.get(key)
        if line is None:
            raise BusinessError(ORA_NOT_EXIST, LINES, "FND_RECORD_NOT_EXIST",
                                f"The Customer Order Line {order_no}/{item['LineNo']}/"
                                f"{item['RelNo']}/{item['LineItemNo']} does not exist.")
        if item["Qty"] <= 0:
            raise BusinessError(ORA_GENERAL, LINES, "QTYNEGATIVE",
                                f"Quantity to cancel on line {_line_label(line)} must be greater than zero.")
        if line["Objstate"] in CLOSED_LINE_STATES or line["Objstate"] == "Delivered":
            raise BusinessError(ORA_STATE, LINES, "CANCELNOTALLOWED",
                                f"Line {_line_label(line)} is {line['Objstate']} and cannot be cancelled.")
        totals[key] = totals.get(key, 0) + item["Qty"]
    for key, qty in totals.items():
        line = table.get(key)
        remaining = line["BuyQtyDue"] - line["QtyShipped"]
        if qty > remaining:
            raise BusinessError(ORA_GENERAL, LINES, "OVERCANCEL",
                                f"Quantity to cancel {qty:g} exceeds the quantity {remaining:g} still to "
                                f"deliver on line {_line_label(line)}.")
    for key, qty in totals.items():
        line = table.get(key)
        if qty < line["BuyQtyDue"] - line["QtyShipped"]:
            line["BuyQtyDue"] = line["BuyQtyDue"] - qty
        elif line["QtyShipped"] > 0:
            line["BuyQtyDue"] = line["QtyShipped"]
            line["Objstate"] = "Delivered"
        else:
            line["Objstate"] = "Cancelled"
        if params.get("CancelReason"):
            line["CancelReason"] = params["CancelReason"]
        store.touch(LINES, line)
    refresh_order_state(store, order)
    store.touch(ORDERS, order)
