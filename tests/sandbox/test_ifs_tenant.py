"""The IFS sandbox's own model and a renamed tenant's definition
(sandbox/ifs/model.py, sandbox/ifs/tenant.py), without HTTP."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sandbox.ifs.metadata import csdl
from sandbox.ifs.model import build_model
from sandbox.ifs.tenant import TenantError, TenantRenames, load_tenant

SANDBOX = Path(__file__).parents[2] / "sandbox"


def test_the_sandbox_imports_nothing_of_the_connector():
    """Its names are its own: a name the connector gets wrong is not served
    back to it."""
    importers = []
    for path in SANDBOX.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(m == "connector" or m.startswith("connector.") for m in modules):
                importers.append(str(path.relative_to(SANDBOX)))
    assert importers == []


@pytest.mark.parametrize("renames, named", [
    ({"projections": {"CustomerOrderHandlin": "X"}}, "projections CustomerOrderHandlin"),
    ({"entity_sets": {"CustomerOrderSets": "X"}}, "entity_sets CustomerOrderSets"),
    ({"navigations": {"CustomerOrder": {"LinesArray": "X"}}}, "navigations CustomerOrder.LinesArray"),
    ({"navigations": {"PurchaseOrder": {"OrderLinesArray": "X"}}},
     "navigations PurchaseOrder.OrderLinesArray"),  # a navigation of another type
    ({"properties": {"CustomerOrder": {"QtyShipped": "X"}}}, "properties CustomerOrder.QtyShipped"),
    ({"enum_types": {"OrderState": "X"}}, "enum_types OrderState"),
    ({"enum_members": {"CustomerOrderState": {"Releasd": "X"}}},
     "enum_members CustomerOrderState.Releasd"),
    ({"actions": {"CustomerOrder_Deliver": "X"}}, "actions CustomerOrder_Deliver"),
    ({"action_parameters": {"ReturnMaterial_Receive": {"TrackingNo": "X"}}},
     "action_parameters ReturnMaterial_Receive.TrackingNo"),
])
def test_a_rename_of_a_name_the_model_lacks_is_refused_with_the_name(renames, named):
    with pytest.raises(TenantError) as raised:
        build_model(TenantRenames.model_validate(renames))
    assert named in str(raised.value)


def test_a_change_stamp_on_an_unknown_type_is_refused():
    with pytest.raises(TenantError, match="no entity type CustomerOrders"):
        build_model(TenantRenames(change_stamps={"CustomerOrders": "LastChanged"}))


@pytest.mark.parametrize("renames, clash", [
    ({"properties": {"CustomerOrder": {"CustRef": "CustomerPoNo"}}}, "CustomerPoNo"),
    ({"navigations": {"CustomerOrder": {"OrderLinesArray": "OrderNo"}}}, "OrderNo"),
    ({"change_stamps": {"CustomerOrder": "DateEntered"}}, "DateEntered"),
    ({"enum_members": {"CustomerOrderState": {"Planned": "Released"}}}, "Released"),
    ({"action_parameters": {"CustomerOrder_RegisterFulfillment": {"Carrier": "TrackingNo"}}},
     "TrackingNo"),
    ({"actions": {"ReturnMaterial_Release": "ReturnMaterial_Receive"}}, "ReturnMaterial_Receive"),
    ({"entity_sets": {"CustomerOrderLineSet": "CustomerOrderSet"}}, "CustomerOrderSet"),
    ({"projections": {"PurchaseReceiptHandling": "PurchaseOrderHandling"}}, "PurchaseOrderHandling"),
])
def test_a_rename_onto_a_name_already_there_is_refused(renames, clash):
    with pytest.raises(TenantError, match=clash):
        build_model(TenantRenames.model_validate(renames))


def test_the_metadata_carries_each_renamed_name_and_not_the_old_one():
    model = build_model(TenantRenames(
        entity_sets={"ReturnMaterialSet": "RmaSet"},
        navigations={"ReturnMaterial": {"ReturnMaterialLineArray": "RmaLines"}},
        properties={"ReturnMaterial": {"RmaNo": "RmaNumber"}},
        enum_types={"ReturnMaterialState": "RmaState"},
        enum_members={"ReturnMaterialState": {"Released": "Approved"}},
        actions={"ReturnMaterial_Receive": "ReturnMaterial_ReceiveParts"},
        change_stamps={"ReturnMaterial": "LastChanged"},
    ))
    document = csdl(model.projections["ReturnMaterialAuthorizationHandling"]).decode()
    for new in ('EntitySet Name="RmaSet"', 'NavigationProperty Name="RmaLines"',
                '<PropertyRef Name="RmaNumber"', 'EnumType Name="RmaState"', 'Member Name="Approved"',
                'Action Name="ReturnMaterial_ReceiveParts"', 'Property Name="LastChanged"',
                'Type="IfsApp.ReturnMaterialAuthorizationHandling.RmaState"'):
        assert new in document, new
    for old in ('"ReturnMaterialSet"', '"ReturnMaterialLineArray"', 'EnumType Name="ReturnMaterialState"',
                '"ReturnMaterial_Receive"'):
        assert old not in document, old
    # the line type keeps its own RmaNo: renames belong to one type
    assert '<PropertyRef Name="RmaNo"' in document


def test_the_default_tenant_is_the_same_however_often_it_is_built():
    first, renamed, again = build_model(), build_model(TenantRenames(
        entity_sets={"CustomerOrderSet": "Orders"})), build_model()
    assert csdl(first.projections["CustomerOrderHandling"]) == csdl(again.projections["CustomerOrderHandling"])
    assert "Orders" in renamed.projections["CustomerOrderHandling"].sets


def test_a_tenant_file_is_yaml_or_json(tmp_path):
    yaml_file = tmp_path / "tenant.yaml"
    yaml_file.write_text("entity_sets:\n  CustomerOrderSet: Orders\n")
    json_file = tmp_path / "tenant.json"
    json_file.write_text(json.dumps({"actions": {"ReturnMaterial_Receive": "Receive"}}))
    assert load_tenant(yaml_file).entity_sets == {"CustomerOrderSet": "Orders"}
    assert load_tenant(json_file).actions == {"ReturnMaterial_Receive": "Receive"}


def test_a_bad_tenant_file_names_the_file_and_the_key(tmp_path):
    bad = tmp_path / "tenant.yaml"
    bad.write_text("entity_set:\n  CustomerOrderSet: Orders\n")
    with pytest.raises(TenantError, match=r"tenant\.yaml: .*entity_set"):
        load_tenant(bad)
    with pytest.raises(TenantError, match="cannot read"):
        load_tenant(tmp_path / "absent.yaml")


def test_the_commands_refuse_a_tenant_the_model_cannot_take(tmp_path, capsys):
    from cli import main as cli_main
    from sandbox.ifs import main as module_main

    tenant = tmp_path / "tenant.yaml"
    tenant.write_text("entity_sets: {CustomerOrderSets: Orders}\n")
    result = CliRunner().invoke(cli_main, ["sandbox", "ifs", "--port", "0", "--tenant", str(tenant)])
    assert result.exit_code == 1 and "entity_sets CustomerOrderSets" in result.output
    with pytest.raises(SystemExit) as exited:
        module_main(["--port", "0", "--tenant", str(tenant)])
    assert exited.value.code == 2 and "entity_sets CustomerOrderSets" in capsys.readouterr().err
