"""Every IFS name the connector uses, checked against a projection's CSDL."""

from __future__ import annotations

from connector.ifs.name_check import Csdl, missing_names, required_names
from connector.ifs.names import IfsNames
from connector.mapping import Mapping
from sandbox.ifs.metadata import csdl
from sandbox.ifs.model import Model, build_model
from sandbox.ifs.tenant import TenantRenames
from tests import renamed_tenant

# The sandbox's own model of the tenant, built without the connector's names.
DEFAULT_MODEL = build_model()


def missing(names: IfsNames, model: Model = DEFAULT_MODEL) -> dict[str, list[str]]:
    found = {}
    for projection, needs in required_names(names).items():
        if projection not in model.projections:
            found[projection] = [f"missing projection {projection}"]  # as doctor says it
            continue
        gaps = missing_names(Csdl.parse(csdl(model.projections[projection])), needs)
        if gaps:
            found[projection] = [need.describe() for need in gaps]
    return found


def test_the_default_names_are_all_in_the_default_tenant():
    assert missing(IfsNames()) == {}


def test_a_bound_action_without_a_parameter_the_connector_sends_is_named():
    tenant = build_model(TenantRenames(action_parameters={
        "CustomerOrder_RegisterFulfillment": {"TrackingNo": "TrackingNumber"}}))
    assert missing(IfsNames(), tenant) == {
        "CustomerOrderHandling": ["action parameter TrackingNo of CustomerOrder_RegisterFulfillment"]}


def test_the_renamed_tenant_has_every_name_of_its_mapping_and_none_of_the_defaults():
    tenant = build_model(renamed_tenant.tenant())
    renamed = Mapping.model_validate(renamed_tenant.mapping_data()).ifs
    assert missing(renamed, tenant) == {}
    named = [gap for gaps in missing(IfsNames(), tenant).values() for gap in gaps]
    assert sorted(named) == sorted(renamed_tenant.doctor_failures())


def test_each_kind_of_wrong_name_is_named_once():
    wrong = IfsNames.model_validate({
        "customer_order": {"lines_nav": "OrderLineArray", "state_enum": "CustOrderState",
                           "shipbob_id_field": "Cf_Not_There"},
        "fulfillment": {"voucher_key": "VoucherId", "action": "CustomerOrder_Deliver"},
        "returns": {"rma_key": "RmaId", "lines_nav": "RmaLineArray", "released_state": "Releasd"},
        "purchase": {"receipt_set": "PurchaseReceiptLineSet"},
    })
    assert missing(wrong) == {
        "CustomerOrderHandling": [
            "property Cf_Not_There on CustomerOrderSet",
            "navigation OrderLineArray on CustomerOrderSet",
            "enum type CustOrderState",
            "action CustomerOrder_Deliver on CustomerOrderSet"],
        "FulfillmentVoucherHandling": ["key VoucherId on FulfillmentVoucherSet"],
        "ReturnMaterialAuthorizationHandling": [
            "key RmaId on ReturnMaterialSet",
            "navigation RmaLineArray on ReturnMaterialSet",
            "enum member ReturnMaterialState'Releasd'"],
        "PurchaseReceiptHandling": ["entity set PurchaseReceiptLineSet"],
    }


def test_a_property_behind_a_navigation_is_checked_on_the_navigation_target():
    wrong = IfsNames.model_validate({"fulfillment": {"voucher_line_qty_field": "Quantity"}})
    assert missing(wrong) == {"FulfillmentVoucherHandling": [
        "property Quantity on FulfillmentVoucherSet/FulfillmentVoucherLineArray"]}
