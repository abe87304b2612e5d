"""The stock gateway with a renamed names section: every IFS name it reads or
sends comes from the mapping. The real IFS client talks to an in-memory OData
service (`FakeIfs`), which records what was asked and sent."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from connector.coordination import LocalCoordinator
from connector.errors import ConfigError
from connector.ifs.client import IfsClient
from connector.ifs.names import IfsNames
from connector.ifs.names.stock import (
    CountActionParams,
    ExternalLevelFields,
    PartCountFields,
    StockNames,
    StockRowFields,
)
from connector.ifs.stock import CountPosted, ExternalStockLevel, LevelPosted, Stock, StockCount, StockRow
from connector.settings import Settings

# A tenant whose every stock name differs from the defaults.
RENAMED = StockNames(
    projection="WarehouseStockApi", stock_set="StockLines", quantity_field="UnitsHere",
    row=StockRowFields(site="Plant", part_no="Item", uom="Unit", location_key=("Bin", "Batch")),
    external_level_projection="PlanningFeedApi", external_level_set="FeedLevels",
    level=ExternalLevelFields(site="Plant", part_no="Item", sku="ExtSku", on_hand="Have",
                              committed="Promised", fulfillable="Sellable", awaiting="Inbound",
                              picked="Picking", last_sync="FedAt"),
    count_projection="CountingApi", count_set="PartCounts",
    count=PartCountFields(site="Plant", part_no="Item", on_hand="BookQty"),
    count_action="PartCount_Counted", count_params=CountActionParams(
        counted_qty="Counted", reference="Ref", note="Remark"),
)
STAMP = datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc)


def response(status: int, body: object = None, url: str = "") -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = b"" if body is None else json.dumps(body).encode()
    resp.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
    resp.url = url
    return resp


def ifs_error(status: int, message: str) -> dict:
    return {"error": {"code": "ODP_ERROR", "message": message}}


class FakeIfs:
    """Entity sets of dict rows, keyed by the fields named per set. GET of a
    set returns every row (the gateway's filter is checked on the request,
    not evaluated); GET/PATCH by key, POST with IFS's errors: 404 for a
    missing key, ORA-20112 for a key that exists, 412 for a stale ETag."""

    def __init__(self, keys: dict[str, tuple[str, ...]]):
        self.keys = keys
        self.rows: dict[str, dict[tuple[str, ...], dict]] = {name: {} for name in keys}
        self.versions: dict[tuple[str, tuple[str, ...]], int] = {}
        self.sent: list[dict] = []
        # Bound actions by name: handler(row, body), run under the row's ETag.
        self.actions: dict[str, Callable[[dict, dict], None]] = {}

    def add(self, entity_set: str, **row) -> None:
        key = tuple(str(row[k]) for k in self.keys[entity_set])
        self.rows[entity_set][key] = row
        self.versions[(entity_set, key)] = 1

    def post(self, url, **_kw):  # the token endpoint
        return response(200, {"access_token": "token", "expires_in": 3600, "token_type": "Bearer"})

    def request(self, method, url, data=None, headers=None, **_kw):
        parts = urlsplit(url)
        projection, _, path = unquote(parts.path).partition(".svc/")
        body = json.loads(data) if data else None
        self.sent.append({"method": method, "projection": projection.rsplit("/", 1)[-1], "path": path,
                          "params": dict(parse_qsl(parts.query)), "body": body,
                          "if_match": (headers or {}).get("If-Match")})
        match = re.fullmatch(r"(\w+)(?:\((.*)\)?)?", path)
        entity_set, key_text = match.group(1), match.group(2)
        rows = self.rows[entity_set]
        if key_text is None and method == "GET":
            return response(200, {"value": list(rows.values())}, url)
        if key_text is None and method == "POST":
            key = tuple(str(body[k]) for k in self.keys[entity_set])
            if key in rows:
                return response(400, ifs_error(400, "ORA-20112: The External Stock Level already exists."))
            self.add(entity_set, **body)
            return response(201, self._entity(entity_set, key), url)
        key_text, _, action = key_text.partition(")/IfsApp.")
        key = tuple(v.replace("''", "'") for v in re.findall(r"\w+='((?:[^']|'')*)'", key_text))
        if key not in rows:
            return response(404, ifs_error(404, "ODP_RESOURCE_NOTFOUND"))
        if action and method == "POST":
            if (headers or {}).get("If-Match") != self._etag(entity_set, key):
                return response(412, ifs_error(412, "ODP_PRECONDITION_FAILED"))
            self.actions[action.rsplit(".", 1)[-1]](rows[key], body)
            self.versions[(entity_set, key)] += 1
            return response(204, None, url)
        if method == "GET":
            return response(200, self._entity(entity_set, key), url)
        if method == "PATCH":
            if (headers or {}).get("If-Match") != self._etag(entity_set, key):
                return response(412, ifs_error(412, "ODP_PRECONDITION_FAILED"))
            rows[key].update(body)
            self.versions[(entity_set, key)] += 1
            return response(200, self._entity(entity_set, key), url)
        raise AssertionError(f"unexpected {method} {path}")

    def _etag(self, entity_set: str, key: tuple[str, ...]) -> str:
        return f'W/"{self.versions[(entity_set, key)]}"'

    def _entity(self, entity_set: str, key: tuple[str, ...]) -> dict:
        return {"@odata.etag": self._etag(entity_set, key), **self.rows[entity_set][key]}

    def writes(self) -> list[dict]:
        return [s for s in self.sent if s["method"] != "GET"]


@pytest.fixture
def ifs():
    return FakeIfs({"StockLines": ("Plant", "Item", "Bin", "Batch"), "FeedLevels": ("Plant", "Item"),
                    "PartCounts": ("Plant", "Item")})


def gateway(fake: FakeIfs, names: StockNames = RENAMED) -> Stock:
    settings = Settings(ifs_base_url="http://ifs.test", redis_url=None)
    return Stock(IfsClient(settings, LocalCoordinator(), session=fake), names)


def level(**values) -> ExternalStockLevel:
    base = dict(site="S01", part_no="P1", sku="SKU-1", on_hand=5, committed=1, fulfillable=4, awaiting=2,
                picked=1, last_sync=STAMP)
    return ExternalStockLevel(**{**base, **values})


# --------------------------------------------------------------------- reads

def test_stock_rows_are_read_under_the_tenants_names(ifs):
    ifs.add("StockLines", Plant="S01", Item="P1", Bin="A-1", Batch="*", UnitsHere=2.5, Unit="PCS")
    ifs.add("StockLines", Plant="S01", Item="P2", Bin="A-1", Batch="*", UnitsHere=None, Unit=None)

    rows = list(gateway(ifs).rows(["S01", "S02"]))

    assert rows == [StockRow("S01", "P1", 2.5, "PCS"), StockRow("S01", "P2", 0.0, None)]
    [read] = ifs.sent
    assert (read["projection"], read["path"]) == ("WarehouseStockApi", "StockLines")
    assert read["params"]["$select"] == "Plant,Item,UnitsHere,Unit"
    # Paging orders by the whole natural key: site, part, then the location key.
    assert read["params"]["$orderby"] == "Plant asc,Item asc,Bin asc,Batch asc"
    assert read["params"]["$filter"] == "(Plant eq 'S01' or Plant eq 'S02')"


def test_external_levels_are_read_under_the_tenants_names(ifs):
    ifs.add("FeedLevels", Plant="S01", Item="P1", ExtSku="SKU-1", Have=5, Promised="1", Sellable=4,
            Inbound=0, Picking=None)

    [held] = list(gateway(ifs).levels(["S01"]))

    assert held == ExternalStockLevel("S01", "P1", "SKU-1", on_hand=5, committed=1, fulfillable=4, awaiting=0,
                                      picked=None)
    [read] = ifs.sent
    assert (read["projection"], read["path"]) == ("PlanningFeedApi", "FeedLevels")
    assert read["params"]["$select"] == "Plant,Item,ExtSku,Have,Promised,Sellable,Inbound,Picking"
    assert read["params"]["$orderby"] == "Plant asc,Item asc"
    assert read["params"]["$filter"] == "(Plant eq 'S01')"


def test_a_quantity_that_is_not_a_number_is_a_clear_error(ifs):
    ifs.add("FeedLevels", Plant="S01", Item="P1", ExtSku="SKU-1", Have="lots")
    with pytest.raises(ValueError, match="IFS Have 'lots' is not a number"):
        list(gateway(ifs).levels(["S01"]))


# -------------------------------------------------------------------- writes

def test_a_new_level_is_created_with_every_value_under_the_tenants_names(ifs):
    outcome = gateway(ifs).post_level(level(), None)

    assert outcome is LevelPosted.CREATED
    [write] = ifs.writes()
    assert (write["method"], write["projection"], write["path"]) == ("POST", "PlanningFeedApi", "FeedLevels")
    assert write["body"] == {"Plant": "S01", "Item": "P1", "ExtSku": "SKU-1", "Have": 5, "Promised": 1,
                             "Sellable": 4, "Inbound": 2, "Picking": 1, "FedAt": "2026-12-07T02:00:00Z"}


def test_a_changed_level_sends_only_its_changed_values_under_the_etag(ifs):
    ifs.add("FeedLevels", Plant="S01", Item="P1", ExtSku="SKU-1", Have=5, Promised=1, Sellable=4,
            Inbound=0, Picking=1, FedAt="2026-12-06T02:00:00Z")
    held = next(gateway(ifs).levels(["S01"]))

    outcome = gateway(ifs).post_level(level(awaiting=2), held)

    assert outcome is LevelPosted.UPDATED
    [write] = ifs.writes()
    assert (write["method"], write["path"]) == ("PATCH", "FeedLevels(Plant='S01',Item='P1')")
    assert write["if_match"] == 'W/"1"'
    assert write["body"] == {"Inbound": 2, "FedAt": "2026-12-07T02:00:00Z"}


def test_a_level_ifs_holds_already_is_not_written(ifs):
    # Another run wrote these values after this run read the set.
    ifs.add("FeedLevels", Plant="S01", Item="P1", ExtSku="SKU-1", Have=5, Promised=1, Sellable=4,
            Inbound=2, Picking=1)
    stale = level(awaiting=0, last_sync=None)

    assert gateway(ifs).post_level(level(), stale) is LevelPosted.UNCHANGED
    assert ifs.writes() == []


def test_a_level_created_meanwhile_is_updated_instead(ifs):
    ifs.add("FeedLevels", Plant="S01", Item="P1", ExtSku="SKU-1", Have=3, Promised=1, Sellable=2,
            Inbound=2, Picking=1)

    assert gateway(ifs).post_level(level(), None) is LevelPosted.UPDATED

    assert [(w["method"], w["body"]) for w in ifs.writes()] == [
        ("POST", {"Plant": "S01", "Item": "P1", "ExtSku": "SKU-1", "Have": 5, "Promised": 1, "Sellable": 4,
                  "Inbound": 2, "Picking": 1, "FedAt": "2026-12-07T02:00:00Z"}),
        ("PATCH", {"Have": 5, "Sellable": 4, "FedAt": "2026-12-07T02:00:00Z"})]


def test_a_level_deleted_meanwhile_is_created_again(ifs):
    held = level(on_hand=1)  # read by the run, deleted since

    assert gateway(ifs).post_level(level(), held) is LevelPosted.CREATED

    assert [(w["method"], w["path"]) for w in ifs.sent] == [
        ("GET", "FeedLevels(Plant='S01',Item='P1')"), ("POST", "FeedLevels")]
    assert ifs.rows["FeedLevels"][("S01", "P1")]["Have"] == 5


# ------------------------------------------------------------------- posting

class RecordingPosting:
    """A tenant's own posting, named in the mapping by import path."""

    def __init__(self, ifs: IfsClient, names: StockNames):
        self.names = names
        self.posted: list[tuple[ExternalStockLevel, ExternalStockLevel | None]] = []

    def post(self, level: ExternalStockLevel, current: ExternalStockLevel | None) -> LevelPosted:
        self.posted.append((level, current))
        return LevelPosted.UPDATED


