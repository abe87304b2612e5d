"""The inventory sync's recipe on in-memory fakes of the stock and purchasing
gateways and of ShipBob: IFS stock summed per site and part, compared like
with like with ShipBob's levels (what is on its way netted), differences
remembered with their age and raised on one attention item per site, or
counted in IFS, and only the levels IFS does not hold yet posted. State
lives in a temporary SQLite database per test."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Iterator

import pytest
from sqlalchemy import select, update

from connector import jobs, runner
from connector.bindings import BindingKind, bind
from connector.context import Context
from connector.db.models import Flow, InventorySnapshot, Job, JobState, StockDrift
from connector.db.session import migrate
from connector.errors import ConfigError
from connector.flows.inventory_sync import sync_inventory
from connector.ifs.purchasing import Receipt
from connector.ifs.stock import CountPosted, ExternalStockLevel, LevelPosted, StockCount, StockRow
from connector.mappers.orders import ORDER_TAG
from connector.settings import load_settings
from tests.helpers import drift_item as item
from tests.unit.fake_purchasing import FakePurchasing


class FakeStock:
    """The stock gateway in memory: rows and held levels per site; a post
    stores the level as IFS would hold it; a count sets the part's stock."""

    def __init__(self, rows: list[StockRow], held: Iterable[ExternalStockLevel] = (), enabled: bool = True):
        self.stock_rows = rows
        self.held = {(h.site, h.part_no): h for h in held}
        self.levels_enabled = enabled
        self.counting_enabled = True
        self.levels_read = 0
        self.posted: list[tuple[ExternalStockLevel, ExternalStockLevel | None]] = []
        self.counts: list[StockCount] = []
        self.count_outcome: CountPosted | None = None  # None: apply the count

    def rows(self, sites: Iterable[str]) -> Iterator[StockRow]:
        wanted = set(sites)
        return (row for row in list(self.stock_rows) if row.site in wanted)

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

    def post_count(self, count: StockCount) -> CountPosted:
        self.counts.append(count)
        if self.count_outcome is not None:
            return self.count_outcome
        self.stock_rows = [r for r in self.stock_rows if (r.site, r.part_no) != (count.site, count.part_no)]
        self.stock_rows.append(StockRow(count.site, count.part_no, count.counted, "PCS"))
        return CountPosted.POSTED

    def posted_by_key(self) -> dict[tuple[str, str], tuple[ExternalStockLevel, ExternalStockLevel | None]]:
        # Levels are posted from a few threads: compare them by key, not order.
        return {(level.site, level.part_no): (level, current) for level, current in self.posted}


class FakeShipBob:
    """The ShipBob reads the sync makes: levels per SKU and FC, and the
    orders, returns and WROs it looks through for what is on its way."""

    def __init__(self, on_hand: dict[str, dict[int, tuple[int, int, int, int]]]):
        self.items = [{"inventory_id": n, "sku": sku, "locations": [
            {"location_id": fc, "on_hand_quantity": q[0], "committed_quantity": q[1],
             "fulfillable_quantity": q[2], "awaiting_quantity": q[3]} for fc, q in per_fc.items()]}
            for n, (sku, per_fc) in enumerate(on_hand.items(), start=100)]
        self.order_list: list[dict] = []
        self.return_list: list[dict] = []
        self.wro_list: list[dict] = []
        self.asked: list[tuple[str, dict]] = []

    def inventory_level_locations(self, location_id: int | None = None) -> Iterator[dict]:
        return iter(self.items)

    def orders(self, **filters) -> list[dict]:
        self.asked.append(("orders", filters))
        if "IDs" in filters:
            return [o for o in self.order_list if str(o["id"]) in filters["IDs"]]
        return list(self.order_list)

    def returns(self, **filters) -> list[dict]:
        self.asked.append(("returns", filters))
        if "Ids" in filters:
            return [r for r in self.return_list if str(r["id"]) in filters["Ids"]]
        return [r for r in self.return_list if r["status"] in filters.get("Status", [])]

    def wros(self, **filters) -> list[dict]:
        self.asked.append(("wros", filters))
        if "PurchaseOrderNumbers" in filters:
            return [w for w in self.wro_list if w["purchase_order_number"] in filters["PurchaseOrderNumbers"]]
        return [w for w in self.wro_list if w["status"] in filters["Statuses"] and not w.get("synced")]


