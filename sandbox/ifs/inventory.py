"""Stock rows of InventoryPartInStock: one row per location, lot and handling
unit (ifs-cloud.md §5), plus the receipts that raise them."""

from __future__ import annotations

from datetime import datetime

from sandbox.ifs.store import STOCK_KEY, Store

TABLE = "InventoryPartInStock"
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
        return store.insert(TABLE, row)
    row.update(values)
    refresh_available(row)
    store.touch(TABLE, row)
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
    row["QtyOnhand"] = row.get("QtyOnhand", 0) + qty
    row["LastActivityDate"] = when
    refresh_available(row)
    store.touch(TABLE, row)
    return row


def load_stock(store: Store, rows: list[dict], replace: bool) -> int:
    """Bulk upsert for benchmarks: 50,000 SKUs must load in about a second,
    so rows skip per-field checks and go straight into the table."""
    if replace:
        store.table(TABLE).clear()
    for values in rows:
        put_stock(store, values)
    return len(rows)