def test_a_tenant_plugs_in_its_own_posting_by_import_path(ifs):
    names = RENAMED.model_copy(update={"posting": f"{__name__}:RecordingPosting"})
    stock = gateway(ifs, names)

    assert stock.post_level(level(), None) is LevelPosted.UPDATED

    posting = stock._posting
    assert isinstance(posting, RecordingPosting) and posting.names is names
    assert posting.posted == [(level(), None)] and ifs.sent == []


def test_the_posting_path_comes_from_the_mapping():
    names = IfsNames.model_validate({"stock": {"posting": f"{__name__}:RecordingPosting"}})
    assert names.stock.posting == f"{__name__}:RecordingPosting"
    assert StockNames().posting == "connector.ifs.stock:ExternalStockLevelRecord"


@pytest.mark.parametrize("path, why", [
    ("connector.ifs.stock", "not a 'package.module:ClassName' path"),
    ("connector.ifs.no_such_module:Posting", "cannot import connector.ifs.no_such_module"),
    ("connector.ifs.stock:NoSuchPosting", "has no class NoSuchPosting"),
])
def test_a_posting_that_cannot_be_loaded_names_the_mapping_key(ifs, path, why):
    with pytest.raises(ConfigError, match=f"mapping ifs.stock.posting: .*{re.escape(why)}"):
        gateway(ifs, RENAMED.model_copy(update={"posting": path}))