@pytest.fixture
def database_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path}/state.db"
    migrate(url)
    return url


@pytest.fixture
def make_ctx(database_url, tmp_path):
    def make(stock: FakeStock, shipbob: FakeShipBob, purchasing: FakePurchasing | None = None,
             drift: str = "report") -> Context:
        mapping = tmp_path / f"mapping-{drift}.yaml"
        mapping.write_text(f"sites: {{S01: 156, S02: 157}}\ninventory_drift: {drift}\n")
        ctx = Context(load_settings(database_url=database_url, redis_url=None, sites=[],
                                    reports_dir=tmp_path / "reports", mapping_file=mapping))
        # Prime the context's cached gateways with the fakes.
        ctx.__dict__.update(stock=stock, shipbob=shipbob, purchasing=purchasing or FakePurchasing())
        return ctx

    return make


def held(site: str, part: str, on_hand: float, committed: float = 0, fulfillable: float | None = None,
         awaiting: float = 0) -> ExternalStockLevel:
    fulfillable = on_hand - committed if fulfillable is None else fulfillable
    return ExternalStockLevel(site, part, part, on_hand, committed, fulfillable, awaiting, committed)


def stamp_of(run_at: datetime) -> datetime:
    return run_at.replace(microsecond=0)


def ledger(ctx: Context) -> dict[tuple[str, str, str], StockDrift]:
    with ctx.session() as session:
        rows = session.execute(select(StockDrift)).scalars().all()
        for row in rows:
            session.expunge(row)
        return {(r.site, r.part, r.sku): r for r in rows}


def age_ledger(ctx: Context, days: int) -> None:
    """As if every recorded difference had been first seen `days` earlier."""
    with ctx.session() as session:
        for row in session.execute(select(StockDrift)).scalars():
            row.first_seen = row.first_seen - timedelta(days=days)


def shipment(shipment_id: int, fc: int, sku: str, qty: int, status: str = "Completed",
             details: tuple[str, ...] = ()) -> dict:
    return {"id": shipment_id, "status": status, "location": {"id": fc},
            "status_details": [{"name": d} for d in details],
            "products": [{"reference_id": sku, "inventory_items": [{"quantity": qty}]}]}


def our_order(order_id: int, *shipments: dict) -> dict:
    return {"id": order_id, "tags": [{"name": ORDER_TAG, "value": f"IFS-{order_id}"}],
            "shipments": list(shipments)}


# --------------------------------------------------------------------- tests

def test_the_sync_compares_raises_the_difference_and_posts_only_changed_levels(make_ctx):
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
    # No WRO: FakeShipBob cannot create one. The differences are one item for S01.
    job = item(ctx)
    assert job is not None and job.state == JobState.ATTENTION.value and job.ifs_ref == "S01"
    assert job.reason.startswith("2 stock difference(s) between IFS site S01 and ShipBob FC 156, "
                                 "the oldest since ")
    assert "BOXED: IFS UoM BOX is not an each-unit; not compared" in job.reason
    assert "P2: ShipBob has 6 fewer than IFS" in job.reason and str(result.report.csv) in job.reason
    assert item(ctx, "S02") is None
    # P1 is held as it is; P2 is new; P3 changed; BOXED is not compared, so not posted.
    stamp = stamp_of(result.run_at)
    assert stock.posted_by_key() == {
        ("S01", "P2"): (ExternalStockLevel("S01", "P2", "P2", 4, 0, 4, 0, 0, last_sync=stamp), None),
        ("S02", "P3"): (ExternalStockLevel("S02", "P3", "P3", 4, 0, 4, 0, 0, last_sync=stamp),
                        held("S02", "P3", 9)),
    }
    assert dict(result.levels) == {"unchanged": 1, "created": 1, "updated": 1}
    assert "2 difference(s) reported, the oldest since" in result.summary_line()
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


def test_a_dry_run_posts_nothing_and_changes_no_item_or_first_sighting(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 10, "PCS"), StockRow("S02", "P2", 1, "PCS")],
                      held=[held("S02", "P2", 1)])
    shipbob = FakeShipBob({"P1": {156: (4, 0, 4, 0)}, "P2": {157: (1, 0, 1, 0)}})
    ctx = make_ctx(stock, shipbob)

    result = sync_inventory(ctx, dry_run=True)

    assert stock.posted == []
    assert dict(result.levels) == {"unchanged": 1, "pending": 1}
    assert result.counts["shortfall"] == 1 and "S01" in result.reasons
    assert item(ctx) is None and ledger(ctx) == {}
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


