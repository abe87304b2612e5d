"""The return gateway's records and payloads (connector/ifs/returns.py) under
a renamed `ifs.returns` section: every name read or sent is the mapping's."""

from __future__ import annotations

import pytest

from connector.coordination import LocalCoordinator
from connector.errors import ConfigError
from connector.ifs.client import IfsClient
from connector.ifs.customer_orders import LineKey
from connector.ifs.names import IfsNames
from connector.ifs.names.returns import ReturnNames
from connector.ifs.returns import ReceiveRmaAction, ReturnDisposition, Returns, Rma, RmaLineToCreate, rma_path
from connector.mapping import Mapping
from connector.settings import Settings

RENAMED = ReturnNames.model_validate({
    "rma_set": "RmaSet", "rma_key": "RmaId", "lines_nav": "Lines", "state_field": "RmaState",
    "received_state": "Closed",
    "rma": {"order_no": "CoNo", "site": "Site", "external_ref": "CustomerRef", "notes": "Remark"},
    "line": {"line_no": "CoLineNo", "rel_no": "CoRelNo", "line_item_no": "CoLineItemNo",
             "part_no": "CatalogNo", "qty": "ReturnQty", "action": "Disposal"},
    "actions": {"restock": "BackToStock", "quarantine": "Hold", "dispose": "Scrap"},
})


class RecordingPosting:
    """A tenant's own receipt step, loaded by import path."""

    def __init__(self, ifs, names):
        self.ifs, self.names = ifs, names
        self.received: list[Rma] = []

    def receive(self, rma: Rma) -> None:
        self.received.append(rma)


class NotAClass:  # stands in for a path naming something else
    pass


@pytest.fixture
def ifs():
    # Points at a closed port: nothing here may send a request.
    return IfsClient(Settings(ifs_base_url="http://127.0.0.1:9/"), LocalCoordinator())


def test_an_rma_is_read_under_the_configured_names(ifs):
    returns = Returns(ifs, RENAMED)
    row = {"RmaId": 12, "CoNo": "C1", "Site": "S02", "CustomerRef": "77", "RmaState": "Closed",
           # the default names, which this tenant does not use, are ignored
           "RmaNo": 99, "OrderNo": "X", "ExternalRef": "X", "Objstate": "Planned"}
    rma = returns.rma_from_row(row)
    assert rma == Rma(rma_no="12", order_no="C1", site="S02", external_ref="77", state="Closed")
    assert rma.key == 12
    assert returns.is_received(rma)
    assert not Returns(ifs, ReturnNames()).is_received(Rma("1", None, None, None, "Closed"))


def test_the_rma_path_echoes_the_key_as_ifs_typed_it(ifs):
    returns = Returns(ifs, RENAMED)
    assert rma_path(RENAMED, returns.rma_from_row({"RmaId": 12})) == "RmaSet(RmaId=12)"
    assert rma_path(RENAMED, returns.rma_from_row({"RmaId": "R-12"})) == "RmaSet(RmaId='R-12')"


def test_the_create_body_is_sent_under_the_configured_names(ifs):
    lines = [RmaLineToCreate(LineKey("1", "2", 0), "PART-A", 2.0, ReturnDisposition.RESTOCK),
             RmaLineToCreate(LineKey("3", "1", 1), "PART-B", 1.0, ReturnDisposition.DISPOSE),
             RmaLineToCreate(LineKey("4", "1", 0), "PART-C", 1.0, ReturnDisposition.QUARANTINE)]
    body = Returns(ifs, RENAMED).create_body("C1", "S02", "77", "ShipBob return 77", lines)
    assert body == {
        "CoNo": "C1", "Site": "S02", "CustomerRef": "77", "Remark": "ShipBob return 77",
        "Lines": [
            {"CoLineNo": "1", "CoRelNo": "2", "CoLineItemNo": 0, "CatalogNo": "PART-A",
             "ReturnQty": 2.0, "Disposal": "BackToStock"},
            {"CoLineNo": "3", "CoRelNo": "1", "CoLineItemNo": 1, "CatalogNo": "PART-B",
             "ReturnQty": 1.0, "Disposal": "Scrap"},
            {"CoLineNo": "4", "CoRelNo": "1", "CoLineItemNo": 0, "CatalogNo": "PART-C",
             "ReturnQty": 1.0, "Disposal": "Hold"}]}


def test_the_default_body_keeps_todays_names(ifs):
    line = RmaLineToCreate(LineKey("1", "1", 0), "P", 1.0, ReturnDisposition.QUARANTINE)
    body = Returns(ifs, ReturnNames()).create_body("C1", "S01", "5", "n", [line])
    assert body == {"OrderNo": "C1", "Contract": "S01", "ExternalRef": "5", "Notes": "n",
                    "ReturnMaterialLineArray": [{"LineNo": "1", "RelNo": "1", "LineItemNo": 0, "PartNo": "P",
                                                 "QtyToReturn": 1.0, "ReturnAction": "Quarantine"}]}


def test_the_receipt_posting_is_the_bound_action_unless_the_mapping_names_another(ifs):
    default = Returns(ifs, ReturnNames())
    assert type(default.posting) is ReceiveRmaAction
    names = RENAMED.model_copy(update={"posting": f"{__name__}:RecordingPosting"})
    returns = Returns(ifs, names)
    assert isinstance(returns.posting, RecordingPosting) and returns.posting.names is names
    rma = Rma("12", "C1", "S02", "77", "Released")
    returns.receive(rma)
    assert returns.posting.received == [rma]


@pytest.mark.parametrize("path, says", [
    ("connector.ifs.returns.ReceiveRmaAction", "is not a 'package.module:ClassName' path"),
    ("connector.ifs.no_such_module:Receive", "cannot import connector.ifs.no_such_module"),
    ("connector.ifs.returns:NoSuchClass", "has no class NoSuchClass"),
])
def test_a_posting_path_that_does_not_load_is_a_config_error_naming_the_key(ifs, path, says):
    with pytest.raises(ConfigError) as exc:
        Returns(ifs, ReturnNames(posting=path))
    assert "mapping ifs.returns.posting" in str(exc.value) and says in str(exc.value)


def test_the_posting_is_read_from_the_mapping_file_key():
    mapping = Mapping.model_validate({"ifs": {"returns": {"posting": f"{__name__}:RecordingPosting"}}})
    assert mapping.ifs.returns.posting == f"{__name__}:RecordingPosting"
    assert ReturnNames().posting == "connector.ifs.returns:ReceiveRmaAction"


def test_doctor_checks_every_renamed_field_enum_member_and_action():
    names = IfsNames(returns=RENAMED.model_copy(update={"action_enum": "RmaDisposal"}))
    needs = {need.describe() for need in
             names.needs().projections["ReturnMaterialAuthorizationHandling"].needs}
    assert {"key RmaId on RmaSet", "property CustomerRef on RmaSet", "property CoNo on RmaSet",
            "property Site on RmaSet", "property Remark on RmaSet", "property RmaState on RmaSet",
            "property ReturnQty on RmaSet/Lines", "property Disposal on RmaSet/Lines",
            "property CoLineItemNo on RmaSet/Lines", "property CatalogNo on RmaSet/Lines",
            "enum member RmaDisposal'BackToStock'", "enum member RmaDisposal'Scrap'",
            "enum member RmaDisposal'Hold'", "enum member ReturnMaterialState'Closed'",
            "action ReturnMaterial_Release on RmaSet", "action ReturnMaterial_Receive on RmaSet"} <= needs
    assert not any("ExternalRef" in need or "QtyToReturn" in need for need in needs)
