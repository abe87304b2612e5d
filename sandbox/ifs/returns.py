"""Return material authorisations (RMA): create with lines, release, then receive.

Sets, keys, states and the receive action are stand-in inventions
(ifs-cloud.md §6, §10). The quantity rule counts open RMA lines too, so a
duplicated create (no idempotency in IFS, §9) is refused once it would
return more than was shipped.
"""

from __future__ import annotations

from sandbox.ifs import inventory
from sandbox.ifs.errors import ORA_GENERAL, ORA_NOT_EXIST, ORA_STATE, BusinessError
from sandbox.ifs.orders import LINES as CO_LINES
from sandbox.ifs.orders import ORDERS
from sandbox.ifs.store import Store

RMAS, RMA_LINES = "ReturnMaterial", "ReturnMaterialLine"
STOCK_LOCATION = {"Restock": inventory.RETURNS_LOCATION,
                  "Quarantine": inventory.QUARANTINE_LOCATION}  # Dispose: no stock
OPEN_STATES = frozenset({"Planned", "Released"})


def lines_of(store: Store, rma_no: int) -> list[dict]:
    return sorted(store.table(RMA_LINES).where("RmaNo", rma_no), key=lambda l: l["RmaLineNo"])


def create_rma(store: Store, values: dict, children: dict, parent: dict | None = None) -> dict:
    """POST ReturnMaterialSet with a deep insert of ReturnMaterialLineArray."""
    order = store.table(ORDERS).find(OrderNo=values.get("OrderNo"))
    if order is None:
        raise BusinessError(ORA_NOT_EXIST, ORDERS, "FND_RECORD_NOT_EXIST",
                            f"The Customer Order {values.get('OrderNo')} does not exist.")
    header = {"Contract": order["Contract"], "CustomerNo": order["CustomerNo"],
              "DateRequested": store.now().date(), "ReceivedDate": None, "Objstate": "Planned",
              **values}
    pending: dict[tuple, float] = {}
    checked = [_check_line(store, header, v, pending) for v in children.get(RMA_LINES, [])]
    header["RmaNo"] = store.next_key(RMAS)
    store.insert(RMAS, header)
    for number, line in enumerate(checked, start=1):
        store.insert(RMA_LINES, {**line, "RmaNo": header["RmaNo"], "RmaLineNo": number})
    return header


def create_rma_line(store: Store, values: dict, children: dict, parent: dict | None) -> dict:
    """POST ReturnMaterialSet(RmaNo=n)/ReturnMaterialLineArray."""
    if parent["Objstate"] not in OPEN_STATES:
        raise BusinessError(ORA_STATE, RMAS, "NEWLINENOTALLOWED",
                            f"RMA {parent['RmaNo']} is {parent['Objstate']}; lines cannot be added.")
    line = _check_line(store, parent, values, {})
    number = max((l["RmaLineNo"] for l in lines_of(store, parent["RmaNo"])), default=0) + 1
    return store.insert(RMA_LINES, {**line, "RmaNo": parent["RmaNo"], "RmaLineNo": number})


def _check_line(store: Store, header: dict, values: dict, pending: dict) -> dict:
    order_no = values.get("OrderNo") or header["OrderNo"]
    if order_no != header["OrderNo"]:
        raise BusinessError(ORA_GENERAL, RMA_LINES, "ORDERMISMATCH",
                            f"RMA line order {order_no} differs from the RMA's order "
                            f"{header['OrderNo']}.")
    key = (order_no, values.get("LineNo"), values.get("RelNo"), values.get("LineItemNo", 0))
    co_line = store.table(CO_LINES).get(key)
    if co_line is None:
        raise BusinessError(ORA_NOT_EXIST, CO_LINES, "FND_RECORD_NOT_EXIST",
                            f"The Customer Order Line {'/'.join(str(k) for k in key)} does not exist.")
    if values.get("PartNo") not in (None, co_line["PartNo"]):
        raise BusinessError(ORA_GENERAL, RMA_LINES, "PARTMISMATCH",
                            f"Part {values['PartNo']} is not the part {co_line['PartNo']} of order "
                            f"line {'/'.join(str(k) for k in key)}.")
    qty = values.get("QtyToReturn")
    if qty is None or qty <= 0:
        raise BusinessError(ORA_GENERAL, RMA_LINES, "QTYNEGATIVE",
                            "Quantity to return must be greater than zero.")
    returnable = (co_line["QtyShipped"] - co_line["QtyReturned"]
                  - _open_return_qty(store, key) - pending.get(key, 0))
    if qty > returnable:
        raise BusinessError(ORA_GENERAL, RMA_LINES, "QTYRETURNEXCEEDED",
                            f"Quantity to return {qty:g} exceeds the returnable quantity "
                            f"{max(returnable, 0):g} of order line {'/'.join(str(k) for k in key)} "
                            "(delivered less returned and already on open RMAs).")
    pending[key] = pending.get(key, 0) + qty
    return {"ReturnAction": "Restock", "QtyReceived": 0, "Objstate": "Planned", **values,
            "OrderNo": order_no, "LineNo": key[1], "RelNo": key[2], "LineItemNo": key[3],
            "PartNo": co_line["PartNo"], "Contract": header["Contract"]}