@pytest.mark.parametrize("off", [{"external_level_set": ""}, {"external_level_projection": ""}])
def test_an_empty_level_set_or_projection_turns_the_write_back_off(ifs, off):
    # The posting is not even loaded: a tenant that turned levels off needs none.
    stock = gateway(ifs, RENAMED.model_copy(update={**off, "posting": "no.such:Posting"}))

    assert not stock.levels_enabled
    assert list(stock.levels(["S01"])) == [] and ifs.sent == []
    with pytest.raises(ConfigError, match="write-back is off"):
        stock.post_level(level(), None)


# ------------------------------------------------------------------ counting

def count(**values) -> StockCount:
    base = dict(site="S01", part_no="P1", counted=4, books=10, reference="SB-COUNT:S01:P1", note="ShipBob")
    return StockCount(**{**base, **values})


def counting(ifs: FakeIfs, book_qty: float) -> list[dict]:
    """The part's count record holding `book_qty`; the count action sets it."""
    ifs.add("PartCounts", Plant="S01", Item="P1", BookQty=book_qty)
    done: list[dict] = []
    ifs.actions["PartCount_Counted"] = lambda row, body: (done.append(body), row.update(BookQty=body["Counted"]))
    return done


def test_a_count_is_posted_under_the_tenants_names_and_the_records_etag(ifs):
    done = counting(ifs, 10)

    assert gateway(ifs).post_count(count()) is CountPosted.POSTED

    read, action = ifs.sent
    assert (read["method"], read["projection"], read["path"]) == ("GET", "CountingApi", "PartCounts(Plant='S01',Item='P1')")
    assert (action["method"], action["path"]) == (
        "POST", "PartCounts(Plant='S01',Item='P1')/IfsApp.CountingApi.PartCount_Counted")
    assert action["if_match"] == 'W/"1"'
    assert done == [{"Counted": 4, "Ref": "SB-COUNT:S01:P1", "Remark": "ShipBob"}]


