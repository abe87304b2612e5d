"""The per-merchant mapping: sites, ship-vias, parts and the IFS names used.

IFS projection, entity-set, field and action names differ between releases and
tenants, and the delivery, RMA, receipt and supply-planning ones are not
publicly documented (shared/api/ifs-cloud.md §10). Every name the connector
sends to IFS therefore lives here, with defaults that match the local IFS
sandbox. The defaults marked "stand-in invention" must be checked against the
tenant's $metadata (`ifs-shipbob doctor` does that).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connector.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerOrderNames(_Strict):
    """Confirmed from public code calling real tenants."""

    projection: str = "CustomerOrderHandling"
    order_set: str = "CustomerOrderSet"
    line_set: str = "CustomerOrderLineSet"
    lines_nav: str = "OrderLinesArray"
    address_set: str = "CustomerOrderAddresses"  # seen once in public code
    state_enum: str = "CustomerOrderState"
    released_state: str = "Released"
    cancelled_state: str = "Cancelled"
    # Where the ShipBob order id is written back (a custom field, Cf_ prefix).
    shipbob_id_field: str = "Cf_Shipbob_Order_Id"
    changed_field: str = "DateEntered"


class FulfillmentNames(_Strict):
    """Stand-in invention: a bound, ETag-protected action on the customer order
    that registers a delivery (raises QtyShipped) and creates a voucher that is
    then updated by PATCH for tracking and delivery."""

    action: str = "CustomerOrder_RegisterFulfillment"
    voucher_projection: str = "FulfillmentVoucherHandling"
    voucher_set: str = "FulfillmentVoucherSet"
    voucher_key: str = "VoucherNo"
    # The voucher's lines: a collection navigation, so never in a collection
    # read (IFS expands one-to-one navigations only, ifs-cloud.md §8).
    voucher_lines_nav: str = "FulfillmentVoucherLineArray"
    voucher_line_qty_field: str = "Qty"


class ReturnNames(_Strict):
    """Projection name confirmed; sets, keys, states and the release and
    receive actions are stand-in inventions."""

    projection: str = "ReturnMaterialAuthorizationHandling"
    rma_set: str = "ReturnMaterialSet"
    rma_key: str = "RmaNo"
    lines_nav: str = "ReturnMaterialLineArray"
    receive_action: str = "ReturnMaterial_Receive"
    # IFS receives only a released RMA (ifs-cloud.md §6, AboutRMA): this bound
    # action runs before the receive unless the RMA is released already.
    # None turns the step off (a tenant that releases RMAs some other way).
    release_action: str | None = "ReturnMaterial_Release"
    state_enum: str = "ReturnMaterialState"
    state_field: str = "Objstate"
    released_state: str = "Released"
    received_state: str = "Received"


class PurchaseNames(_Strict):
    """PurchaseOrderSet is confirmed on /main/; the lines navigation and the
    receipt projection are stand-in inventions."""

    projection: str = "PurchaseOrderHandling"
    order_set: str = "PurchaseOrderSet"
    lines_nav: str = "PurchaseOrderLineArray"
    state_enum: str = "PurchaseOrderState"
    released_state: str = "Released"
    receipt_projection: str = "PurchaseReceiptHandling"
    receipt_set: str = "PurchaseReceiptSet"


class StockNames(_Strict):
    projection: str = "InventoryPartInStockHandling"
    stock_set: str = "InventoryPartInStockSet"
    quantity_field: str = "QtyOnhand"
    # Stand-in invention: where ShipBob's levels are written for supply planning.
    external_level_projection: str = "ExternalStockLevelHandling"
    external_level_set: str = "ExternalStockLevelSet"


class IfsNames(_Strict):
    prefix: str = "main"
    customer_order: CustomerOrderNames = CustomerOrderNames()
    fulfillment: FulfillmentNames = FulfillmentNames()
    returns: ReturnNames = ReturnNames()
    purchase: PurchaseNames = PurchaseNames()
    stock: StockNames = StockNames()


class Mapping(_Strict):
    """What differs per merchant. Unmapped values park work, never guess."""

    # IFS site (Contract) -> ShipBob fulfillment center id.
    sites: dict[str, int] = Field(default_factory=dict)
    # IFS ShipViaCode -> ShipBob shipping_method.
    ship_via: dict[str, str] = Field(default_factory=dict)
    # IFS PartNo/CatalogNo -> ShipBob SKU; parts not listed map to themselves
    # when `parts_map_to_themselves` is true.
    parts: dict[str, str] = Field(default_factory=dict)
    parts_map_to_themselves: bool = True
    order_type: str = "DTC"
    # IFS units of measure that count single items; stock in any other unit
    # is reported by the inventory sync as a UoM mismatch, never compared.
    each_units: list[str] = Field(default_factory=lambda: ["PCS", "EA", "EACH", "UNIT"])
    # WRO defaults (shipbob.md §5: Receiving.PackageType / PackingType enums).
    wro_package_type: Literal["Package", "Pallet", "FloorLoadedContainer"] = "Package"
    wro_box_packaging_type: Literal["EverythingInOneBox", "OneSkuPerBox", "MultipleSkuPerBox"] = (
        "EverythingInOneBox"
    )
    ifs: IfsNames = IfsNames()

    def sku_for(self, part_no: str) -> str | None:
        if part_no in self.parts:
            return self.parts[part_no]
        return part_no if self.parts_map_to_themselves else None

    @functools.cached_property
    def _part_by_sku(self) -> dict[str, str]:
        by_sku: dict[str, str] = {}
        for part, sku in self.parts.items():
            by_sku.setdefault(sku, part)  # two parts on one SKU: the first listed wins
        return by_sku

    def part_for(self, sku: str) -> str | None:
        return self._part_by_sku.get(sku, sku if self.parts_map_to_themselves else None)


def load_mapping(path: str | Path | None) -> Mapping:
    """Load the mapping file (YAML or JSON); the packaged default when None.

    Every problem is a ConfigError naming the file and the key path
    (`mapping.yaml: sites.S01: Input should be a valid integer`), since the
    person fixing it edits that file, not an environment variable."""
    source = Path(path) if path else Path(__file__).with_name("default_mapping.yaml")
    try:
        data = yaml.safe_load(source.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"MAPPING_FILE {source}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}: not valid YAML: {where}{problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the mapping must be a YAML mapping of keys, not {type(data).__name__}")
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(error) for error in exc.errors()]
        more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise ConfigError(f"{source}: " + "; ".join(problems[:3]) + more) from None


def _problem(error) -> str:
    """`key.path: what is wrong` of one pydantic error."""
    key_path = ".".join(str(part) for part in error["loc"]) or "(top level)"
    return f"{key_path}: " + ("unknown key" if error["type"] == "extra_forbidden" else error["msg"])