# ------------------------------------------------------- what is on its way

def test_shipped_and_picked_units_without_a_voucher_are_not_drift(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 10, "PCS"), StockRow("S01", "P2", 6, "PCS")])
    shipbob = FakeShipBob({"P1": {156: (5, 0, 5, 0)}, "P2": {156: (5, 0, 5, 0)}})
    shipbob.order_list = [
        our_order(1, shipment(11, 156, "P1", 2), shipment(12, 156, "P1", 1, "Processing", ("Picked",))),
        our_order(2, shipment(21, 156, "P1", 2, "Processing", ("Packed",)),
                  shipment(22, 156, "P1", 7, "Processing")),       # not picked: still on hand
        {"id": 3, "shipments": [shipment(31, 156, "P2", 1)]},       # not ours: IFS never had it
    ]
    ctx = make_ctx(stock, shipbob)

    result = sync_inventory(ctx)

    assert dict(result.counts) == {"match": 1, "shortfall": 1}
    assert result.in_flight == {"skus": 1, "shipped": 5}
    with open(result.report.csv) as f:
        assert "none: 5 shipped, not on an IFS voucher yet" in f.read()
    assert "P2: ShipBob has 1 fewer than IFS" in result.reasons["S01"]


def test_a_voucher_posted_before_the_ifs_read_is_in_ifs_stock_one_posted_after_is_not(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 8, "PCS")])  # read after voucher 11, before 12
    shipbob = FakeShipBob({"P1": {156: (5, 0, 5, 0)}})
    shipbob.order_list = [our_order(1, shipment(11, 156, "P1", 2), shipment(12, 156, "P1", 3))]
    ctx = make_ctx(stock, shipbob)
    with ctx.session() as session:
        bind(session, BindingKind.SHIPMENT, "FV1", "11")
    real_rows = stock.rows

    def rows_then_voucher(sites):
        yield from real_rows(sites)
        with ctx.session() as session:  # posted while IFS was being read
            bind(session, BindingKind.SHIPMENT, "FV2", "12")

    stock.rows = rows_then_voucher

    result = sync_inventory(ctx)

    assert dict(result.counts) == {"match": 1} and result.in_flight["shipped"] == 3


def test_an_open_voucher_item_is_looked_up_a_closed_one_no_longer_counts(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 10, "PCS")])
    shipbob = FakeShipBob({"P1": {156: (8, 0, 8, 0)}})
    old = our_order(7, shipment(71, 156, "P1", 2))
    shipbob.order_list = []

    def orders(**filters):
        shipbob.asked.append(("orders", filters))
        return [old] if "IDs" in filters and "7" in filters["IDs"] else []

    shipbob.orders = orders
    ctx = make_ctx(stock, shipbob)
    with ctx.session() as session:
        job_id = jobs.request_job(session, Flow.SHIPMENT_VOUCHER.value, "7").job_id
        session.execute(update(Job).where(Job.id == job_id).values(state=JobState.ATTENTION.value))

    assert dict(sync_inventory(ctx).counts) == {"match": 1}  # the parked item explains it
    assert ("orders", {"IDs": ["7"]}) in shipbob.asked

    with ctx.session() as session:
        jobs.close(session, job_id, JobState.IGNORED, "ops", "never to be posted")
    assert dict(sync_inventory(ctx).counts) == {"shortfall": 1}