def test_a_count_ifs_holds_already_is_not_posted_again(ifs):
    # An earlier try whose answer was lost, or another run.
    done = counting(ifs, 4)

    assert gateway(ifs).post_count(count()) is CountPosted.ALREADY
    assert done == [] and ifs.writes() == []


def test_a_count_of_stock_that_moved_since_the_read_is_not_posted(ifs):
    done = counting(ifs, 9)  # a delivery since the sync read 10

    assert gateway(ifs).post_count(count()) is CountPosted.MOVED
    assert done == [] and ifs.writes() == []


def test_stock_moving_between_the_read_and_the_count_is_caught_by_the_etag(ifs):
    done = counting(ifs, 10)
    real_request = ifs.request

    def moved_first(method, url, **kw):
        if method == "POST" and not done and ifs.versions[("PartCounts", ("S01", "P1"))] == 1:
            # A delivery lands between the GET and the action.
            ifs.rows["PartCounts"][("S01", "P1")]["BookQty"] = 8
            ifs.versions[("PartCounts", ("S01", "P1"))] += 1
        return real_request(method, url, **kw)

    ifs.request = moved_first
    assert gateway(ifs).post_count(count()) is CountPosted.MOVED
    assert done == []
    assert [s["method"] for s in ifs.sent] == ["GET", "POST", "GET"]  # 412, read again, moved


def test_counting_is_off_with_an_empty_count_set_and_its_posting_is_not_loaded(ifs):
    stock = gateway(ifs, RENAMED.model_copy(update={"count_set": "", "count_posting": "no.such:Posting"}))

    assert not stock.counting_enabled
    with pytest.raises(ConfigError, match="counting is off"):
        stock.post_count(count())
    assert "CountingApi" not in IfsNames(stock=RENAMED.model_copy(update={"count_set": ""})).needs().projections


def test_a_count_posting_that_cannot_be_loaded_names_its_mapping_key(ifs):
    with pytest.raises(ConfigError, match="mapping ifs.stock.count_posting: cannot import no"):
        gateway(ifs, RENAMED.model_copy(update={"count_posting": "no.such:Posting"}))


# -------------------------------------------------------------------- doctor

def test_doctor_checks_every_renamed_stock_name():
    needs = IfsNames(stock=RENAMED).needs()
    stock = {n.describe() for n in needs.at("WarehouseStockApi").needs}
    levels = {n.describe() for n in needs.at("PlanningFeedApi").needs}

    assert stock == {"entity set StockLines", "key Plant on StockLines", "key Item on StockLines",
                     "key Bin on StockLines", "key Batch on StockLines", "property Plant on StockLines",
                     "property Item on StockLines", "property Unit on StockLines",
                     "property UnitsHere on StockLines"}
    assert levels == {"entity set FeedLevels", "key Plant on FeedLevels", "key Item on FeedLevels",
                      *(f"property {p} on FeedLevels" for p in (
                          "Plant", "Item", "ExtSku", "Have", "Promised", "Sellable", "Inbound", "Picking",
                          "FedAt"))}
    counts = {n.describe() for n in needs.at("CountingApi").needs}
    assert counts == {"entity set PartCounts", "key Plant on PartCounts", "key Item on PartCounts",
                      "property BookQty on PartCounts", "action PartCount_Counted on PartCounts",
                      *(f"action parameter {p} of PartCount_Counted" for p in ("Counted", "Ref", "Remark"))}
    off = IfsNames(stock=RENAMED.model_copy(update={"external_level_set": ""})).needs()
    assert "PlanningFeedApi" not in off.projections
