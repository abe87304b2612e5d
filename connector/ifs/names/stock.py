"""Stock names: InventoryPartInStockHandling is confirmed; the external
stock-level set and the part count (with its count action) are stand-in
inventions: IFS's counting API is not publicly documented."""

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


class PartCountFields(Strict):
    """A part's count record at a site, read by key right before a count is
    posted: its ETag guards the count, its on-hand quantity tells whether the
    stock moved since the inventory sync read it."""

    site: str = "Contract"
    part_no: str = "PartNo"
    on_hand: str = "QtyOnhand"


class CountActionParams(Strict):
    """The count action's parameters: the counted quantity (what IFS is to
    hold afterwards; IFS books the difference), a reference and a note."""

    counted_qty: str = "CountedQty"
    reference: str = "CountRef"
    note: str = "Note"


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
    # Stand-in invention: where ShipBob's on-hand is posted as a counted
    # adjustment (the mapping's `inventory_drift: adjust`): a bound action on
    # the part's count record at the site, under its ETag. An empty set or
    # projection turns counting off.
    count_projection: str = "InventoryPartCountHandling"
    count_set: str = "InventoryPartCountSet"
    count: PartCountFields = PartCountFields()
    count_action: str = "InventoryPartCount_ReportCount"
    count_params: CountActionParams = CountActionParams()
    # How a count is posted (a StockCountPosting, connector/ifs/stock.py).
    count_posting: str = "connector.ifs.stock:ReportCountedQuantity"

    @property
    def levels_enabled(self) -> bool:
        return bool(self.external_level_set and self.external_level_projection)

    @property
    def counting_enabled(self) -> bool:
        return bool(self.count_set and self.count_projection)

    def declare(self, needs: Needs) -> None:
        row = self.row
        needs.at(self.projection).entity_set(
            self.stock_set, keys=(row.site, row.part_no, *row.location_key),
            props=(row.site, row.part_no, row.uom, self.quantity_field))
        if self.levels_enabled:
            needs.at(self.external_level_projection).entity_set(
                self.external_level_set, keys=(self.level.site, self.level.part_no), props=self.level.values())
        if self.counting_enabled:
            counting = needs.at(self.count_projection)
            counting.entity_set(self.count_set, keys=(self.count.site, self.count.part_no),
                                props=(self.count.on_hand,))
            counting.action(self.count_set, self.count_action, self.count_params.values())
