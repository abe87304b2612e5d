"""In-memory tables with IFS row identity: objid, objversion and the ETag.

Rows are plain dicts keyed by internal attribute names (see `model.py`);
`_objid`, `_objversion` and `_changed` are kept in the row and never served
as properties. One re-entrant lock guards the whole store: the app holds it
for the whole of each request, so every action is atomic.
"""

from __future__ import annotations

import base64
import copy
import string
import threading
from datetime import datetime, timezone

STOCK_KEY = ("Contract", "PartNo", "ConfigurationId", "LocationNo", "LotBatchNo", "SerialNo",
             "EngChgLevel", "WaivDevRejNo", "ActivitySeq", "HandlingUnitId")

# table -> (key attrs, indexed attrs); indexes speed up `attr eq value` filters.
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "CustomerOrder": (("OrderNo",), ("CustomerPoNo",)),
    "CustomerOrderLine": (("OrderNo", "LineNo", "RelNo", "LineItemNo"), ("OrderNo",)),
    "CustomerOrderAddress": (("OrderNo",), ()),
    "FulfillmentVoucher": (("VoucherNo",), ("OrderNo", "ExternalRef")),
    "FulfillmentVoucherLine": (("VoucherNo", "VoucherLineNo"), ("VoucherNo",)),
    "ReturnMaterial": (("RmaNo",), ("OrderNo", "ExternalRef")),
    "ReturnMaterialLine": (("RmaNo", "RmaLineNo"), ("RmaNo",)),
    "PurchaseOrder": (("OrderNo",), ()),
    "PurchaseOrderLine": (("OrderNo", "LineNo", "ReleaseNo"), ("OrderNo",)),
    "PurchaseReceipt": (("ReceiptNo",), ("OrderNo", "ExternalRef")),
    "InventoryPartInStock": (STOCK_KEY, ("PartNo", "Contract")),
    "InventoryPartCount": (("Contract", "PartNo"), ("PartNo",)),
    "ExternalStockLevel": (("Contract", "PartNo"), ("PartNo",)),
    "ExternalInventoryActivity": (("ActivityNo",), ("Contract", "ExternalRef")),
}

# Child table -> (parent table, the child's attributes that are the parent's
# key). A write to an order's line or delivery address is a change of the
# order: the parent's change stamp (`_changed`, served where a tenant has a
# change stamp, tenant.py) moves with it, its objversion (and ETag) does not.
# ⚠ IFS documents no header stamp that follows its lines; a poll on a change
# stamp needs one that does, and this is the tenant such a poll is for.
CHANGE_PARENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "CustomerOrderLine": ("CustomerOrder", ("OrderNo",)),
    "CustomerOrderAddress": ("CustomerOrder", ("OrderNo",)),
}

_ROWID_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"


