"""A ShipBob inventory history event as the IFS-side activity record of the
site its fulfillment center is mapped from."""

from __future__ import annotations

from typing import Callable

from connector.errors import NeedsAttention
from connector.ifs.inventory_activity import InventoryActivity
from connector.shipbob.stock import HistoryEvent


def activity_of(event: HistoryEvent, site: str, part_for: Callable[[str], str | None]) -> InventoryActivity:
    """The record of `event` at `site`. A SKU the mapping cannot turn into an
    IFS part parks the fulfillment center's history there (nothing is skipped:
    after the mapping is fixed, a replay records it and goes on)."""
    part_no = None
    if event.sku is not None:
        part_no = part_for(event.sku)
        if part_no is None:
            raise NeedsAttention(f"inventory history of FC {event.facility_id}: event {event.id} "
                                 f"({event.category}) names SKU {event.sku!r}, which maps to no IFS part")
    source_type, source_ref = event.reference if event.reference is not None else (None, None)
    return InventoryActivity(
        external_ref=str(event.id), site=site, part_no=part_no, sku=event.sku, category=event.category,
        qty_change=float(event.quantity), committed_change=float(event.committed), event_date=event.at,
        source_type=source_type, source_ref=source_ref)