def test_restocked_returns_and_stowed_wros_not_received_in_ifs_are_not_drift(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 10, "PCS"), StockRow("S01", "P2", 4, "PCS")])
    shipbob = FakeShipBob({"P1": {156: (13, 0, 13, 0)}, "P2": {156: (9, 0, 9, 5)}})
    def ret(return_id: int, status: str, shipment_id: int, qty: int, **item) -> dict:
        return {"id": return_id, "status": status, "fulfillment_center": {"id": 156},
                "original_shipment_id": shipment_id, "inventory": [
                    {"id": 100, **item, "action_taken": [{"action": "Restock", "quantity_processed": qty},
                                                         {"action": "Dispose", "quantity_processed": 4}]}]}

    shipbob.return_list = [
        ret(501, "Completed", 11, 2, sku="P1"),
        ret(502, "Processing", 12, 1),          # the SKU from its inventory id
        ret(503, "Completed", 11, 9, sku="P1"),  # its RMA is posted: IFS has it
        ret(504, "Completed", 99, 5, sku="P1"),  # of a shipment IFS never knew: never reaches IFS
    ]
    # Shipment 12 is ours and shipped, its voucher not posted yet: IFS will
    # deliver 1 and receive it back.
    shipbob.order_list = [our_order(1, shipment(12, 156, "P1", 1))]
    shipbob.items[0]["locations"][0]["on_hand_quantity"] = 12 + 5
    purchasing = FakePurchasing()
    [line] = purchasing.add_order("PO1", [("P2", 10)])
    purchasing.receipts.append(Receipt(line.key, 3, "SB:PO1:1:1:3", None))  # ours
    shipbob.wro_list = [  # 8 stowed in two WROs, our receipts cover 3: 5 on their way
        {"id": 1, "purchase_order_number": "PO1", "status": "Completed", "synced": True,
         "fulfillment_center": {"id": 156}, "inventory_quantities": [{"sku": "P2", "stowed_quantity": 3}]},
        {"id": 2, "purchase_order_number": "PO1#2", "status": "Processing",
         "fulfillment_center": {"id": 156}, "inventory_quantities": [{"sku": "P2", "stowed_quantity": 5}]},
        {"id": 3, "purchase_order_number": "NOT-IFS", "status": "Completed",
         "fulfillment_center": {"id": 156}, "inventory_quantities": [{"sku": "P2", "stowed_quantity": 50}]},
    ]
    ctx = make_ctx(stock, shipbob, purchasing)
    with ctx.session() as session:
        bind(session, BindingKind.SHIPMENT, "FV1", "11")
        bind(session, BindingKind.RETURN, "RMA9", "503")

    result = sync_inventory(ctx)

    # P1: 17 at ShipBob - 3 restocked, not received + 1 shipped, no voucher = 15: 5 more than IFS
    # (return 504's restock, which IFS never gets). P2: 9 - 5 stowed = 4 (awaiting 5 never netted).
    assert dict(result.counts) == {"surplus": 1, "match": 1}
    assert result.in_flight == {"skus": 2, "restocked": 3, "shipped": 1, "stowed": 5}
    assert "P1: ShipBob has 5 more than IFS" in result.reasons["S01"]


# ----------------------------------------------------- differences and items

def test_a_difference_is_reported_with_its_age_until_it_is_gone(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 10, "PCS"), StockRow("S01", "P2", 5, "PCS")])
    shipbob = FakeShipBob({"P1": {156: (7, 0, 7, 0)}, "P2": {156: (5, 0, 5, 0)}})
    ctx = make_ctx(stock, shipbob)

    first = sync_inventory(ctx)
    seen = ledger(ctx)[("S01", "P1", "P1")].first_seen
    assert "the oldest since" in first.reasons["S01"] and "(new today)" in first.reasons["S01"]
    age_ledger(ctx, 2)

    second = sync_inventory(ctx)
    assert "(2 days)" in second.reasons["S01"] and item(ctx).state == JobState.ATTENTION.value
    assert second.items["S01"] == "updated"
    assert ledger(ctx)[("S01", "P1", "P1")].first_seen.date() == (seen - timedelta(days=2)).date()
    assert second.unhandled[0]["first_seen"] == (seen - timedelta(days=2)).date().isoformat()

    stock.stock_rows = [StockRow("S01", "P1", 7, "PCS"), StockRow("S01", "P2", 5, "PCS")]  # fixed in IFS
    third = sync_inventory(ctx)
    assert third.reasons == {} and third.gone == 1 and ledger(ctx) == {}
    assert item(ctx).state == JobState.DONE.value and third.items == {"S01": "closed"}
    assert "no difference" in third.summary_line()


