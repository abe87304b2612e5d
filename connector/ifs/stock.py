"""The stock gateway: IFS stock rows and the external stock levels ShipBob's
quantities are written back to, as typed records. Every IFS name comes from
the mapping (connector/ifs/names/stock.py); no flow needs to know one.

How a level is written differs between tenants, so it is a small protocol
(`StockLevelPosting`) with today's write as the default
(`ExternalStockLevelRecord`); a tenant names its own class in the mapping:
`ifs: {stock: {posting: "mypackage.levels:MyPosting"}}`. The class is built
with `(IfsClient, StockNames)`.

So is a counted adjustment (`StockCountPosting`, mapping key
`ifs.stock.count_posting`): the inventory sync's `inventory_drift: adjust`
posts ShipBob's on-hand as what IFS is to hold. IFS's counting API is not
publicly documented; the default (`ReportCountedQuantity`) calls a bound
count action on the part's count record at the site under its ETag.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Iterable, Iterator, Protocol

from connector.errors import ConfigError
from connector.ifs import odata
from connector.ifs.client import IfsClient
from connector.ifs.errors import IfsBusinessError, IfsNotFound
from connector.ifs.names.stock import StockNames
from connector.ifs.posting import load_class

# Rows per page: IFS's own public client code reads stock with $top=5000.
PAGE_SIZE = 5000
# The PL/SQL error IFS answers a POST of a key that exists already with.
ORA_RECORD_EXISTS = "ORA-20112"
# IFS quantities are decimals; two closer than this are equal.
_EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class StockRow:
    """One IFS stock row: a part's quantity at one location, lot and handling
    unit of a site, in the part's unit of measure."""

    site: str
    part_no: str
    quantity: float
    uom: str | None


@dataclass(frozen=True, slots=True)
class ExternalStockLevel:
    """ShipBob's levels of one part at one site, as IFS supply planning holds
    them. A quantity read as None is one IFS holds no value for."""

    site: str
    part_no: str
    sku: str | None
    on_hand: float | None
    committed: float | None
    fulfillable: float | None
    awaiting: float | None
    picked: float | None
    # Set on a write; not read back (it changes on every write, so it is not
    # part of what decides one).
    last_sync: datetime | None = None

    def changed_from(self, current: ExternalStockLevel | None) -> tuple[str, ...]:
        """The values (SKU and quantities) that differ from `current`: the
        fields a write must send. Every value when there is no current level."""
        return tuple(name for name in LEVEL_VALUES
                     if current is None or not _same(getattr(current, name), getattr(self, name)))


# The values of a level that a write carries (its key and sync date aside).
LEVEL_VALUES = tuple(f.name for f in fields(ExternalStockLevel)
                     if f.name not in ("site", "part_no", "last_sync"))


