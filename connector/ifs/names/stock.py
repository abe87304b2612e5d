"""Stock names: InventoryPartInStockHandling is confirmed; the external
stock-level set is a stand-in invention."""

from __future__ import annotations

from connector.ifs.names._base import Strict
from connector.ifs.needs import Needs

_STOCK_FIELDS = ("Contract", "PartNo", "UoM")
_LEVEL_FIELDS = ("Contract", "PartNo", "Sku", "OnHandQty", "CommittedQty", "FulfillableQty",
                 "AwaitingQty", "PickedQty", "LastSyncDate")


class StockNames(Strict):
    projection: str = "InventoryPartInStockHandling"
    stock_set: str = "InventoryPartInStockSet"
    quantity_field: str = "QtyOnhand"
    # Stand-in invention: where ShipBob's levels are written for supply planning.
    external_level_projection: str = "ExternalStockLevelHandling"
    external_level_set: str = "ExternalStockLevelSet"

    def declare(self, needs: Needs) -> None:
        needs.at(self.projection).entity_set(self.stock_set, props=(*_STOCK_FIELDS, self.quantity_field))
        if self.external_level_set and self.external_level_projection:
            needs.at(self.external_level_projection).entity_set(
                self.external_level_set, keys=("Contract", "PartNo"), props=_LEVEL_FIELDS)
