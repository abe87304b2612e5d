"""The inventory activity gateway under a renamed `ifs.inventory_activity`
section: every name it filters on or sends comes from the mapping, a page's
events are looked up before any is created (a re-post creates nothing), and
the posting step is the class the mapping names. IFS is an in-memory fake of
the two client calls the gateway makes (query, create), holding rows under
the tenant's names; the real client against the IFS sandbox is covered by
tests/integration/test_inventory_activity.py."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timezone

import pytest

from connector.errors import ConfigError
from connector.ifs.inventory_activity import ActivitiesPosted, InventoryActivities, InventoryActivity
from connector.ifs.names import IfsNames
from connector.ifs.names.inventory_activity import InventoryActivityNames

RENAMED = InventoryActivityNames.model_validate({
    "projection": "ThirdPartyStockMovementHandling", "activity_set": "StockMovementSet",
    "activity_key": "MovementId",
    "activity": {"external_ref": "Cf_Shipbob_Event", "site": "Site", "part_no": "PartNumber", "sku": "ItemCode",
                 "category": "MovementType", "qty_change": "Quantity", "committed_change": "ReservedQuantity",
                 "event_date": "MovedAt", "source_type": "DocumentType", "source_ref": "DocumentNo"}})
AT = datetime(2026, 12, 5, 10, 30, tzinfo=timezone.utc)


def activity(ref: str, site: str = "S01", qty: float = -2.0) -> InventoryActivity:
    return InventoryActivity(ref, site, "P1", "SKU-1", "OrderPicked", qty, qty, AT, "OrderId", "9001")


class FakeIfs:
    """Entity sets in memory; `$filter` understood as far as the gateway
    writes it: `eq` clauses, alternatives of one field or-ed, fields and-ed."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
        self.calls: list[tuple] = []

    def query(self, projection, path, *, filter=None, select=None, orderby=None, page_size=1000):
        self.calls.append(("query", projection, path, filter, select))
        wanted: dict[str, set[str]] = defaultdict(set)
        for field, value in re.findall(r"(\w+) eq '([^']*)'", filter or ""):
            wanted[field].add(value)
        rows = [r for r in self.rows[(projection, path)]
                if all(str(r.get(f)) in values for f, values in wanted.items())]
        if orderby:
            rows.sort(key=lambda r: [r[k] for k in orderby])
        return iter(rows)

    def create(self, projection, entity_set, body):
        self.calls.append(("create", projection, entity_set, dict(body)))
        row = {k: v for k, v in body.items() if v is not None}
        row[RENAMED.activity_key] = len(self.rows[(projection, entity_set)]) + 1
        self.rows[(projection, entity_set)].append(row)
        return row

    def of(self, kind: str) -> list[tuple]:
        return [c for c in self.calls if c[0] == kind]


def test_a_record_is_sent_and_read_under_the_tenants_names():
    ifs = FakeIfs()
    gateway = InventoryActivities(ifs, RENAMED)  # type: ignore[arg-type]

    posted = gateway.post([activity("41")])

    assert posted == ActivitiesPosted(created=("41",), already=())
    [(_, projection, entity_set, body)] = ifs.of("create")
    assert (projection, entity_set) == ("ThirdPartyStockMovementHandling", "StockMovementSet")
    assert body == {"Cf_Shipbob_Event": "41", "Site": "S01", "PartNumber": "P1", "ItemCode": "SKU-1",
                    "MovementType": "OrderPicked", "Quantity": -2.0, "ReservedQuantity": -2.0, "MovedAt": AT,
                    "DocumentType": "OrderId", "DocumentNo": "9001"}
    [(_, _, _, lookup, select)] = ifs.of("query")
    assert lookup == "Site eq 'S01' and (Cf_Shipbob_Event eq '41')" and select == ["Cf_Shipbob_Event"]
    assert list(gateway.recorded("S01")) == [activity("41")]


def test_a_repost_after_a_crash_creates_only_what_is_missing_with_one_look_up_per_site():
    ifs = FakeIfs()
    gateway = InventoryActivities(ifs, RENAMED)  # type: ignore[arg-type]
    gateway.post([activity("1"), activity("2")])
    ifs.calls.clear()

    posted = gateway.post([activity("1"), activity("2"), activity("3"), activity("1", site="S02")])

    assert posted == ActivitiesPosted(created=("3", "1"), already=("1", "2"))
    assert [c[3]["Cf_Shipbob_Event"] + "@" + c[3]["Site"] for c in ifs.of("create")] == ["3@S01", "1@S02"]
    assert [c[3] for c in ifs.of("query")] == [
        "Site eq 'S01' and (Cf_Shipbob_Event eq '1' or Cf_Shipbob_Event eq '2' or Cf_Shipbob_Event eq '3')",
        "Site eq 'S02' and (Cf_Shipbob_Event eq '1')"]


def test_a_long_page_is_looked_up_in_chunks():
    ifs = FakeIfs()
    InventoryActivities(ifs, RENAMED).post([activity(str(i)) for i in range(120)])  # type: ignore[arg-type]
    assert len(ifs.of("query")) == 3 and len(ifs.of("create")) == 120


class TenantPosting:
    def __init__(self, ifs, names):
        self.names = names
        self.seen: list[InventoryActivity] = []

    def post(self, activities):
        self.seen += activities
        return ActivitiesPosted((), tuple(a.external_ref for a in activities))


def test_the_posting_is_the_class_the_mapping_names():
    names = RENAMED.model_copy(update={"posting": f"{__name__}:TenantPosting"})
    gateway = InventoryActivities(FakeIfs(), names)  # type: ignore[arg-type]
    gateway.post([activity("7")])
    assert isinstance(gateway.posting, TenantPosting) and gateway.posting.seen == [activity("7")]

    with pytest.raises(ConfigError, match="ifs.inventory_activity.posting: cannot import nowhere"):
        InventoryActivities(FakeIfs(), RENAMED.model_copy(update={"posting": "nowhere:Posting"}))  # type: ignore[arg-type]


def test_doctor_checks_the_renamed_set_and_nothing_when_off():
    needs = IfsNames.model_validate({"inventory_activity": RENAMED.model_dump()}).needs()
    declared = needs.projections["ThirdPartyStockMovementHandling"].needs
    assert {(n.kind, n.name) for n in declared} == {
        ("entity set", "StockMovementSet"), ("key", "MovementId"),
        *{("property", p) for p in RENAMED.activity.values()}}

    off = IfsNames.model_validate({"inventory_activity": {"enabled": False}})
    assert "ExternalInventoryActivityHandling" not in off.needs().projections
    assert not InventoryActivities(FakeIfs(), off.inventory_activity).enabled  # type: ignore[arg-type]
