"""The inventory activity gateway: ShipBob's inventory history (picks, stows,
receipts, adjustments, restocks) recorded in IFS, one record per ShipBob event
and IFS site. Every IFS name comes from the mapping (connector/ifs/names/
inventory_activity.py); no flow needs to know one.

IFS documents no API for a third-party warehouse's movement log, so where
and how an event is recorded is a small protocol (`InventoryActivityPosting`)
with a stand-in entity set as the default (`ActivityRecord`); a tenant names
its own class in the mapping: `ifs: {inventory_activity: {posting:
"mypackage.activity:MyPosting"}}`. The class is built with `(IfsClient,
InventoryActivityNames)`.

IFS has no idempotency key: a record carries ShipBob's event id as its
external reference, and the events of a page are looked up by it before any
is created, so a rerun after a crash records nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator, Protocol, Sequence

from connector.ifs import odata
from connector.ifs.client import IfsClient
from connector.ifs.names.inventory_activity import InventoryActivityNames
from connector.ifs.posting import load_class

# External references per look-up: IFS has no `in` operator, so each is an
# `eq` clause of one URL.
REFS_PER_READ = 50


@dataclass(frozen=True, slots=True)
class InventoryActivity:
    """One ShipBob inventory event at the fulfillment center of an IFS site."""

    external_ref: str  # ShipBob's inventory_audit_event_id
    site: str
    part_no: str | None  # None: the event names no SKU (an attribute change)
    sku: str | None
    category: str | None  # ShipBob's event_category (OrderPicked, ReceivingStow, ...)
    qty_change: float  # net on-hand change at the fulfillment center
    committed_change: float
    event_date: datetime | None
    source_type: str | None  # ShipBob's primary_reference type: OrderId, WroAndBox, ...
    source_ref: str | None


@dataclass(frozen=True, slots=True)
class ActivitiesPosted:
    """What one posting did, by external reference."""

    created: tuple[str, ...]
    already: tuple[str, ...]  # recorded before (a rerun after a crash)


class InventoryActivityPosting(Protocol):
    """Records ShipBob inventory events of one site in IFS, in the order given.
    Built with `(IfsClient, InventoryActivityNames)`. Must record each event
    once: a rerun after a crash hands it events it recorded already, which
    it recognises and skips."""

    def post(self, activities: Sequence[InventoryActivity]) -> ActivitiesPosted: ...


class ActivityRecord:
    """The default posting: one record per event in the stand-in activity set,
    created unless a record of the site already carries its external reference."""

    def __init__(self, ifs: IfsClient, names: InventoryActivityNames):
        self._ifs = ifs
        self.names = names

    def post(self, activities: Sequence[InventoryActivity]) -> ActivitiesPosted:
        created: list[str] = []
        already: list[str] = []
        recorded: dict[str, set[str]] = {}
        for activity in activities:
            if activity.site not in recorded:
                refs = [a.external_ref for a in activities if a.site == activity.site]
                recorded[activity.site] = recorded_refs(self._ifs, self.names, activity.site, refs)
            if activity.external_ref in recorded[activity.site]:
                already.append(activity.external_ref)
                continue
            names = self.names
            self._ifs.create(names.projection, names.activity_set, activity_body(names, activity))
            recorded[activity.site].add(activity.external_ref)
            created.append(activity.external_ref)
        return ActivitiesPosted(tuple(created), tuple(already))


def recorded_refs(ifs: IfsClient, names: InventoryActivityNames, site: str, refs: Sequence[str]) -> set[str]:
    """Which of `refs` the site's records carry already."""
    f = names.activity
    wanted = list(dict.fromkeys(refs))
    found: set[str] = set()
    for start in range(0, len(wanted), REFS_PER_READ):
        rows = ifs.query(names.projection, names.activity_set, select=[f.external_ref],
                         filter=odata.and_(odata.eq(f.site, site),
                                           odata.any_of(f.external_ref, wanted[start:start + REFS_PER_READ])))
        found.update(str(row[f.external_ref]) for row in rows if row.get(f.external_ref) is not None)
    return found


def activity_body(names: InventoryActivityNames, activity: InventoryActivity) -> dict[str, Any]:
    """The create body; None values are left out."""
    f = names.activity
    return {f.external_ref: activity.external_ref, f.site: activity.site, f.part_no: activity.part_no,
            f.sku: activity.sku, f.category: activity.category, f.qty_change: activity.qty_change,
            f.committed_change: activity.committed_change, f.event_date: activity.event_date,
            f.source_type: activity.source_type, f.source_ref: activity.source_ref}


class InventoryActivities:
    def __init__(self, ifs: IfsClient, names: InventoryActivityNames):
        self._ifs = ifs
        self.names = names
        posting_class = load_class(names.posting, "inventory_activity.posting")
        self.posting: InventoryActivityPosting = posting_class(ifs, names)

    @property
    def enabled(self) -> bool:
        """The mapping's switch: off, no history is read and nothing recorded."""
        return self.names.enabled

    def post(self, activities: Sequence[InventoryActivity]) -> ActivitiesPosted:
        """Record the events (those recorded already are skipped). Not retried
        on an unknown outcome: a rerun posts the same events again and the
        posting recognises what it recorded. An IFS rule against a record
        raises IfsBusinessError."""
        return self.posting.post(activities)

    def recorded(self, site: str) -> Iterator[InventoryActivity]:
        """The site's records in the default activity set, by external reference."""
        names = self.names
        f = names.activity
        rows = self._ifs.query(names.projection, names.activity_set, filter=odata.eq(f.site, site),
                               orderby=[names.activity_key])
        return (self.activity_from_row(row) for row in rows)

    def activity_from_row(self, row: dict[str, Any]) -> InventoryActivity:
        f = self.names.activity
        return InventoryActivity(
            external_ref=str(row[f.external_ref]), site=str(row[f.site]), part_no=_text(row.get(f.part_no)),
            sku=_text(row.get(f.sku)), category=_text(row.get(f.category)),
            qty_change=float(row.get(f.qty_change) or 0), committed_change=float(row.get(f.committed_change) or 0),
            event_date=_moment(row.get(f.event_date)), source_type=_text(row.get(f.source_type)),
            source_ref=_text(row.get(f.source_ref)))


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _moment(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