class LevelPosted(str, enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # IFS held these values already (another run wrote them)


class StockLevelPosting(Protocol):
    """Writes one level to IFS. `current` is what IFS held when the run read
    the levels (None: it held none for the site and part); `level.last_sync`
    is the run's time."""

    def post(self, level: ExternalStockLevel, current: ExternalStockLevel | None) -> LevelPosted: ...


@dataclass(frozen=True, slots=True)
class StockCount:
    """A counted quantity to post for a part at a site: `counted` is what IFS
    is to hold afterwards, `books` what IFS held when the count was taken
    (the inventory sync's read); IFS books the difference."""

    site: str
    part_no: str
    counted: float
    books: float
    reference: str  # says where the count came from (ShipBob, the run)
    note: str


class CountPosted(str, enum.Enum):
    POSTED = "posted"
    ALREADY = "already"  # IFS holds the counted quantity already (an earlier try, another run)
    MOVED = "moved"      # IFS stock moved since `books` was read: nothing posted, compare again


class StockCountPosting(Protocol):
    """Posts one count. It must post nothing when IFS no longer holds
    `count.books` (the stock moved since it was read: answer MOVED), nor when
    it holds `count.counted` already (answer ALREADY): IFS has no
    idempotency key, so a retried count must not book the difference twice.
    An IFS business rule refusing the count is raised as IfsBusinessError."""

    def post(self, count: StockCount) -> CountPosted: ...


class Stock:
    def __init__(self, ifs: IfsClient, names: StockNames):
        self._ifs = ifs
        self.names = names
        self._posting = _load_posting(ifs, names) if names.levels_enabled else None
        self._count_posting = _load_count_posting(ifs, names) if names.counting_enabled else None

    @property
    def levels_enabled(self) -> bool:
        """An empty external level set or projection in the mapping turns the
        write-back off."""
        return self.names.levels_enabled

    def rows(self, sites: Iterable[str]) -> Iterator[StockRow]:
        """Every stock row of the sites, streamed page by page in key order."""
        names, f = self.names, self.names.row
        rows = self._ifs.query(names.projection, names.stock_set,
                               filter=odata.any_of(f.site, list(sites)),
                               select=[f.site, f.part_no, names.quantity_field, f.uom],
                               orderby=[f"{key} asc" for key in (f.site, f.part_no, *f.location_key)],
                               page_size=PAGE_SIZE)
        for row in rows:
            yield self._row(row)

    def levels(self, sites: Iterable[str]) -> Iterator[ExternalStockLevel]:
        """Every external level IFS holds for the sites; none when the
        write-back is off."""
        names, f = self.names, self.names.level
        if not self.levels_enabled:
            return
        rows = self._ifs.query(names.external_level_projection, names.external_level_set,
                               filter=odata.any_of(f.site, list(sites)),
                               select=[f.site, f.part_no, *(getattr(f, name) for name in LEVEL_VALUES)],
                               orderby=[f"{f.site} asc", f"{f.part_no} asc"], page_size=PAGE_SIZE)
        for row in rows:
            yield level_from_entity(row, names)

    def post_level(self, level: ExternalStockLevel, current: ExternalStockLevel | None) -> LevelPosted:
        if self._posting is None:
            raise ConfigError("mapping ifs.stock: the external level write-back is off "
                              "(external_level_set or external_level_projection is empty)")
        return self._posting.post(level, current)

    @property
    def counting_enabled(self) -> bool:
        """An empty count set or projection in the mapping turns counting off."""
        return self.names.counting_enabled

    def post_count(self, count: StockCount) -> CountPosted:
        if self._count_posting is None:
            raise ConfigError("mapping ifs.stock: counting is off (count_set or count_projection is empty)")
        return self._count_posting.post(count)

    # ------------------------------------------------------------- records

    def _row(self, row: dict[str, Any]) -> StockRow:
        f = self.names.row
        uom = row.get(f.uom)
        return StockRow(site=str(row[f.site]), part_no=str(row[f.part_no]),
                        quantity=_quantity(row, self.names.quantity_field) or 0.0,
                        uom=None if uom is None else str(uom))


class ExternalStockLevelRecord:
    """The default posting: POST a level IFS has not got; PATCH the changed
    values of one it has, under the ETag of a GET by key."""

    def __init__(self, ifs: IfsClient, names: StockNames):
        self._ifs = ifs
        self.names = names

    def post(self, level: ExternalStockLevel, current: ExternalStockLevel | None) -> LevelPosted:
        names, f = self.names, self.names.level
        if current is None:
            try:
                self._ifs.create(names.external_level_projection, names.external_level_set,
                                 {f.site: level.site, f.part_no: level.part_no,
                                  **self._values(level, LEVEL_VALUES)})
                return LevelPosted.CREATED
            except IfsBusinessError as exc:
                if exc.ora_code != ORA_RECORD_EXISTS:
                    raise
                # Created since the run read the set (another run): update it instead.
        path = odata.key_path(names.external_level_set, **{f.site: level.site, f.part_no: level.part_no})

        def changes(entity: dict[str, Any]) -> dict[str, Any]:
            changed = level.changed_from(level_from_entity(entity, names))
            return self._values(level, changed) if changed else {}

        try:
            updated = self._ifs.update(names.external_level_projection, path, changes)
        except IfsNotFound:
            # Deleted since the run read the set: create it again.
            return self.post(level, None)
        return LevelPosted.UNCHANGED if updated is None else LevelPosted.UPDATED

    def _values(self, level: ExternalStockLevel, names: Iterable[str]) -> dict[str, Any]:
        """The named values under their IFS names, with the sync date."""
        f = self.names.level
        return {**{getattr(f, name): getattr(level, name) for name in names}, f.last_sync: level.last_sync}


class ReportCountedQuantity:
    """The default count posting: the count action bound to the part's count
    record at the site. The record is read by key right before the action
    (whose If-Match carries its ETag); its on-hand quantity decides whether
    to post at all (see StockCountPosting)."""

    def __init__(self, ifs: IfsClient, names: StockNames):
        self._ifs = ifs
        self.names = names

    def post(self, count: StockCount) -> CountPosted:
        names, f, p = self.names, self.names.count, self.names.count_params
        path = odata.key_path(names.count_set, **{f.site: count.site, f.part_no: count.part_no})
        outcome = CountPosted.POSTED

        def posted_or_moved(record: dict[str, Any]) -> bool:
            # Runs on every read, retries included: a count whose answer was
            # lost is found booked, and never booked twice.
            nonlocal outcome
            held = _quantity(record, f.on_hand) or 0.0
            if abs(held - count.counted) <= _EPSILON:
                outcome = CountPosted.ALREADY
            elif abs(held - count.books) > _EPSILON:
                outcome = CountPosted.MOVED
            else:
                return False
            return True

        self._ifs.bound_action(names.count_projection, path, names.count_action,
                               {p.counted_qty: count.counted, p.reference: count.reference, p.note: count.note},
                               check=posted_or_moved)
        return outcome


def level_from_entity(row: dict[str, Any], names: StockNames) -> ExternalStockLevel:
    f = names.level
    sku = row.get(f.sku)
    return ExternalStockLevel(
        site=str(row[f.site]), part_no=str(row[f.part_no]), sku=None if sku is None else str(sku),
        on_hand=_quantity(row, f.on_hand), committed=_quantity(row, f.committed),
        fulfillable=_quantity(row, f.fulfillable), awaiting=_quantity(row, f.awaiting),
        picked=_quantity(row, f.picked))


def _load_posting(ifs: IfsClient, names: StockNames) -> StockLevelPosting:
    posting: StockLevelPosting = load_class(names.posting, "stock.posting")(ifs, names)
    return posting


def _load_count_posting(ifs: IfsClient, names: StockNames) -> StockCountPosting:
    posting: StockCountPosting = load_class(names.count_posting, "stock.count_posting")(ifs, names)
    return posting


def _quantity(row: dict[str, Any], field: str) -> float | None:
    value = row.get(field)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # kept as sent: small ints are shared, a float per row is not
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"IFS {field} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"IFS {field} {value!r} is not a finite number")
    return number


def _same(have: Any, want: Any) -> bool:
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        return have is not None and abs(float(have) - float(want)) <= _EPSILON
    return bool(have == want)