def _open_return_qty(store: Store, co_key: tuple) -> float:
    total = 0
    for rma in store.table(RMAS).where("OrderNo", co_key[0]):
        if rma["Objstate"] not in OPEN_STATES:
            continue
        for line in lines_of(store, rma["RmaNo"]):
            if (line["OrderNo"], line["LineNo"], line["RelNo"], line["LineItemNo"]) == co_key:
                total += line["QtyToReturn"]
    return total


def release_rma(store: Store, rma: dict, params: dict) -> None:
    """ReturnMaterial_Release: a Planned RMA with lines becomes Released, and
    only then can it be received (AboutRMA: "released before receipt")."""
    if rma["Objstate"] != "Planned":
        raise BusinessError(ORA_STATE, RMAS, "RELEASENOTALLOWED",
                            f"RMA {rma['RmaNo']} is {rma['Objstate']}; only a Planned RMA can be "
                            "released.")
    lines = lines_of(store, rma["RmaNo"])
    if not lines:
        raise BusinessError(ORA_GENERAL, RMAS, "NOLINES", f"RMA {rma['RmaNo']} has no lines.")
    for line in lines:
        line["Objstate"] = "Released"
        store.touch(RMA_LINES, line)
    rma["Objstate"] = "Released"
    store.touch(RMAS, rma)


def receive_rma(store: Store, rma: dict, params: dict) -> None:
    """ReturnMaterial_Receive: return the goods to stock and to the order line.
    IFS documents that an RMA "must be released before receipt" (ifs-cloud.md
    §6, docs.ifs.com .../Shipment/AboutRMA.htm): a Planned one is refused."""
    if rma["Objstate"] != "Released":
        raise BusinessError(ORA_STATE, RMAS, "RECEIVENOTALLOWED",
                            f"RMA {rma['RmaNo']} is {rma['Objstate']} and cannot be received; "
                            "an RMA must be released before receipt.")
    lines = lines_of(store, rma["RmaNo"])
    if not lines:
        raise BusinessError(ORA_GENERAL, RMAS, "NOLINES", f"RMA {rma['RmaNo']} has no lines.")
    co_table = store.table(CO_LINES)
    for line in lines:
        co_line = co_table.get((line["OrderNo"], line["LineNo"], line["RelNo"], line["LineItemNo"]))
        if co_line["QtyReturned"] + line["QtyToReturn"] > co_line["QtyShipped"]:
            raise BusinessError(ORA_GENERAL, RMA_LINES, "QTYRETURNEXCEEDED",
                                f"Receiving RMA line {line['RmaLineNo']} would return more than "
                                "was delivered.")
    now = store.now()
    for line in lines:
        co_line = co_table.get((line["OrderNo"], line["LineNo"], line["RelNo"], line["LineItemNo"]))
        co_line["QtyReturned"] += line["QtyToReturn"]
        store.touch(CO_LINES, co_line)
        location = STOCK_LOCATION.get(line["ReturnAction"])
        if location is not None:
            inventory.add_stock(store, rma["Contract"], line["PartNo"], location,
                                line["QtyToReturn"], now)
        line["QtyReceived"] = line["QtyToReturn"]
        line["Objstate"] = "Received"
        store.touch(RMA_LINES, line)
    rma["Objstate"] = "Received"
    rma["ReceivedDate"] = now.date()
    store.touch(RMAS, rma)


def update_rma(store: Store, rma: dict, changes: dict) -> None:
    rma.update(changes)
    store.touch(RMAS, rma)
