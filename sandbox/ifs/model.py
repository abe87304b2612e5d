"""The served projections: this sandbox's own definition of the tenant.

Every name here is the sandbox's, written from the API documents, never
taken from the connector, so a name the connector gets wrong is answered
the way a tenant would (404, an unknown property, a missing `$metadata`
entry). Confirmed names and fields (CustomerOrderHandling,
InventoryPartInStockHandling, PurchaseOrderSet) follow ifs-cloud.md §3, §5,
§6 and ifs-entity-fields.json. The fulfillment voucher, RMA,
purchase-receipt, external-stock-level, external-inventory-activity and
part-count sets and actions, the order line cancellation action, the
`Cf_Shipbob_Order_Id` custom field and the purchase-order line navigation are
**stand-in inventions** (§10), named as the connector's mapping
defaults expect. A renamed tenant (`tenant.py`) serves any of these names
under another.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.ifs import activity, crud, inventory, orders, purchasing, returns
from sandbox.ifs.edm import (
    BOOL,
    DATE,
    DECIMAL,
    DTO,
    STRING,
    Action,
    ComplexType,
    EntitySet,
    EntityType,
    EnumType,
    Navigation,
    Projection,
    Prop,
)
from sandbox.ifs.tenant import TenantRenames, rename

_ORDER_STATES = ("Planned", "Released", "Reserved", "PartiallyDelivered", "Delivered",
                 "Cancelled", "Invoiced")
_RMA_STATES = ("Planned", "Released", "Received", "Cancelled")


def P(name: str, type_: str = STRING, flags: str = "", **kwargs) -> Prop:
    """flags: k key, s server-assigned key, i insertable, u updatable,
    n not nullable."""
    return Prop(name, type_, key="k" in flags or "s" in flags,
                insertable=("i" in flags or "k" in flags) and "s" not in flags,
                updatable="u" in flags, nullable="n" not in flags and "k" not in flags, **kwargs)


def E(name: str, enum: EnumType, flags: str = "") -> Prop:
    return P(name, enum.name, flags, enum=enum)


@dataclass
class Model:
    projections: dict[str, Projection]

    def find_sets(self, name: str) -> list[tuple[Projection, EntitySet]]:
        """Sets by wire name (or LU name), across projections: for test hooks."""
        return [(projection, entity_set)
                for projection in self.projections.values()
                for entity_set in projection.sets.values()
                if name in (entity_set.name, entity_set.type.name)]


def build_model(renames: TenantRenames | None = None, company: str = "10",
                date_entered_type: str = DTO) -> Model:
    """The default tenant, or a renamed one. `date_entered_type`:
    Edm.DateTimeOffset, or Edm.Date as some tenants have it."""

    # ------------------------------------------------------------- enums
    order_state = EnumType("CustomerOrderState", _ORDER_STATES)
    line_state = EnumType("CustomerOrderLineState", _ORDER_STATES)
    yes_no = EnumType("GenYesNo", ("Yes", "No"))
    part_type = EnumType("SalesPartType", ("InventoryPart", "NonInventoryPart", "PackagePart"))
    voucher_state = EnumType("FulfillmentVoucherState", ("Shipped", "Delivered"))
    rma_state = EnumType("ReturnMaterialState", _RMA_STATES)
    rma_line_state = EnumType("ReturnMaterialLineState", _RMA_STATES)
    return_action = EnumType("ReturnMaterialAction", ("Restock", "Quarantine", "Dispose"))
    po_state = EnumType("PurchaseOrderState",
                        ("Planned", "Released", "Received", "Closed", "Cancelled"))
    po_line_state = EnumType("PurchaseOrderLineState",
                             ("Planned", "Released", "Arrived", "Received", "Closed", "Cancelled"))
    receipt_state = EnumType("PurchaseReceiptState", ("Received", "Cancelled"))

    # ---------------------------------------------------- customer orders
    line = EntityType("CustomerOrderLine", [
        P("OrderNo", flags="k"), P("LineNo", flags="k"), P("RelNo", flags="k"),
        P("LineItemNo", DECIMAL, "k"), P("Contract", flags="i"), P("Company"),
        P("CustomerNo"), P("CatalogNo", flags="i"), P("CatalogDesc", flags="iu"),
        E("CatalogType", part_type, "i"), P("PartNo", flags="i"),
        P("ConfigurationId", flags="i", default="*"), P("SalesUnitMeas", flags="i"),
        P("BuyQtyDue", DECIMAL, "iu"), P("DesiredQty", DECIMAL, "i"),
        P("QtyShipped", DECIMAL), P("QtyReturned", DECIMAL), P("QtyInvoiced", DECIMAL),
        P("SaleUnitPrice", DECIMAL, "iu"), P("ShipViaCode", flags="iu"),
        P("ShipAddrNo", flags="iu"), P("WantedDeliveryDate", DTO, "iu"),
        P("RealShipDate", DATE), E("Objstate", line_state), P("CancelReason"),
    ], create=orders.create_line)

    order_props = [
        P("OrderNo", flags="k"), P("Contract", flags="i"), P("Company"),
        P("CustomerNo", flags="i"), P("CustomerPoNo", flags="iu"), P("CustRef", flags="iu"),
        P("ExternalRef", flags="iu"), P("BillAddrNo", flags="iu"), P("ShipAddrNo", flags="iu"),
        P("DeliveryCountryCode"), P("CurrencyCode", flags="i"), P("ShipViaCode", flags="iu"),
        P("DeliveryTerms", flags="iu"), P("PayTermId", flags="iu"), P("AuthorizeCode", flags="iu"),
        P("OrderId", flags="i"), P("DateEntered", date_entered_type),
        P("WantedDeliveryDate", DTO, "iu"),
        E("Objstate", order_state),
        # The custom field (Cf_ prefix) the connector writes the ShipBob order id into.
        P("Cf_Shipbob_Order_Id", flags="iu"),
    ]
    fulfillment_line = ComplexType("FulfillmentLine", [
        P("LineNo", flags="n"), P("RelNo", flags="n"), P("LineItemNo", DECIMAL, "n"),
        P("Qty", DECIMAL, "n")])
    cancel_line = ComplexType("CancelLine", [
        P("LineNo", flags="n"), P("RelNo", flags="n"), P("LineItemNo", DECIMAL, "n"),
        P("Qty", DECIMAL, "n")])
    order = EntityType(
        "CustomerOrder", order_props,
        navigations=_navs(Navigation("OrderLinesArray", line, (("OrderNo", "OrderNo"),))),
        actions=_actions(Action("CustomerOrder_RegisterFulfillment", [
            P("ExternalRef", flags="n"), P("ShipmentRef"), P("Carrier"), P("TrackingNo"),
            P("TrackingUrl"), P("ShipDate", DATE, "n"),
            P("Lines", "Collection", "n", complex=fulfillment_line),
        ], STRING, orders.register_fulfillment),
            # Cancels quantities of order lines (a stand-in invention like the
            # delivery action: no public IFS API for it).
            Action("CustomerOrder_CancelLines", [
                P("CancelReason"), P("Lines", "Collection", "n", complex=cancel_line),
            ], None, orders.cancel_lines)),
        create=orders.create_order, update=orders.update_order, delete=orders.delete_order)

    address = EntityType("CustomerOrderAddress", [
        P("OrderNo", flags="k"), E("AddrFlag", yes_no), P("Name"), P("Address1"), P("Address2"),
        P("City"), P("State"), P("ZipCode"), P("Country"), P("EmailAddress"), P("PhoneNo"),
    ])

    # ------------------------------------------------- fulfillment voucher
    # Its lines are entities behind a collection navigation, so (as in IFS,
    # ifs-cloud.md §8) a read of the voucher set never carries them.
    voucher_line = EntityType("FulfillmentVoucherLine", [
        P("VoucherNo", flags="k"), P("VoucherLineNo", DECIMAL, "k"),
        P("OrderNo"), P("LineNo"), P("RelNo"), P("LineItemNo", DECIMAL),
        P("Qty", DECIMAL),
    ])
    voucher = EntityType("FulfillmentVoucher", [
        P("VoucherNo", flags="k"), P("OrderNo"), P("Contract"),
        P("ExternalRef"), P("ShipmentRef"), P("Carrier", flags="u"), P("TrackingNo", flags="u"),
        P("TrackingUrl", flags="u"), P("ShipDate", DATE), P("DeliveredDate", DATE, "u"),
        P("DateCreated", DTO), E("Objstate", voucher_state),
    ], navigations=_navs(Navigation("FulfillmentVoucherLineArray", voucher_line,
                                    (("VoucherNo", "VoucherNo"),))),
        update=orders.update_voucher)

    # ---------------------------------------------------------------- RMA
    rma_line = EntityType("ReturnMaterialLine", [
        P("RmaNo", DECIMAL, "s"), P("RmaLineNo", DECIMAL, "s"),
        P("OrderNo", flags="i"), P("LineNo", flags="i"), P("RelNo", flags="i"),
        P("LineItemNo", DECIMAL, "i"), P("PartNo", flags="i"), P("Contract"),
        P("QtyToReturn", DECIMAL, "i"), P("QtyReceived", DECIMAL),
        E("ReturnAction", return_action, "i"), E("Objstate", rma_line_state),
    ], create=returns.create_rma_line)
    rma = EntityType(
        "ReturnMaterial", [
            P("RmaNo", DECIMAL, "s"), P("OrderNo", flags="i"), P("CustomerNo"),
            P("Contract", flags="i"), P("ExternalRef", flags="iu"),
            P("ReturnReasonCode", flags="iu"), P("Notes", flags="iu"), P("DateRequested", DATE),
            P("ReceivedDate", DATE), E("Objstate", rma_state),
        ],
        navigations=_navs(Navigation("ReturnMaterialLineArray", rma_line, (("RmaNo", "RmaNo"),))),
        actions=_actions(
            # IFS releases an RMA before receipt (§6, AboutRMA).
            Action("ReturnMaterial_Release", [], None, returns.release_rma),
            Action("ReturnMaterial_Receive", [], None, returns.receive_rma)),
        create=returns.create_rma, update=returns.update_rma)

    # ---------------------------------------------------------- purchasing
    po_line = EntityType("PurchaseOrderLine", [
        P("OrderNo", flags="k"), P("LineNo", flags="k"), P("ReleaseNo", flags="k"), P("PartNo"),
        P("Description"), P("Contract"), P("BuyQtyDue", DECIMAL), P("QtyArrived", DECIMAL),
        P("BuyUnitMeas"), P("PlannedReceiptDate", DATE), E("Objstate", po_line_state),
    ])
    po = EntityType("PurchaseOrder", [
        P("OrderNo", flags="k"), P("Contract"), P("VendorNo"), E("Objstate", po_state),
        P("WantedReceiptDate", DATE), P("DateEntered", DTO), P("Notes"),
    ], navigations=_navs(Navigation("PurchaseOrderLineArray", po_line, (("OrderNo", "OrderNo"),))))
    receipt = EntityType("PurchaseReceipt", [
        P("ReceiptNo", DECIMAL, "s"), P("OrderNo", flags="in"), P("LineNo", flags="in"),
        P("ReleaseNo", flags="in"), P("PartNo"), P("Contract"), P("QtyArrived", DECIMAL, "in"),
        P("ExternalRef", flags="i"), P("ReceiptDate", DATE, "i"), P("LocationNo"),
        P("DateCreated", DTO), E("Objstate", receipt_state),
    ], create=purchasing.create_receipt)

    # --------------------------------------------------------------- stock
    stock = EntityType("InventoryPartInStock", [
        P("Contract", flags="k"), P("PartNo", flags="k"), P("ConfigurationId", flags="k"),
        P("LocationNo", flags="k"), P("LotBatchNo", flags="k"), P("SerialNo", flags="k"),
        P("EngChgLevel", flags="k"), P("WaivDevRejNo", flags="k"),
        P("ActivitySeq", DECIMAL, "k"), P("HandlingUnitId", DECIMAL, "k"),
        P("QtyOnhand", DECIMAL), P("QtyReserved", DECIMAL),
        P("QtyInTransit", DECIMAL, default=0), P("AvailableQty", DECIMAL), P("UoM"),
        P("Warehouse"), P("BayNo", default="-"), P("RowNo", default="-"),
        P("TierNo", default="-"), P("BinNo", default="-"), P("LocationDescription"),
        P("LocationTypeDb", default="PICKING"), P("ReceiptDate", DTO), P("ExpirationDate", DATE),
        P("LastActivityDate", DTO), P("FreezeFlagDb", BOOL, default=False),
        P("PartOwnershipDb", default="COMPANY OWNED"), P("ConditionCode"),
        P("AvailabilityControlId"), P("Company", default=company),
    ])
    external_level = EntityType("ExternalStockLevel", [
        P("Contract", flags="k"), P("PartNo", flags="k"), P("Sku", flags="iu"),
        P("OnHandQty", DECIMAL, "iu"), P("CommittedQty", DECIMAL, "iu"),
        P("FulfillableQty", DECIMAL, "iu"), P("AwaitingQty", DECIMAL, "iu"),
        P("PickedQty", DECIMAL, "iu"), P("LastSyncDate", DTO, "iu"),
    ], create=crud.plain_create("ExternalStockLevel", "External Stock Level"),
        update=crud.plain_update("ExternalStockLevel"),
        delete=crud.plain_delete("ExternalStockLevel"))
    # A 3PL's movement log, one record per warehouse event (stand-in, see activity.py).
    inventory_activity = EntityType("ExternalInventoryActivity", [
        P("ActivityNo", DECIMAL, "s"), P("ExternalRef", flags="in"), P("Contract", flags="in"),
        P("PartNo", flags="i"), P("Sku", flags="i"), P("EventCategory", flags="i"),
        P("QtyChange", DECIMAL, "in"), P("CommittedQtyChange", DECIMAL, "i"),
        P("EventDate", DTO, "i"), P("SourceRefType", flags="i"), P("SourceRef", flags="i"),
        P("DateCreated", DTO),
    ], create=activity.create_activity)

    # A part counted at a site: its on-hand sum, whose ETag moves with the
    # stock; the count action posts the difference as one adjustment.
    part_count = EntityType("InventoryPartCount", [
        P("Contract", flags="k"), P("PartNo", flags="k"), P("QtyOnhand", DECIMAL), P("UoM"),
        P("LastCountedQty", DECIMAL), P("LastCountDate", DTO), P("LastCountRef"),
    ], actions=_actions(Action("InventoryPartCount_ReportCount", [
        P("CountedQty", DECIMAL, "n"), P("CountRef"), P("Note"),
    ], None, inventory.report_count)))

    placement = [
        ("CustomerOrderHandling", "CustomerOrderSet", order),
        ("CustomerOrderHandling", "CustomerOrderLineSet", line),
        ("CustomerOrderHandling", "CustomerOrderAddresses", address),
        ("FulfillmentVoucherHandling", "FulfillmentVoucherSet", voucher),
        ("ReturnMaterialAuthorizationHandling", "ReturnMaterialSet", rma),
        ("PurchaseOrderHandling", "PurchaseOrderSet", po),
        ("PurchaseReceiptHandling", "PurchaseReceiptSet", receipt),
        ("InventoryPartInStockHandling", "InventoryPartInStockSet", stock),
        ("ExternalStockLevelHandling", "ExternalStockLevelSet", external_level),
        ("ExternalInventoryActivityHandling", "ExternalInventoryActivitySet", inventory_activity),
        ("InventoryPartCountHandling", "InventoryPartCountSet", part_count),
    ]
    projections: dict[str, Projection] = {}
    for projection_name, set_name, etype in placement:
        projection = projections.setdefault(projection_name, Projection(projection_name, {}))
        projection.sets[set_name] = EntitySet(set_name, etype)
    served = rename(list(projections.values()), renames or TenantRenames())
    return Model({projection.name: projection for projection in served})


def _navs(*navigations: Navigation) -> dict[str, Navigation]:
    return {nav.name: nav for nav in navigations}


def _actions(*actions: Action) -> dict[str, Action]:
    return {action.name: action for action in actions}
