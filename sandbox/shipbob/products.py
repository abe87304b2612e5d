"""Products, their variants and the inventory item each variant owns (shipbob.md §5).

The SKU lives on the variant; creating a variant creates exactly one inventory item, whose
`inventory_id` is what WROs and returns use. IFS PartNo == SKU under the default mapping,
so seeding draws part numbers from the shared `sandbox.catalog`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from flask import Blueprint

from sandbox.catalog import Part, catalog

from . import paging, timeutil
from .errors import not_found, validation_problem
from .web import arg, arg_date, arg_int, arg_ints, json_body, world

bp = Blueprint("products", __name__)

PRODUCT_TYPES = {1: "Regular", 2: "Bundle"}


@dataclass
class Variant:
    id: int
    product_id: int
    sku: str
    name: str
    inventory_id: int
    created_on: datetime
    status: str = "Active"
    gtin: str | None = None
    upc: str | None = None
    barcodes: list[str] = field(default_factory=list)
    is_lot: bool = False


@dataclass
class Product:
    id: int
    name: str
    type: str
    created_on: datetime
    updated_on: datetime
    variants: list[Variant] = field(default_factory=list)


class Catalog:
    def __init__(self, ids):
        self._ids = ids
        self.products: dict[int, Product] = {}
        # Lists in id order, so an unfiltered page is a slice, not a scan (50,000 SKUs).
        self.product_list: list[Product] = []
        self.variant_list: list[Variant] = []
        self._by_sku: dict[str, Variant] = {}
        self._by_inventory: dict[int, Variant] = {}

    def add(self, name: str, type_name: str, variants: list[dict],
            when: datetime | None = None) -> Product:
        when = when or timeutil.now()
        p = Product(self._ids.next("product"), name, type_name, when, when)
        for spec in variants:
            v = Variant(id=self._ids.next("variant"), product_id=p.id, sku=spec["sku"],
                        name=spec.get("name") or name, inventory_id=self._ids.next("inventory"),
                        created_on=when, gtin=spec.get("gtin"), upc=spec.get("upc"),
                        barcodes=[b["value"] for b in spec.get("barcodes") or [] if b.get("value")],
                        is_lot=bool((spec.get("lot_information") or {}).get("is_lot")))
            p.variants.append(v)
            self.variant_list.append(v)
            self._by_sku[v.sku] = v
            self._by_inventory[v.inventory_id] = v
        self.products[p.id] = p
        self.product_list.append(p)
        return p

    def by_sku(self, sku: str) -> Variant | None:
        return self._by_sku.get(sku)

    def find_inventory(self, inventory_id: int) -> Variant | None:
        return self._by_inventory.get(inventory_id)

    def variant_by_inventory(self, inventory_id: int) -> Variant:
        v = self._by_inventory.get(inventory_id)
        if v is None:
            raise not_found("Inventory item", inventory_id)
        return v

    def products_of(self, variants) -> list[Product]:
        """The products owning these variants (None skipped), once each, in id order."""
        ids = sorted({v.product_id for v in variants if v is not None})
        return [self.products[i] for i in ids]

    def view(self, p: Product, levels) -> dict:
        return {
            "id": p.id, "name": p.name, "type": p.type, "user_id": world().config.user_id,
            "created_on": timeutil.iso(p.created_on), "updated_on": timeutil.iso(p.updated_on),
            "taxonomy": None,
            "variants": [self._variant_view(v, levels) for v in p.variants],
        }

    @staticmethod
    def _variant_view(v: Variant, levels) -> dict:
        return {
            "id": v.id, "sku": v.sku, "name": v.name, "status": v.status,
            "inventory": {"inventory_id": v.inventory_id,
                          "on_hand_qty": levels.total(v.inventory_id).on_hand},
            "gtin": v.gtin, "upc": v.upc,
            "barcodes": [{"value": b, "sticker_url": None} for b in v.barcodes],
            "is_digital": False, "is_image_uploaded": False,
            "lot_information": {"is_lot": v.is_lot, "minimum_shelf_life_days": None},
            "created_on": timeutil.iso(v.created_on), "updated_on": timeutil.iso(v.created_on),
            "channel_metadata": [], "bundle_definition": [], "associated_bundles": [],
            "merge_children": [], "reviews_pending": [],
        }


def seed(w, skus: list[str] | None = None, count: int = 0, seed_value: int = 1,
         levels: dict | None = None, level_range: tuple[int, int] = (0, 200)) -> dict:
    """Create products for SKUs (or `count` catalog parts) with on-hand stock per FC.

    Fast enough for 50,000 SKUs: no validation, one timestamp, plain dict inserts. Existing
    SKUs keep their product; their levels change only where `levels` names them.
    """
    parts = catalog(count, seed_value) if count else [Part(s, s) for s in skus or []]
    rng = random.Random(seed_value)
    levels = levels or {}
    fc_ids = [fc.id for fc in w.config.fulfillment_centers]
    when = timeutil.now()
    created = 0
    inventory_ids = {}
    for part in parts:
        v = w.catalog.by_sku(part.part_no)
        explicit = levels.get(part.part_no)
        if v is None:
            v = w.catalog.add(part.description, "Regular", [{"sku": part.part_no}], when).variants[0]
            created += 1
            per_fc = explicit or {fc: rng.randint(*level_range) for fc in fc_ids}
        else:
            per_fc = explicit or {}
        for fc, qty in per_fc.items():
            w.levels.at(v.inventory_id, int(fc)).on_hand = int(qty)
        inventory_ids[v.sku] = v.inventory_id
    return {"created": created, "existing": len(parts) - created, "inventory_ids": inventory_ids}


# -- routes ---------------------------------------------------------------------------------

@bp.post("/product")
def create_product():
    w = world()
    body = json_body()
    errors = w.validator.request_errors("Products.CreateProductRequestModelV5", body)
    if not errors:
        errors = _business_errors(w, body)
    if errors:
        raise validation_problem(errors)
    with w.lock:
        p = w.catalog.add(body["name"], PRODUCT_TYPES[body.get("type_id") or 1], body["variants"])
        return w.catalog.view(p, w.levels), 201


def _business_errors(w, body) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not (body.get("name") or "").strip():
        errors["name"] = ["The name field is required."]
    variants = body.get("variants") or []
    if not variants:
        errors["variants"] = ["A product needs at least one variant."]
    seen = set()
    for i, spec in enumerate(variants):
        sku = (spec.get("sku") or "").strip()
        if not sku:
            errors[f"variants[{i}].sku"] = ["The sku field is required."]
        elif sku in seen or w.catalog.by_sku(sku) is not None:
            errors[f"variants[{i}].sku"] = [f"SKU '{sku}' already exists."]
        seen.add(sku)
    return errors


@bp.get("/product")
def list_products():
    w = world()
    size = arg_int("PageSize", 50, 1, 250)
    select = _selector()
    with w.lock:
        return paging.cursor_page(select(w.catalog), size, lambda p: w.catalog.view(p, w.levels))


def _selector():
    """Products matching the GET /product query, parsed once per request. SKU and
    InventoryId go through the indexes; no filter at all is the catalog as it is."""
    sku = arg("SKU")
    skus = (sku[4:].split(",") if sku.lower().startswith("any:") else [sku]) if sku else None
    inventory_ids, variant_ids, product_ids = (arg_ints(n) for n in ("InventoryId", "VariantId", "ProductId"))
    name = (arg("Name") or "").lower()
    barcode = arg("Barcode")
    search = (arg("Search") or "").lower()
    since = arg_date("LastUpdatedTimestamp")

    def keep(p: Product) -> bool:
        vs = p.variants
        return ((skus is None or any(v.sku in skus for v in vs))
                and (inventory_ids is None or any(v.inventory_id in inventory_ids for v in vs))
                and (variant_ids is None or any(v.id in variant_ids for v in vs))
                and (product_ids is None or p.id in product_ids)
                and (not name or name in p.name.lower() or any(name in v.name.lower() for v in vs))
                and (not barcode or any(barcode in v.barcodes for v in vs))
                and (not search or search in p.name.lower() or search == str(p.id)
                     or any(search in v.sku.lower() or search == str(v.inventory_id) for v in vs))
                and (since is None or p.updated_on >= since))

    def select(catalog: Catalog) -> list[Product]:
        if skus is not None:
            pool = catalog.products_of(catalog.by_sku(s) for s in skus)
        elif inventory_ids is not None:
            pool = catalog.products_of(catalog.find_inventory(i) for i in inventory_ids)
        elif any((variant_ids, product_ids, name, barcode, search, since)):
            pool = catalog.product_list
        else:
            return catalog.product_list
        return [p for p in pool if keep(p)]
    return select


@bp.get("/product/<int:product_id>")
def get_product(product_id: int):
    w = world()
    with w.lock:
        p = w.catalog.products.get(product_id)
        if p is None:
            raise not_found("Product", product_id)
        return w.catalog.view(p, w.levels)
