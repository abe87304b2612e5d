"""Stock levels per inventory item and fulfillment center, and the inventory-level reads.

The buckets move with the flows (shipbob.md §5):
- an order commits stock at its shipment's FC, shipping takes it off on-hand and committed;
- a shipment in Exception is not allocated: its quantity leaves committed for exception;
- a WRO adds its expected quantity to awaiting, receiving moves it out of awaiting and
  stowing puts it on hand; a return restocked goes on hand.
fulfillable = on_hand - committed (never below 0); sellable = fulfillable - exception;
backordered = exception - fulfillable (never below 0).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint

from . import paging
from .web import arg, arg_bool, arg_int, arg_ints, world

bp = Blueprint("inventory", __name__)


@dataclass
class Level:
    on_hand: int = 0
    committed: int = 0
    awaiting: int = 0
    exception: int = 0
    internal_transfer: int = 0

    @property
    def fulfillable(self) -> int:
        return max(0, self.on_hand - self.committed)


class Levels:
    def __init__(self):
        self._by_item: dict[int, dict[int, Level]] = {}

    def at(self, inventory_id: int, fc_id: int) -> Level:
        return self._by_item.setdefault(inventory_id, {}).setdefault(fc_id, Level())

    def per_fc(self, inventory_id: int) -> dict[int, Level]:
        return self._by_item.get(inventory_id, {})

    def total(self, inventory_id: int) -> Level:
        out = Level()
        for lv in self.per_fc(inventory_id).values():
            out.on_hand += lv.on_hand
            out.committed += lv.committed
            out.awaiting += lv.awaiting
            out.exception += lv.exception
            out.internal_transfer += lv.internal_transfer
        return out

    def total_view(self, variant) -> dict:
        fcs = self.per_fc(variant.inventory_id).values()
        t = self.total(variant.inventory_id)
        fulfillable = sum(lv.fulfillable for lv in fcs)
        return {
            "inventory_id": variant.inventory_id, "sku": variant.sku, "name": variant.name,
            "total_fulfillable_quantity": fulfillable,
            "total_on_hand_quantity": t.on_hand,
            "total_committed_quantity": t.committed,
            "total_sellable_quantity": max(0, fulfillable - t.exception),
            "total_awaiting_quantity": t.awaiting,
            "total_exception_quantity": t.exception,
            "total_internal_transfer_quantity": t.internal_transfer,
            "total_backordered_quantity": max(0, t.exception - fulfillable),
        }

    def locations_view(self, variant, fcs, location_id: int | None) -> dict:
        locations = []
        for fc in fcs:
            if location_id is not None and fc.id != location_id:
                continue
            lv = self.per_fc(variant.inventory_id).get(fc.id, Level())
            locations.append({
                "location_id": fc.id, "name": fc.name,
                "fulfillable_quantity": lv.fulfillable, "on_hand_quantity": lv.on_hand,
                "committed_quantity": lv.committed, "awaiting_quantity": lv.awaiting,
                "internal_transfer_quantity": lv.internal_transfer,
            })
        return {"inventory_id": variant.inventory_id, "sku": variant.sku, "name": variant.name,
                "locations": locations}


def _matching_variants(w):
    """Variants filtered by InventoryIds, SearchBy (inventory id exact, name/SKU partial) and
    IsActive; ids go through the index and no filter is the catalog's own list, so paging
    50,000 SKUs costs a slice per page."""
    ids = arg_ints("InventoryIds")
    search = (arg("SearchBy") or "").lower()
    active = arg_bool("IsActive")
    if ids is not None:
        pool = [v for v in map(w.catalog.find_inventory, sorted(ids)) if v is not None]
    else:
        pool = w.catalog.variant_list
    if not search and active is None:
        return pool
    return [v for v in pool
            if (not search or search == str(v.inventory_id) or search in v.name.lower()
                or search in v.sku.lower())
            and (active is None or (v.status == "Active") == active)]


@bp.get("/inventory-level")
def list_levels():
    w = world()
    size = arg_int("PageSize", 50, 1, 250)
    with w.lock:
        variants = _matching_variants(w)
        return paging.cursor_page(variants, size, w.levels.total_view)


@bp.get("/inventory-level/locations")
def list_level_locations():
    w = world()
    size = arg_int("PageSize", 50, 1, 250)
    location_id = arg_int("LocationId")
    fcs = w.config.fulfillment_centers
    with w.lock:
        variants = _matching_variants(w)
        return paging.cursor_page(
            variants, size, lambda v: w.levels.locations_view(v, fcs, location_id))


@bp.get("/inventory-level/<int:inventory_id>")
def get_level(inventory_id: int):
    w = world()
    with w.lock:
        return w.levels.total_view(w.catalog.variant_by_inventory(inventory_id))


@bp.get("/inventory-level/<int:inventory_id>/locations")
def get_level_locations(inventory_id: int):
    w = world()
    with w.lock:
        variant = w.catalog.variant_by_inventory(inventory_id)
        return w.levels.locations_view(variant, w.config.fulfillment_centers, None)
