"""Stock names: InventoryPartInStockHandling is confirmed; the external
stock-level set is a stand-in invention."""

from __future__ import annotations

from connector.ifs.names._base import Strict
from connector.ifs.needs import Needs


class StockRowFields(Strict):
    """A stock row: one per location, lot, serial and handling unit."""

    site: str = "Contract"
    part_no: str = "PartNo"
    uom: str = "UoM"
    # The rest of the row's natural key after site and part: paging orders by
    # the whole key, so every row lands on exactly one page.
    location_key: tuple[str, ...] = ("ConfigurationId", "LocationNo", "LotBatchNo", "SerialNo",
                                     "EngChgLevel", "WaivDevRejNo", "ActivitySeq", "HandlingUnitId")


class ExternalLevelFields(Strict):
    """ShipBob's levels per (site, part) for supply planning: read, then
    created or PATCHed with these fields."""

    site: str = "Contract"
    part_no: str = "PartNo"
    sku: str = "Sku"
    on_hand: str = "OnHandQty"
    committed: str = "CommittedQty"
    fulfillable: str = "FulfillableQty"
    awaiting: str = "AwaitingQty"
    picked: str = "PickedQty"
    last_sync: str = "LastSyncDate"


class StockNames(Strict):
    projection: str = "InventoryPartInStockHandling"
    stock_set: str = "InventoryPartInStockSet"
    quantity_field: str = "QtyOnhand"
    row: StockRowFields = StockRowFields()
    # Stand-in invention: where ShipBob's levels are written for supply planning.
    # An empty set or projection turns the write-back off.
    external_level_projection: str = "ExternalStockLevelHandling"
    external_level_set: str = "ExternalStockLevelSet"
    level: ExternalLevelFields = ExternalLevelFields()
    # How a level is written (a StockLevelPosting, connector/ifs/stock.py).
    posting: str = "connector.ifs.stock:ExternalStockLevelRecord"

    @property
    def levels_enabled(self) -> bool:
        return bool(self.external_level_set and self.external_level_projection)

    def declare(self, needs: Needs) -> None:
        row = self.row
        needs.at(self.projection).entity_set(
            self.stock_set, keys=(row.site, row.part_no, *row.location_key),
            props=(row.site, row.part_no, row.uom, self.quantity_field))
        if self.levels_enabled:
            needs.at(self.external_level_projection).entity_set(
                self.external_level_set, keys=(self.level.site, self.level.part_no), props=self.level.values())
