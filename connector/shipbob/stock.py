"""ShipBob's stock truth as typed values: fulfillable quantity per item and fulfillment
center (`GET /inventory-level/locations`), and inventory history events (`POST
/inventory/history:query`, ShipBob 2026-01; docs/shipbob-lifecycle.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping

from connector.shipbob.json_fields import integer, mapping, mappings, moment, text

# "Maximum range is 90 days" (MerchantHistoryRequest.start_date).
HISTORY_MAX_RANGE = timedelta(days=90)


@dataclass(frozen=True)
class CenterStock:
    """One item's quantities at one fulfillment center."""

    location_id: int
    fulfillable: int
    on_hand: int
    committed: int
    awaiting: int


@dataclass(frozen=True)
class ItemStock:
    inventory_id: int
    sku: str | None
    centers: Mapping[int, CenterStock] = field(default_factory=dict)

    def fulfillable(self, location_id: int | None = None) -> int:
        """What new orders can take at `location_id` (None: across every center)."""
        if location_id is not None:
            center = self.centers.get(location_id)
            return center.fulfillable if center else 0
        return sum(c.fulfillable for c in self.centers.values())


def item_stock_of(item: Mapping[str, object]) -> ItemStock | None:
    """An `Inventory.InventoryQuantityFcResponse`, or None without an inventory id."""
    inventory_id = integer(item.get("inventory_id"))
    if inventory_id is None:
        return None
    centers: dict[int, CenterStock] = {}
    for loc in mappings(item.get("locations")):
        location_id = integer(loc.get("location_id"))
        if location_id is not None:
            centers[location_id] = CenterStock(
                location_id, integer(loc.get("fulfillable_quantity")) or 0,
                integer(loc.get("on_hand_quantity")) or 0, integer(loc.get("committed_quantity")) or 0,
                integer(loc.get("awaiting_quantity")) or 0)
    return ItemStock(inventory_id, text(item.get("sku")), centers)


@dataclass(frozen=True)
class HistoryEvent:
    """One inventory movement at the queried facility. `quantity` is its net change of
    on-hand there: the `increment` and `decrement` quantity changes (decrements are
    negative) whose facility is the queried one."""

    id: int
    inventory_id: int
    category: str | None
    at: datetime | None
    facility_id: int
    sku: str | None
    quantity: int
    committed: int
    order_id: int | None
    reference: tuple[str, str] | None
    raw: Mapping[str, object]


@dataclass(frozen=True)
class HistoryPage:
    """A page of events, oldest first. `cursor` resumes after this page (the last event's
    id; the cursor asked with when the page is empty): keep it once the events are
    recorded and the next run sees each event exactly once."""

    events: list[HistoryEvent]
    cursor: int | None
    more: bool


def history_event_of(raw: Mapping[str, object], facility_id: int) -> HistoryEvent | None:
    event_id, inventory_id = integer(raw.get("inventory_audit_event_id")), integer(raw.get("inventory_id"))
    if event_id is None or inventory_id is None:
        return None
    quantity = committed = 0
    sku = None
    for side in (mapping(raw.get("increment")), mapping(raw.get("decrement"))):
        if not side:
            continue
        sku = sku or text(side.get("sku"))
        if integer(side.get("facility_id")) in (None, facility_id):
            quantity += integer(side.get("quantity_change")) or 0
            committed += integer(side.get("committed_quantity_change")) or 0
    ref = mapping(raw.get("primary_reference"))
    ref_type, ref_value = text(ref.get("type")), text(ref.get("value"))
    return HistoryEvent(event_id, inventory_id, text(raw.get("event_category")),
                        moment(raw.get("event_datetime")), facility_id, sku, quantity, committed,
                        integer(raw.get("shipbob_order_id")),
                        (ref_type, ref_value) if ref_type and ref_value is not None else None, raw)


def history_query(facility_id: int, cursor: int | None, event_category: str | None,
                  inventory_ids: Iterable[int] | None, start: datetime | None,
                  end: datetime | None) -> dict[str, object]:
    """`FulfillmentCenterInventoryService.MerchantHistoryRequest`; a range ShipBob would
    refuse is a ValueError here."""
    if start is not None and end is not None:
        if start > end:
            raise ValueError(f"inventory history: start {start} is after end {end}")
        if end - start > HISTORY_MAX_RANGE:
            raise ValueError("inventory history: ShipBob answers at most 90 days per query")
    body: dict[str, object] = {"facility_id": int(facility_id)}
    if cursor is not None:
        body["cursor"] = int(cursor)
    if event_category is not None:
        body["event_category"] = event_category
    if inventory_ids is not None:
        body["inventory_ids"] = [int(i) for i in inventory_ids]
    for name, when in (("start_date", start), ("end_date", end)):
        if when is not None:
            body[name] = _utc(when)
    return body


def _utc(when: datetime) -> str:
    aware = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
