"""A renamed tenant: an IFS tenant whose names differ from the mapping's
defaults, and the mapping that names them.

Each `Rename` pairs what the IFS sandbox serves differently (a fragment of
its tenant definition, sandbox/ifs/tenant.py) with the matching change under
the mapping's `ifs:` section, and says what `doctor` names when the default
mapping meets this tenant. To cover another configurable name, add a Rename.

Only names the connector reads from the mapping everywhere the tests below
go (order poll and push, shipment vouchers and cancellations, reconcile,
doctor) are renamed.
Not yet: customer order header/line/address field names, which flows on main
still send literally, and the voucher's fields, which reconcile still reads
literally (their gateways make them configurable).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from connector import mapping
from sandbox.ifs.tenant import TenantRenames

DEFAULT_MAPPING = Path(mapping.__file__).with_name("default_mapping.yaml")


@dataclass(frozen=True)
class Rename:
    tenant: dict[str, Any]  # the sandbox's renames
    mapping: dict[str, Any]  # the matching change under the mapping's `ifs:`
    # What doctor says is missing under the default mapping (None: the
    # defaults do not need it, or a missing container is named instead).
    doctor: str | None


RENAMES = [
    # customer orders: poll, push and write-back
    Rename({"entity_sets": {"CustomerOrderLineSet": "CustomerOrderLines"}},
           {"customer_order": {"line_set": "CustomerOrderLines"}},
           "entity set CustomerOrderLineSet"),
    Rename({"entity_sets": {"CustomerOrderAddresses": "CustomerOrderAddressSet"}},
           {"customer_order": {"address_set": "CustomerOrderAddressSet"}},
           "entity set CustomerOrderAddresses"),
    Rename({"navigations": {"CustomerOrder": {"OrderLinesArray": "OrderLines"}}},
           {"customer_order": {"lines_nav": "OrderLines"}},
           "navigation OrderLinesArray on CustomerOrderSet"),
    Rename({"properties": {"CustomerOrder": {"Cf_Shipbob_Order_Id": "Cf_Sb_Order_Ref"}}},
           {"customer_order": {"shipbob_id_field": "Cf_Sb_Order_Ref"}},
           "property Cf_Shipbob_Order_Id on CustomerOrderSet"),
    Rename({"enum_types": {"CustomerOrderState": "CustOrderState"},
            "enum_members": {"CustomerOrderState": {"Released": "Approved", "Cancelled": "Canceled"}}},
           {"customer_order": {"state_enum": "CustOrderState", "released_state": "Approved",
                               "cancelled_state": "Canceled"}},
           "enum type CustomerOrderState"),
    Rename({"change_stamps": {"CustomerOrder": "LastChanged"}},
           {"customer_order": {"changed_field": "LastChanged"}},
           None),
    # fulfillment: the delivery action and the voucher
    Rename({"actions": {"CustomerOrder_RegisterFulfillment": "CustomerOrder_Deliver3pl"}},
           {"fulfillment": {"action": "CustomerOrder_Deliver3pl"}},
           "action CustomerOrder_RegisterFulfillment on CustomerOrderSet"),
    Rename({"properties": {"FulfillmentVoucher": {"VoucherNo": "DelnoteNo"},
                           "FulfillmentVoucherLine": {"VoucherNo": "DelnoteNo"}}},
           {"fulfillment": {"voucher_key": "DelnoteNo"}},
           "key VoucherNo on FulfillmentVoucherSet"),
    Rename({"properties": {"FulfillmentVoucherLine": {"Qty": "QtyDelivered"}}},
           {"fulfillment": {"voucher_line_qty_field": "QtyDelivered"}},
           "property Qty on FulfillmentVoucherSet/FulfillmentVoucherLineArray"),
    # The action's parameters and its line type's fields: under the default
    # mapping doctor names the (renamed) action itself, not its parameters.
    Rename({"action_parameters": {"CustomerOrder_RegisterFulfillment": {
                "ExternalRef": "ThirdPartyRef", "ShipmentRef": "ThirdPartyOrder", "Carrier": "CarrierId",
                "TrackingNo": "TrackingNumber", "TrackingUrl": "TrackingLink", "ShipDate": "DeliveryDate",
                "Lines": "DeliveryLines"}}},
           {"fulfillment": {"params": {
               "external_ref": "ThirdPartyRef", "shipment_ref": "ThirdPartyOrder", "carrier": "CarrierId",
               "tracking_no": "TrackingNumber", "tracking_url": "TrackingLink", "ship_date": "DeliveryDate",
               "lines": "DeliveryLines"}}},
           None),
    Rename({"properties": {"FulfillmentLine": {"LineNo": "LineNumber", "RelNo": "ReleaseNumber",
                                               "LineItemNo": "ItemNumber", "Qty": "QtyToDeliver"}}},
           {"fulfillment": {"line": {"line_no": "LineNumber", "rel_no": "ReleaseNumber",
                                     "line_item_no": "ItemNumber", "qty": "QtyToDeliver"}}},
           None),
    # line cancellation: what a ShipBob cancellation left open, cancelled in IFS
    Rename({"actions": {"CustomerOrder_CancelLines": "CustomerOrder_VoidLines"},
            "action_parameters": {"CustomerOrder_CancelLines": {"Lines": "VoidLines"}},
            "properties": {"CancelLine": {"LineNo": "LineNumber", "RelNo": "ReleaseNumber",
                                          "LineItemNo": "ItemNumber", "Qty": "QtyToVoid"}}},
           {"customer_order": {"line_cancel": {
               "action": "CustomerOrder_VoidLines", "params": {"lines": "VoidLines"},
               "line": {"line_no": "LineNumber", "rel_no": "ReleaseNumber", "line_item_no": "ItemNumber",
                        "qty": "QtyToVoid"}}}},
           "action CustomerOrder_CancelLines on CustomerOrderSet"),
    # returns, purchasing, stock: doctor only
    Rename({"properties": {"ReturnMaterial": {"RmaNo": "RmaNumber"},
                           "ReturnMaterialLine": {"RmaNo": "RmaNumber"}}},
           {"returns": {"rma_key": "RmaNumber"}},
           "key RmaNo on ReturnMaterialSet"),
    Rename({"enum_members": {"ReturnMaterialState": {"Released": "Approved"}}},
           {"returns": {"released_state": "Approved"}},
           "enum member ReturnMaterialState'Released'"),
    Rename({"actions": {"ReturnMaterial_Release": "ReturnMaterial_Approve"}},
           {"returns": {"release_action": "ReturnMaterial_Approve"}},
           "action ReturnMaterial_Release on ReturnMaterialSet"),
    Rename({"enum_types": {"PurchaseOrderState": "PurchaseOrderStatus"}},
           {"purchase": {"state_enum": "PurchaseOrderStatus"}},
           "enum type PurchaseOrderState"),
    Rename({"navigations": {"PurchaseOrder": {"PurchaseOrderLineArray": "PurchaseOrderLines"}}},
           {"purchase": {"lines_nav": "PurchaseOrderLines"}},
           "navigation PurchaseOrderLineArray on PurchaseOrderSet"),
    Rename({"projections": {"PurchaseReceiptHandling": "PurchaseArrivalHandling"}},
           {"purchase": {"receipt_projection": "PurchaseArrivalHandling"}},
           "missing projection PurchaseReceiptHandling"),
    Rename({"properties": {"InventoryPartInStock": {"QtyOnhand": "QtyOnHand"}}},
           {"stock": {"quantity_field": "QtyOnHand"}},
           "property QtyOnhand on InventoryPartInStockSet"),
    Rename({"entity_sets": {"ExternalStockLevelSet": "SupplyPlanningStockSet"}},
           {"stock": {"external_level_set": "SupplyPlanningStockSet"}},
           "entity set ExternalStockLevelSet"),
    Rename({"actions": {"InventoryPartCount_ReportCount": "InventoryPartCount_Counted"}},
           {"stock": {"count_action": "InventoryPartCount_Counted"}},
           "action InventoryPartCount_ReportCount on InventoryPartCountSet"),
    # inventory activity: doctor, and the flow records under the tenant's names
    Rename({"entity_sets": {"ExternalInventoryActivitySet": "ThirdPartyMovementSet"}},
           {"inventory_activity": {"activity_set": "ThirdPartyMovementSet"}},
           "entity set ExternalInventoryActivitySet"),
    Rename({"properties": {"ExternalInventoryActivity": {"ExternalRef": "Cf_Shipbob_Event",
                                                         "QtyChange": "Quantity"}}},
           {"inventory_activity": {"activity": {"external_ref": "Cf_Shipbob_Event", "qty_change": "Quantity"}}},
           None),
]


def tenant() -> TenantRenames:
    """The sandbox's definition of the renamed tenant."""
    return TenantRenames.model_validate(merged(rename.tenant for rename in RENAMES))


def mapping_data() -> dict[str, Any]:
    """The packaged default mapping with the renamed tenant's `ifs:` names."""
    data = yaml.safe_load(DEFAULT_MAPPING.read_text())
    data["ifs"] = merged([data.get("ifs") or {}, *(rename.mapping for rename in RENAMES)])
    return data


def write_mapping(path: Path, data: dict[str, Any] | None = None) -> Path:
    path.write_text(yaml.safe_dump(mapping_data() if data is None else data))
    return path


def doctor_failures() -> list[str]:
    """What doctor names when the default mapping meets this tenant."""
    return [rename.doctor for rename in RENAMES if rename.doctor]


def merged(fragments) -> dict[str, Any]:
    """Nested dicts merged; a key given twice with different values is a
    mistake in the fixture."""
    out: dict[str, Any] = {}
    for fragment in fragments:
        _merge_into(out, fragment, "")
    return out


def _merge_into(out: dict[str, Any], fragment: dict[str, Any], where: str) -> None:
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            _merge_into(out[key], value, f"{where}{key}.")
        elif key in out and out[key] != value:
            raise ValueError(f"renamed tenant fixture: {where}{key} given twice")
        else:
            out[key] = copy.deepcopy(value)