def test_an_ignored_item_stays_closed_until_the_differences_change(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 10, "PCS")])
    shipbob = FakeShipBob({"P1": {156: (7, 0, 7, 0)}})
    ctx = make_ctx(stock, shipbob)
    sync_inventory(ctx)
    with ctx.session() as session:
        assert jobs.close(session, item(ctx).id, JobState.IGNORED, "ops", "a count is booked tomorrow")

    assert sync_inventory(ctx).items == {"S01": "ignored by ops"}
    assert item(ctx).state == JobState.IGNORED.value

    shipbob.items[0]["locations"][0]["on_hand_quantity"] = 6
    assert sync_inventory(ctx).items == {"S01": "raised"}
    assert item(ctx).state == JobState.ATTENTION.value and "4 fewer" in item(ctx).reason


def test_a_replay_of_the_item_syncs_its_site_and_closes_it_once_nothing_differs(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 10, "PCS"), StockRow("S02", "P2", 1, "PCS")])
    shipbob = FakeShipBob({"P1": {156: (7, 0, 7, 0)}, "P2": {157: (3, 0, 3, 0)}})
    ctx = make_ctx(stock, shipbob)
    sync_inventory(ctx)
    job_id = item(ctx).id
    with ctx.session() as session:
        assert jobs.replay(session, job_id)

    outcome = runner.run_job(ctx, job_id)
    assert outcome.status == "attention" and "3 fewer than IFS" in outcome.detail
    assert item(ctx).state == JobState.ATTENTION.value and item(ctx, "S02").state == JobState.ATTENTION.value

    stock.stock_rows[0] = StockRow("S01", "P1", 7, "PCS")
    with ctx.session() as session:
        assert jobs.replay(session, job_id)
    outcome = runner.run_job(ctx, job_id)
    assert outcome.status == "done" and outcome.detail.startswith("no stock difference left at S01")
    assert item(ctx).state == JobState.DONE.value
    assert item(ctx, "S02").state == JobState.ATTENTION.value  # only S01 was synced
    assert set(ledger(ctx)) == {("S02", "P2", "P2")}


# ---------------------------------------------------------------- counting

def test_adjust_counts_ifs_to_shipbobs_figure_once(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 10, "PCS"), StockRow("S01", "P2", 2, "PCS"),
                            StockRow("S01", "P3", 1, "PCS")])
    shipbob = FakeShipBob({"P1": {156: (5, 0, 5, 0)}, "P2": {156: (4, 0, 4, 0)}, "P3": {156: (1, 0, 1, 0)}})
    shipbob.order_list = [our_order(1, shipment(11, 156, "P1", 2))]  # not on a voucher yet
    ctx = make_ctx(stock, shipbob, drift="adjust")

    first = sync_inventory(ctx)

    assert [(c.site, c.part_no, c.counted, c.books) for c in stock.counts] == [
        ("S01", "P1", 7, 10), ("S01", "P2", 4, 2)]
    assert stock.counts[0].note == "ShipBob on hand 5; 2 shipped, not on an IFS voucher yet"
    assert dict(first.counts) == {"adjusted": 2, "match": 1} and first.adjusted == {"posted": 2}
    assert item(ctx) is None and ledger(ctx) == {}
    assert "2 counted in IFS to ShipBob's figure" in first.summary_line()

    again = sync_inventory(ctx)
    assert len(stock.counts) == 2 and dict(again.counts) == {"match": 3}


def test_a_count_not_posted_keeps_the_difference_reported(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 10, "PCS")])
    stock.count_outcome = CountPosted.MOVED
    ctx = make_ctx(stock, FakeShipBob({"P1": {156: (5, 0, 5, 0)}}), drift="adjust")

    result = sync_inventory(ctx)

    assert dict(result.counts) == {"shortfall": 1} and result.adjusted == {"moved": 1}
    assert "not counted: IFS stock moved while the sync read it" in item(ctx).reason


def test_a_dry_run_in_adjust_mode_counts_nothing(make_ctx):
    stock = FakeStock(rows=[StockRow("S01", "P1", 10, "PCS")])
    ctx = make_ctx(stock, FakeShipBob({"P1": {156: (5, 0, 5, 0)}}), drift="adjust")

    result = sync_inventory(ctx, dry_run=True)

    assert stock.counts == [] and "would count IFS from 10 to 5" in result.reasons["S01"]


def test_adjust_without_count_names_is_a_config_error(make_ctx):
    stock = FakeStock(rows=[])
    stock.counting_enabled = False
    with pytest.raises(ConfigError, match="inventory_drift: adjust needs the IFS count names"):
        sync_inventory(make_ctx(stock, FakeShipBob({}), drift="adjust"))
