"""Inventory activity names: where ShipBob's inventory history (picks, stows,
receipts, adjustments, restocks) is recorded in IFS, one record per ShipBob
event. A stand-in invention: IFS documents no API for a third-party
warehouse's movement log, so every name here is configurable and `enabled:
false` turns the recording off."""

from __future__ import annotations

from connector.ifs.names._base import Strict
from connector.ifs.needs import Needs


class ActivityFields(Strict):
    """One recorded event: sent on create; `external_ref` is also filtered on."""

    # ShipBob's inventory_audit_event_id: what makes a recorded event found again.
    external_ref: str = "ExternalRef"
    site: str = "Contract"
    part_no: str = "PartNo"
    sku: str = "Sku"
    category: str = "EventCategory"  # ShipBob's event_category, as ShipBob names it
    qty_change: str = "QtyChange"  # net on-hand change at the fulfillment center
    committed_change: str = "CommittedQtyChange"
    event_date: str = "EventDate"
    source_type: str = "SourceRefType"  # ShipBob's primary_reference: OrderId, WroAndBox, ...
    source_ref: str = "SourceRef"


class InventoryActivityNames(Strict):
    # Off: the history is not read and nothing is recorded.
    enabled: bool = True
    projection: str = "ExternalInventoryActivityHandling"
    activity_set: str = "ExternalInventoryActivitySet"
    activity_key: str = "ActivityNo"
    activity: ActivityFields = ActivityFields()
    # How an event is recorded (an InventoryActivityPosting, connector/ifs/inventory_activity.py).
    posting: str = "connector.ifs.inventory_activity:ActivityRecord"

    def declare(self, needs: Needs) -> None:
        if not self.enabled:
            return
        needs.at(self.projection).entity_set(self.activity_set, keys=(self.activity_key,),
                                             props=self.activity.values())
