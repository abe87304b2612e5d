"""The per-merchant mapping: sites, ship-vias, parts and the IFS names used
(the `ifs:` section, connector/ifs/names/)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from connector.errors import ConfigError
from connector.ifs.names import IfsNames


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    # What the inventory sync does with a stock difference that remains once
    # the documents still on their way are accounted for: `report` it (an
    # attention item per site, in the drift report with its age, until it is
    # gone), or `adjust` IFS to ShipBob's count (a counted adjustment through
    # the stock gateway's count posting, ifs.stock.count_*).
    inventory_drift: Literal["report", "adjust"] = "report"
    # WRO defaults (shipbob.md §5: Receiving.PackageType / PackingType enums).
    wro_package_type: Literal["Package", "Pallet", "FloorLoadedContainer"] = "Package"
    wro_box_packaging_type: Literal["EverythingInOneBox", "OneSkuPerBox", "MultipleSkuPerBox"] = (
        "EverythingInOneBox"
    )
    # A shipment cancelled at ShipBob whose lines IFS still has open:
    # `cancel_in_ifs` cancels those units in IFS (ifs.customer_order.line_cancel),
    # `attention` parks the order's shipment item naming them for a person.
    on_shipbob_cancel: Literal["cancel_in_ifs", "attention"] = "attention"
    # An order needing more than ShipBob can fulfil at its fulfillment center
    # (connector/flows/stock_shortage.py): `flag` pushes it and raises an
    # attention item naming SKU, center, need and available; `hold` parks it
    # unpushed until stock arrives (a WRO receipt, the inventory sync, a
    # replay); `off` skips the check and its stock look-ups.
    shortage: Literal["flag", "hold", "off"] = "flag"
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


def _problem(error: ErrorDetails) -> str:
    """`key.path: what is wrong` of one pydantic error."""
    key_path = ".".join(str(part) for part in error["loc"]) or "(top level)"
    return f"{key_path}: " + ("unknown key" if error["type"] == "extra_forbidden" else error["msg"])
