"""The worked example in docs/posting-example.md, run as written: the
mapping's import path loads it, and against an in-memory IFS shipment
process it reserves, creates the pick list, reports picking and delivers,
each step once, resuming where a stopped run left off."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from connector.errors import NeedsAttention, TransientError
from connector.ifs.customer_orders import LineKey
from connector.ifs.deliveries import Deliveries, Delivery, DeliveryLine
from connector.ifs.names import IfsNames

DOC = Path(__file__).resolve().parents[2] / "docs" / "posting-example.md"
REF = "Cf_Shipbob_Shipment_Id"


@pytest.fixture
def names(tmp_path, monkeypatch) -> IfsNames:
    """The doc's mapping, with the doc's module importable as it names it."""
    text = DOC.read_text()
    [code] = re.findall(r"```python\n(\"\"\"Post a ShipBob shipment.*?)```", text, re.S)
    package = tmp_path / "acme_ifs"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "shipment_posting.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    [mapping] = re.findall(r"```yaml\n(.*?)```", text, re.S)
    return IfsNames.model_validate(yaml.safe_load(mapping)["ifs"])


class FakeShipmentProcess:
    """One IFS shipment (19) for order C1, line 1/1/0, 3 units, as the
    shipment process moves it. StartCreatePickList builds the list in the
    background: it shows on the next read after the call's run."""

    def __init__(self):
        self.shipment = {"ShipmentId": 19, "Objstate": "Preliminary", "Contract": "S01",
                         "ShipInventoryLocationNo": "44", REF: None}
        self.lines = [{"ShipmentId": 19, "SourceRefType": "CustomerOrder", "SourceRef1": "C1", "SourceRef2": "1",
                       "SourceRef3": "1", "SourceRef4": "0", "InventoryQty": 3, "QtyToReserve": 3,
                       "QtyAssigned": 0, "QtyPicked": 0}]
        self.reservations: list[dict] = []
        self.pick_list_pending = False
        self.steps: list[str] = []
        self.selection: list[str] = []

    def query(self, projection, path, *, filter=None, **_):
        assert projection == "ShipmentHandling"
        field, value = re.fullmatch(r"(\w+) eq '?([^']*)'?", filter).groups()
        if self.pick_list_pending:  # IFS finished it in the background
            self.pick_list_pending = False
            for row in self.reservations:
                row["PickListNo"] = "PL7"
        rows = {"ShipmentLineSet": self.lines, "Reference_PickReservation": self.reservations}[path]
        return iter([dict(row) for row in rows if str(row[field]) == value])

    def get(self, projection, path):
        if path.startswith("FndTempLobs"):
            return {"LobId": "L1", "@odata.etag": 'W/"lob"'}
        assert (projection, path) == ("ShipmentHandling", "ShipmentSet(ShipmentId=19)")
        return dict(self.shipment, **{"@odata.etag": 'W/"1"'})

    def unbound_action(self, projection, action, body):
        self.steps.append(action)
        if action == "StartReserveShipment":
            assert body == {"ShipmentId": 19, "LocationNo": None}
            for line in self.lines:
                line.update(QtyAssigned=line["InventoryQty"], QtyToReserve=0)
                self.reservations.append({"ShipmentId": 19, "PickListNo": None, "SourceRef1": "C1",
                                          "PartNo": "P1", "LocationNo": "A-1", "QtyReserved": line["InventoryQty"]})
        elif action == "StartCreatePickList":
            self.pick_list_pending = True
        elif action == "PickSelected":
            assert body == {"ShipLocationNo": "44", "SelectionTempLobId": "L1"}
            for line in self.lines:
                line["QtyPicked"] = line["QtyAssigned"]

    def create(self, projection, entity_set, body):
        self.steps.append(f"{entity_set} created")
        return {"LobId": "L1"}

    def bound_action(self, projection, entity_path, action, body, check=None, **_):
        if check is not None and check(self.get(projection, entity_path)):
            return None
        self.steps.append(action)
        assert all(line["QtyPicked"] == line["InventoryQty"] for line in self.lines)
        self.shipment["Objstate"] = "Shipped"

    def update(self, projection, path, apply, **_):
        changes = apply(self.get(projection, path))
        if changes:
            self.steps.append(f"reference {changes[REF]}")
            self.shipment.update(changes)
        return changes


def delivery(qty: float = 3) -> Delivery:
    return Delivery("C1", "501", "9001", "UPS", "1Z999", None, "2026-12-04", (DeliveryLine(LineKey("1", "1", 0), qty),))


def deliveries(ifs, names: IfsNames) -> Deliveries:
    return Deliveries(ifs, names.fulfillment, names.customer_order)


def test_the_example_runs_the_shipment_process_once_and_resumes_where_it_stopped(names, monkeypatch):
    ifs = FakeShipmentProcess()
    posting = deliveries(ifs, names).posting
    monkeypatch.setattr(type(posting), "_put_json", lambda self, path, body, etag: ifs.selection.extend(body))

    with pytest.raises(TransientError, match="pick list"):
        posting.post(delivery())
    assert ifs.steps == ["StartReserveShipment", "StartCreatePickList"]

    posting.post(delivery())  # the job's retry, once IFS has the pick list
    assert ifs.steps[2:] == ["FndTempLobs created", "PickSelected", "Shipment_Deliver", "reference 501"]
    assert ifs.selection[0].startswith("PICK_LIST_NO=PL7^SOURCE_REF1=C1^")
    assert ifs.selection[0].endswith("SHIPMENT_ID=19^CONTRACT=S01^CLOSE=false^")

    # Delivered but the reference write was lost: only the reference again.
    ifs.shipment[REF] = None
    posting.post(delivery())
    assert ifs.steps[6:] == ["reference 501"]


def test_the_example_parks_a_shipment_that_does_not_match_the_ifs_shipment(names):
    ifs = FakeShipmentProcess()
    with pytest.raises(NeedsAttention, match="0 unposted IFS shipments carry the lines of ShipBob shipment 501"):
        deliveries(ifs, names).posting.post(delivery(qty=2))
    assert ifs.steps == []


def test_the_mapping_in_the_example_loads_and_doctor_no_longer_asks_for_the_default_action(names):
    assert names.fulfillment.posting == "acme_ifs.shipment_posting:ShipmentProcessPosting"
    described = [need.describe() for projection in names.needs().projections.values() for need in projection.needs]
    assert "key ShipmentId on ShipmentSet" in described
    assert not [need for need in described if names.fulfillment.action in need]
