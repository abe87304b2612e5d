"""The inventory sync's recipe on in-memory fakes of the stock gateway and of
ShipBob: IFS stock summed per site and part, compared with ShipBob's levels,
shortfalls replenished, and only the levels IFS does not hold yet posted.
State (the run's snapshot) lives in a temporary SQLite database."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Iterator

import pytest

from connector.context import Context
from connector.db.models import InventorySnapshot
from connector.db.session import migrate
from connector.flows.inventory_sync import sync_inventory
from connector.ifs.stock import ExternalStockLevel, LevelPosted, StockRow
from connector.settings import load_settings


class FakeStock:
    """The stock gateway in memory: rows and held levels per site; a post
    stores the level as IFS would hold it."""

    def __init__(self, rows: list[StockRow], held: Iterable[ExternalStockLevel] = (), enabled: bool = True):
        self.stock_rows = rows
        self.held = {(h.site, h.part_no): h for h in held}
        self.levels_enabled = enabled
        self.levels_read = 0
        self.posted: list[tuple[ExternalStockLevel, ExternalStockLevel | None]] = []

    def rows(self, sites: Iterable[str]) -> Iterator[StockRow]:
        wanted = set(sites)
        return (row for row in self.stock_rows if row.site in wanted)

    def levels(self, sites: Iterable[str]) -> Iterator[ExternalStockLevel]:
        assert self.levels_enabled, "levels read although the write-back is off"
        self.levels_read += 1
        wanted = set(sites)
        return (level for key, level in sorted(self.held.items()) if key[0] in wanted)

    def post_level(self, level: ExternalStockLevel, current: ExternalStockLevel | None) -> LevelPosted:
        assert self.levels_enabled, "level posted although the write-back is off"
        self.posted.append((level, current))
        key = (level.site, level.part_no)
        outcome = LevelPosted.UPDATED if key in self.held else LevelPosted.CREATED
        self.held[key] = level
        return outcome

    def posted_by_key(self) -> dict[tuple[str, str], tuple[ExternalStockLevel, ExternalStockLevel | None]]:
        # Levels are posted from a few threads: compare them by key, not order.
        return {(level.site, level.part_no): (level, current) for level, current in self.posted}


class FakeShipBob:
    """The ShipBob calls the sync makes: levels per SKU and FC, WROs."""

    def __init__(self, on_hand: dict[str, dict[int, tuple[int, int, int, int]]]):
        self.items = [{"inventory_id": n, "sku": sku, "locations": [
            {"location_id": fc, "on_hand_quantity": q[0], "committed_quantity": q[1],
             "fulfillable_quantity": q[2], "awaiting_quantity": q[3]} for fc, q in per_fc.items()]}
            for n, (sku, per_fc) in enumerate(on_hand.items(), start=100)]
        self.created: list[dict] = []

    def inventory_level_locations(self, location_id: int | None = None) -> Iterator[dict]:
        return iter(self.items)

    def wros(self, PurchaseOrderNumbers: list[str]) -> list[dict]:  # noqa: N803 - ShipBob's name
        return [w for w in self.created if w["purchase_order_number"] in PurchaseOrderNumbers]

    def create_wro(self, body: dict) -> dict:
        wro = {**body, "id": len(self.created) + 1}
        self.created.append(wro)
        return wro

    def wro_units(self) -> dict[str, dict[int, int]]:
        return {w["purchase_order_number"]: {i["inventory_id"]: i["quantity"] for i in w["boxes"][0]["box_items"]}
                for w in self.created}


@pytest.fixture(scope="module")
def database_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('inventory-flow')}/state.db"
    migrate(url)
    return url


@pytest.fixture
def make_ctx(database_url, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("sites: {S01: 156, S02: 157}\n")

    def make(stock: FakeStock, shipbob: FakeShipBob) -> Context:
        ctx = Context(load_settings(database_url=database_url, redis_url=None, sites=[],
                                    reports_dir=tmp_path / "reports", mapping_file=mapping))
        # Prime the context's cached gateways with the fakes.
        ctx.__dict__.update(stock=stock, shipbob=shipbob)
        return ctx

    return make


def held(site: str, part: str, on_hand: float, committed: float = 0, fulfillable: float | None = None,
         awaiting: float = 0) -> ExternalStockLevel:
    fulfillable = on_hand - committed if fulfillable is None else fulfillable
    return ExternalStockLevel(site, part, part, on_hand, committed, fulfillable, awaiting, committed)


def stamp_of(run_at: datetime) -> datetime:
    return run_at.replace(microsecond=0)


# --------------------------------------------------------------------- tests

def test_the_sync_replenishes_shortfalls_and_posts_only_changed_levels(make_ctx):
    stock = FakeStock(
        rows=[StockRow("S01", "P1", 3, "PCS"), StockRow("S01", "P1", 2, "PCS"),  # summed: 5
              StockRow("S01", "P2", 10, "PCS"), StockRow("S02", "P3", 4, "EA"),
              StockRow("S01", "BOXED", 1, "BOX")],
        held=[held("S01", "P1", 5, committed=1), held("S02", "P3", 9)])
    shipbob = FakeShipBob({"P1": {156: (5, 1, 4, 0)}, "P2": {156: (4, 0, 4, 0)}, "P3": {157: (4, 0, 4, 0)},
                           "BOXED": {156: (1, 0, 1, 0)}})
    ctx = make_ctx(stock, shipbob)

    result = sync_inventory(ctx)

    assert dict(result.counts) == {"match": 2, "shortfall": 1, "uom_mismatch": 1}
    day = result.run_at.strftime("%Y%m%d")
    assert shipbob.wro_units() == {f"INVSYNC-{day}-156": {101: 6}}  # P2: 10 in IFS, 4 at ShipBob
    # P1 is held as it is; P2 is new; P3 changed; BOXED is not compared, so not posted.
    stamp = stamp_of(result.run_at)
    assert stock.posted_by_key() == {
        ("S01", "P2"): (ExternalStockLevel("S01", "P2", "P2", 4, 0, 4, 0, 0, last_sync=stamp), None),
        ("S02", "P3"): (ExternalStockLevel("S02", "P3", "P3", 4, 0, 4, 0, 0, last_sync=stamp),
                        held("S02", "P3", 9)),
    }
    assert dict(result.levels) == {"unchanged": 1, "created": 1, "updated": 1}
    assert "IFS levels 1 created, 1 unchanged, 1 updated" in result.summary_line()


def test_picked_is_shipbobs_committed_quantity(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 7, "PCS")])
    ctx = make_ctx(stock, FakeShipBob({"P1": {156: (7, 3, 4, 2)}}))

    result = sync_inventory(ctx)

    [(level, _)] = stock.posted
    assert level == ExternalStockLevel("S01", "P1", "P1", on_hand=7, committed=3, fulfillable=4, awaiting=2,
                                       picked=3, last_sync=stamp_of(result.run_at))


def test_a_second_run_posts_nothing(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 5, "PCS"), StockRow("S02", "P2", 1, "PCS")])
    shipbob = FakeShipBob({"P1": {156: (5, 0, 5, 0)}, "P2": {157: (3, 0, 3, 0)}})
    first = sync_inventory(make_ctx(stock, shipbob))
    assert first.levels["created"] == 2
    stock.posted.clear()

    again = sync_inventory(make_ctx(stock, shipbob))

    assert stock.posted == [] and dict(again.levels) == {"unchanged": 2}


def test_a_dry_run_posts_nothing_and_counts_the_pending_levels(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 10, "PCS"), StockRow("S02", "P2", 1, "PCS")],
                      held=[held("S02", "P2", 1)])
    shipbob = FakeShipBob({"P1": {156: (4, 0, 4, 0)}, "P2": {157: (1, 0, 1, 0)}})
    ctx = make_ctx(stock, shipbob)

    result = sync_inventory(ctx, dry_run=True)

    assert stock.posted == [] and shipbob.created == []
    assert dict(result.levels) == {"unchanged": 1, "pending": 1}
    assert [(w.units, w.created) for w in result.wros] == [(6, False)]
    with ctx.session() as session:
        assert session.get(InventorySnapshot, result.snapshot_id).dry_run == 1


def test_with_the_write_back_off_no_level_is_read_or_posted(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 5, "PCS")], enabled=False)
    ctx = make_ctx(stock, FakeShipBob({"P1": {156: (5, 0, 5, 0)}}))

    result = sync_inventory(ctx)

    assert stock.levels_read == 0 and stock.posted == []
    assert dict(result.levels) == {"disabled": 1} and result.summary_line().endswith("IFS levels disabled")


def test_one_site_reads_only_that_sites_stock_and_levels(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 5, "PCS"), StockRow("S02", "P1", 2, "PCS")],
                      held=[held("S01", "P1", 1)])
    ctx = make_ctx(stock, FakeShipBob({"P1": {156: (5, 0, 5, 0), 157: (2, 0, 2, 0)}}))

    result = sync_inventory(ctx, site="S02")

    assert result.ifs_rows == 1 and dict(result.counts) == {"match": 1}
    # S01's held level is not S02's: S02's is new.
    [(level, current)] = stock.posted
    assert (level.site, level.on_hand, current) == ("S02", 2, None)