def _base64_digits(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, digit = divmod(value, 64)
        out.append(_ROWID_ALPHABET[digit])
    return "".join(reversed(out))


def make_etag(objid: str, objversion: str) -> str:
    """`W/"` + base64(`W/"<objid>:<objversion>"`) + `"`, the shape of IFS's
    sample ETag (ifs-cloud.md §7, §11.4)."""
    inner = f'W/"{objid}:{objversion}"'.encode()
    return 'W/"' + base64.b64encode(inner).decode() + '"'


def etag_of(row: dict) -> str:
    return make_etag(row["_objid"], row["_objversion"])


class Table:
    def __init__(self, name: str, number: int, key_attrs: tuple[str, ...], indexed: tuple[str, ...]):
        self.name = name
        self.number = number
        self.key_attrs = key_attrs
        self.rows: dict[tuple, dict] = {}
        self.version = 0  # bumped on every change: invalidates cached query results
        self.row_seq = 0
        self.cache: dict = {}  # query results by (scope, filter, orderby); see query.py
        self._index: dict[str, dict] = {attr: {} for attr in indexed}
        self._indexed: dict[tuple, tuple] = {}  # key -> indexed values it is filed under

    def key(self, row: dict) -> tuple:
        return tuple(row[attr] for attr in self.key_attrs)

    def get(self, key: tuple) -> dict | None:
        return self.rows.get(tuple(key))

    def find(self, **values) -> dict | None:
        return self.rows.get(tuple(values[attr] for attr in self.key_attrs))

    def where(self, attr: str, value) -> list[dict]:
        """Rows whose indexed `attr` equals `value`."""
        return list(self._index[attr].get(value, {}).values())

    def candidates(self, attr: str, values) -> list[dict] | None:
        """Rows possibly matching `attr in values`, or None if not indexed."""
        if attr in self._index:
            found: list[dict] = []
            for value in values:
                found.extend(self._index[attr].get(value, {}).values())
            return found
        if self.key_attrs == (attr,):
            return [row for value in values if (row := self.rows.get((value,))) is not None]
        return None

    def add(self, row: dict) -> None:
        key = self.key(row)
        if key in self.rows:
            raise KeyError(key)
        self.rows[key] = row
        self._index_row(key, row)
        self.version += 1

    def remove(self, row: dict) -> None:
        key = self.key(row)
        del self.rows[key]
        self._unindex_row(key)
        self.version += 1

    def changed(self, row: dict) -> None:
        """After an in-place write: move the row between index buckets."""
        self.version += 1
        if self._index:
            key = self.key(row)
            if self._indexed.get(key) != tuple(row.get(a) for a in self._index):
                self._unindex_row(key)
                self._index_row(key, row)

    def _index_row(self, key: tuple, row: dict) -> None:
        if self._index:
            values = tuple(row.get(a) for a in self._index)
            self._indexed[key] = values
            for (_attr, index), value in zip(self._index.items(), values):
                index.setdefault(value, {})[key] = row

    def _unindex_row(self, key: tuple) -> None:
        values = self._indexed.pop(key, None)
        if values is not None:
            for index, value in zip(self._index.values(), values):
                index.get(value, {}).pop(key, None)

    def clear(self) -> None:
        self.rows.clear()
        self._indexed.clear()
        for index in self._index.values():
            index.clear()
        self.version += 1

    def __len__(self) -> int:
        return len(self.rows)

    def state(self) -> tuple:
        """What `restore` puts back: rows and indexes (the cache is rebuilt)."""
        return self.rows, self._index, self._indexed

    def restore(self, state: tuple) -> None:
        self.rows, self._index, self._indexed = state
        self.cache = {}
        self.version += 1  # never goes back: cached results stay invalid


class Store:
    def __init__(self, company: str = "10"):
        self.lock = threading.RLock()
        self.company = company  # Company of created orders
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.tables = {
                name: Table(name, number, keys, indexed)
                for number, (name, (keys, indexed)) in enumerate(TABLES.items(), start=1)
            }
            self.counters: dict[str, int] = {}
            # Customers are not served as a set; orders copy their addresses.
            self.customers: dict[str, dict] = {}
            # PartNo -> description, for lines created without CatalogDesc.
            self.parts: dict[str, str] = {}
            self._write_seq = 0

    def table(self, name: str) -> Table:
        return self.tables[name]

    def snapshot(self):
        """A deep copy of the data, for rolling back a `$batch` change set.
        Sequences (`counters`, objids, objversions) are not part of it: like
        Oracle sequences they never go back, so no key or ETag is reused."""
        with self.lock:
            return copy.deepcopy(({name: t.state() for name, t in self.tables.items()},
                                  self.customers, self.parts))

    def restore(self, snapshot) -> None:
        """Put a `snapshot()` back (once: the store takes its objects over)."""
        with self.lock:
            tables, customers, parts = snapshot
            for name, state in tables.items():
                self.tables[name].restore(state)
            self.customers, self.parts = customers, parts

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc).replace(microsecond=0)

    def next_key(self, table: str, prefix: str = "", start: int = 0):
        """The next value of an IFS sequence as `table`'s single key:
        `<prefix><n>`, or the number n without a prefix. Keys a test gave
        explicitly are skipped."""
        rows = self.tables[table].rows
        value = self.counters.get(table, start)
        while True:
            value += 1
            key = f"{prefix}{value}" if prefix else value
            if (key,) not in rows:
                self.counters[table] = value
                return key

    def insert(self, table: str, row: dict) -> dict:
        t = self.tables[table]
        t.row_seq += 1
        row["_objid"] = ("AAA" + _base64_digits(70000 + t.number, 3) + "AAE"
                         + _base64_digits(t.row_seq // 100, 6) + _base64_digits(t.row_seq % 100, 3))
        self._stamp(row)
        t.add(row)
        self._parent_changed(table, row)
        return row

    def touch(self, table: str, row: dict) -> None:
        """A write to `row`: new objversion (so a new ETag) and change time."""
        self._stamp(row)
        self.tables[table].changed(row)
        self._parent_changed(table, row)

    def remove(self, table: str, row: dict) -> None:
        self.tables[table].remove(row)
        self._parent_changed(table, row)

    def _parent_changed(self, table: str, row: dict) -> None:
        if table not in CHANGE_PARENTS:
            return
        parent_table, key_attrs = CHANGE_PARENTS[table]
        parent = self.tables[parent_table].get(tuple(row.get(attr) for attr in key_attrs))
        if parent is not None:
            parent["_changed"] = self.now()
            self.tables[parent_table].changed(parent)  # cached query results are stale

    def _stamp(self, row: dict) -> None:
        # objversion is IFS's YYYYMMDDHH24MISS; the counter suffix makes it
        # change on every write even within one second.
        self._write_seq += 1
        now = self.now()
        row["_objversion"] = f"{now:%Y%m%d%H%M%S}{self._write_seq:06d}"
        row["_changed"] = now
