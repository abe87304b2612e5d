"""Stock rows of InventoryPartInStock: one row per location, lot and handling
unit (ifs-cloud.md §5); the receipts that raise them and the deliveries that
take them; and the count of a part at a site (InventoryPartCount, a stand-in
invention: IFS's counting API is not publicly documented), whose ETag moves
with every stock change of the part there, so a count posted under If-Match
applies to exactly the stock it was based on."""

from __future__ import annotations

from datetime import datetime

from sandbox.ifs.errors import ORA_GENERAL, BusinessError
from sandbox.ifs.store import STOCK_KEY, Store

TABLE = "InventoryPartInStock"
COUNT_TABLE = "InventoryPartCount"
# Placeholders IFS uses for unused key parts (§5).
KEY_DEFAULTS = {"ConfigurationId": "*", "LotBatchNo": "*", "SerialNo": "*", "EngChgLevel": "1",
                "WaivDevRejNo": "*", "ActivitySeq": 0, "HandlingUnitId": 0}
# Stock on these locations is on hand but not available (not nettable).
NON_NETTABLE_LOCATIONS = frozenset({"QUARANTINE"})

RECEIVING_LOCATION = "RECEIVING"
RETURNS_LOCATION = "RETURNS"
QUARANTINE_LOCATION = "QUARANTINE"


def refresh_available(row: dict) -> None:
    if row.get("LocationNo") in NON_NETTABLE_LOCATIONS:
        row["AvailableQty"] = 0
    else:
        row["AvailableQty"] = max(row.get("QtyOnhand", 0) - row.get("QtyReserved", 0), 0)


def stock_key(values: dict) -> tuple:
    return tuple(values.get(attr, KEY_DEFAULTS.get(attr)) for attr in STOCK_KEY)


def put_stock(store: Store, values: dict) -> dict:
    """Create or overwrite the row of `values`' key (test hooks, seeding)."""
    table = store.table(TABLE)
    row = table.get(stock_key(values))
    if row is None:
        row = {**KEY_DEFAULTS, "QtyOnhand": 0, "QtyReserved": 0, **values}
        refresh_available(row)
        store.insert(TABLE, row)
    else:
        row.update(values)
        refresh_available(row)
        store.touch(TABLE, row)
    refresh_count(store, row["Contract"], row["PartNo"])
    return row


def add_stock(store: Store, contract: str, part_no: str, location_no: str, qty: float,
              when: datetime, uom: str = "PCS") -> dict:
    """Raise on-hand stock on a location (receipts, returns)."""
    table = store.table(TABLE)
    key = stock_key({"Contract": contract, "PartNo": part_no, "LocationNo": location_no})
    row = table.get(key)
    if row is None:
        row = {**KEY_DEFAULTS, "Contract": contract, "PartNo": part_no, "LocationNo": location_no,
               "QtyOnhand": 0, "QtyReserved": 0, "UoM": uom, "Warehouse": "WH1",
               "LocationDescription": location_no.title(), "ReceiptDate": when}
        store.insert(TABLE, row)
    _move(store, row, qty, when)
    refresh_count(store, contract, part_no)
    return row


def take_stock(store: Store, contract: str, part_no: str, qty: float, when: datetime) -> None:
    """Lower on-hand stock by `qty` (a delivery, a count below the books):
    from the nettable rows holding stock, in key order. What they do not
    hold is taken from the first of them anyway (or a RECEIVING row) and
    leaves it below zero: like the ShipBob sandbox, this stand-in lets stock
    go negative rather than refuse a delivery."""
    rows = sorted((r for r in store.table(TABLE).where("PartNo", part_no)
                   if r["Contract"] == contract and r.get("LocationNo") not in NON_NETTABLE_LOCATIONS),
                  key=stock_key)
    left = qty
    for row in rows:
        take = min(left, max(row.get("QtyOnhand", 0), 0))
        if take > 0:
            _move(store, row, -take, when)
            left -= take
    if left > 0:
        if rows:
            _move(store, rows[0], -left, when)
        else:
            add_stock(store, contract, part_no, RECEIVING_LOCATION, -left, when)
            return
    refresh_count(store, contract, part_no)


def _move(store: Store, row: dict, qty: float, when: datetime) -> None:
    row["QtyOnhand"] = row.get("QtyOnhand", 0) + qty
    row["LastActivityDate"] = when
    refresh_available(row)
    store.touch(TABLE, row)


# ------------------------------------------------------------------ counting

def refresh_count(store: Store, contract: str, part_no: str) -> None:
    """The part's count row at the site follows its stock: the sum on hand,
    and a new ETag on every change."""
    rows = [r for r in store.table(TABLE).where("PartNo", part_no) if r["Contract"] == contract]
    table = store.table(COUNT_TABLE)
    count = table.find(Contract=contract, PartNo=part_no)
    on_hand = sum(r.get("QtyOnhand", 0) for r in rows)
    if count is None:
        store.insert(COUNT_TABLE, {"Contract": contract, "PartNo": part_no, "QtyOnhand": on_hand,
                                   "UoM": next((r.get("UoM") for r in rows), None)})
        return
    count["QtyOnhand"] = on_hand
    store.touch(COUNT_TABLE, count)


def report_count(store: Store, count: dict, params: dict) -> None:
    """InventoryPartCount_ReportCount: the part was counted at the site. The
    difference to the books is posted as one count adjustment: a surplus
    onto the first nettable location, a shortage taken as a delivery is."""
    counted = params.get("CountedQty")
    if counted is None or counted < 0:
        raise BusinessError(ORA_GENERAL, COUNT_TABLE, "QTYNEGATIVE",
                            "The counted quantity cannot be negative.")
    now = store.now()
    contract, part_no = count["Contract"], count["PartNo"]
    difference = counted - count["QtyOnhand"]
    if difference > 0:
        rows = sorted((r for r in store.table(TABLE).where("PartNo", part_no)
                       if r["Contract"] == contract and r.get("LocationNo") not in NON_NETTABLE_LOCATIONS),
                      key=stock_key)
        if rows:
            _move(store, rows[0], difference, now)
            refresh_count(store, contract, part_no)
        else:
            add_stock(store, contract, part_no, RECEIVING_LOCATION, difference, now,
                      uom=count.get("UoM") or "PCS")
    elif difference < 0:
        take_stock(store, contract, part_no, -difference, now)
    count["LastCountedQty"] = counted
    count["LastCountDate"] = now
    count["LastCountRef"] = params.get("CountRef")
    store.touch(COUNT_TABLE, count)


def load_stock(store: Store, rows: list[dict], replace: bool) -> int:
    """Bulk upsert for benchmarks: 50,000 SKUs must load in about a second,
    so rows skip per-field checks and go straight into the table."""
    if replace:
        store.table(TABLE).clear()
        store.table(COUNT_TABLE).clear()
    for values in rows:
        put_stock(store, values)
    return len(rows)
