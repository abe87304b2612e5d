"""Issue 13, "Inventory truth", end to end: IFS orders pushed, shipped at the
ShipBob sandbox and posted as vouchers by the real flows, the inventory sync
and `reconcile` reading both sandboxes over HTTP, state in PostgreSQL.

- units shipped at ShipBob whose voucher is not in IFS yet are not drift;
- a real difference is reported with its age on consecutive syncs (never
  classed "awaiting") and goes once it is fixed;
- `inventory_drift: adjust` counts IFS to ShipBob's figure once;
- committed beyond on hand at ShipBob makes `reconcile` exit 1, unless a
  flagged shortage item already names the SKU.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from cli import main
from cli.stack import env_for
from connector import jobs
from connector.context import Context
from connector.db.models import Flow, Job, JobState, StockDrift
from connector.flows.inventory_sync import sync_inventory
from connector.flows.order_poll import poll_orders
from connector.runner import run_job
from connector.settings import load_settings
from tests.helpers import context_with, drift_item, hook, ifs_rows

pytestmark = pytest.mark.integration

ADDRESS = {"Name": "Ada Lovelace", "Address1": "12 Analytical Way", "City": "Chicago",
           "State": "IL", "ZipCode": "60601", "Country": "US"}
STOCK_COLUMNS = ["Contract", "PartNo", "LocationNo", "QtyOnhand", "UoM"]
COUNT_ACTION = "IfsApp.InventoryPartCountHandling.InventoryPartCount_ReportCount"


# ------------------------------------------------------------------ helpers

def seed(sandboxes, ifs_rows_: list[list], shipbob_levels: dict[str, dict[str, int]]) -> None:
    ifs, shipbob = sandboxes
    hook(ifs, "stock", {"columns": STOCK_COLUMNS, "rows": ifs_rows_})
    hook(shipbob, "seed", {"skus": sorted(shipbob_levels), "levels": shipbob_levels})


def push(ctx, sandboxes, orders: dict[str, dict[str, int]]) -> dict[str, dict]:
    """IFS orders ({OrderNo: {part: qty}}) at S01, pushed by the order flow;
    their ShipBob orders by reference."""
    ifs, shipbob = sandboxes
    hook(ifs, "orders", {"orders": [
        {"OrderNo": no, "Contract": "S01", "ShipViaCode": "UPS-GND", "address": ADDRESS,
         "lines": [{"PartNo": part, "BuyQtyDue": qty} for part, qty in lines.items()]}
        for no, lines in orders.items()]})
    assert {run_job(ctx, j).status for j in poll_orders(ctx)} == {"done"}
    return {o["reference_id"]: o for o in hook(shipbob, "dump/orders", method="GET")}


def post_vouchers(ctx, order: dict) -> None:
    """What the order.shipped webhook sets off: the order's voucher job."""
    with ctx.session() as session:
        job_id = jobs.request_job(session, Flow.SHIPMENT_VOUCHER.value, str(order["id"]),
                                  shipbob_refs=[str(order["id"])]).job_id
    assert run_job(ctx, job_id).status == "done"


def ifs_on_hand(ifs, site: str, part: str) -> float:
    return sum(r["QtyOnhand"] for r in ifs_rows(ifs, "InventoryPartInStockSet")
               if r["Contract"] == site and r["PartNo"] == part)


def shipbob_level(shipbob, sku: str, fc: int = 156) -> dict:
    [item] = [i for i in hook(shipbob, "dump/inventory", method="GET") if i["sku"] == sku]
    return next(loc for loc in item["locations"] if loc["location_id"] == fc)


def a_day_passes(ctx) -> None:
    """Every difference on record was first seen a day earlier than it was."""
    with ctx.session() as session:
        session.execute(update(StockDrift).values(first_seen=StockDrift.first_seen - timedelta(days=1)))


def row_of(result, site: str, sku: str) -> dict:
    import csv

    with open(result.report.csv, newline="") as f:
        return next(r for r in csv.DictReader(f) if (r["site"], r["sku"]) == (site, sku))


def stats(server) -> dict:
    return hook(server, "stats", method="GET")


# -------------------------------------------------------------------- tests

def test_units_shipped_at_shipbob_without_an_ifs_voucher_yet_are_not_drift(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed(sandboxes, [["S01", "P1", "A-1", 20, "PCS"], ["S02", "P1", "B-1", 20, "PCS"]],
         {"P1": {"156": 20, "157": 20}})
    orders = push(ctx, sandboxes, {"C-SHIP": {"P1": 2}, "C-PICK": {"P1": 3}})
    hook(shipbob, f"orders/{orders['C-SHIP']['id']}/ship", {"with_tracking": True})
    [picked] = [s for s in hook(shipbob, "dump/shipments", method="GET")
                if s["order_id"] == orders["C-PICK"]["id"]]
    hook(shipbob, f"shipments/{picked['id']}/pick")
    # ShipBob took 5 off on hand; IFS still holds 20: no voucher yet.
    assert (shipbob_level(shipbob, "P1")["on_hand_quantity"], ifs_on_hand(ifs, "S01", "P1")) == (15, 20)

    before = sync_inventory(ctx)

    assert dict(before.counts) == {"match": 2}, before.summary_text()
    assert before.in_flight == {"skus": 1, "shipped": 5}
    assert row_of(before, "S01", "P1")["action"] == "none: 5 shipped, not on an IFS voucher yet"
    assert drift_item(ctx) is None

    # The vouchers are posted (IFS delivers: its stock drops) and the pick ships.
    post_vouchers(ctx, orders["C-SHIP"])
    hook(shipbob, f"orders/{orders['C-PICK']['id']}/ship", {"with_tracking": True})
    post_vouchers(ctx, orders["C-PICK"])
    assert ifs_on_hand(ifs, "S01", "P1") == 15

    after = sync_inventory(ctx)

    assert dict(after.counts) == {"match": 2} and after.in_flight == {}
    assert drift_item(ctx) is None


def test_a_real_difference_is_reported_with_its_age_until_it_is_fixed(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed(sandboxes, [["S01", "P1", "A-1", 10, "PCS"], ["S01", "P2", "A-1", 4, "PCS"]],
         {"P1": {"156": 7}, "P2": {"156": 4}})

    first = sync_inventory(ctx)

    assert dict(first.counts) == {"shortfall": 1, "match": 1}
    item = drift_item(ctx)
    assert item.state == JobState.ATTENTION.value
    assert "P1: ShipBob has 3 fewer than IFS, since" in item.reason and "(new today)" in item.reason
    assert row_of(first, "S01", "P1")["age_days"] == "0"
    a_day_passes(ctx)

    second = sync_inventory(ctx)

    # Still reported (no WRO, nothing classed "awaiting"), one day older.
    assert dict(second.counts) == {"shortfall": 1, "match": 1}
    assert hook(shipbob, "dump/receiving", method="GET") == []
    assert row_of(second, "S01", "P1")["age_days"] == "1"
    item = drift_item(ctx)
    assert item.state == JobState.ATTENTION.value and "the oldest since" in item.reason
    assert "(1 day)" in item.reason
    assert second.unhandled == [{
        "sku": "P1", "part": "P1", "site": "S01", "status": "shortfall",
        "first_seen": (first.run_at - timedelta(days=1)).date().isoformat(),
        "detail": f"S01/FC 156: report: ShipBob has 3 fewer than IFS; first seen "
                  f"{(first.run_at - timedelta(days=1)).date().isoformat()}"}]

    # A person books the count in IFS; the next sync finds nothing left.
    hook(ifs, "stock", {"columns": STOCK_COLUMNS, "rows": [["S01", "P1", "A-1", 7, "PCS"]]})
    third = sync_inventory(ctx)

    assert dict(third.counts) == {"match": 2} and third.gone == 1
    assert drift_item(ctx).state == JobState.DONE.value
    with ctx.session() as session:
        assert session.execute(select(StockDrift)).scalars().all() == []


def test_adjust_posts_one_counted_adjustment_and_a_rerun_posts_nothing(settings, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    ctx = context_with(settings, tmp_path, "sites: {S01: 156, S02: 157}\ninventory_drift: adjust\n")
    seed(sandboxes, [["S01", "P1", "A-1", 4, "PCS"], ["S01", "P1", "A-2", 6, "PCS"]], {"P1": {"156": 7}})

    first = sync_inventory(ctx)

    assert dict(first.counts) == {"adjusted": 1} and first.adjusted == {"posted": 1}
    assert ifs_on_hand(ifs, "S01", "P1") == 7
    [count] = ifs_rows(ifs, "InventoryPartCountSet")
    assert (count["QtyOnhand"], count["LastCountedQty"]) == (7, 7)
    assert count["LastCountRef"].startswith("ShipBob FC 156 ")
    assert stats(ifs)["actions"] == {COUNT_ACTION: 1}
    assert drift_item(ctx) is None

    again = sync_inventory(ctx)

    assert dict(again.counts) == {"match": 1} and again.adjusted == {}
    assert stats(ifs)["actions"] == {COUNT_ACTION: 1}


def reconcile_cli(settings, monkeypatch, tmp_path, mapping: Path | None = None):
    monkeypatch.chdir(tmp_path)  # the CLI reads ./.env: not a developer's own
    for name, value in env_for(settings, broker_url="memory://").items():
        monkeypatch.setenv(name, value)
    if mapping is not None:
        monkeypatch.setenv("MAPPING_FILE", str(mapping))
    return CliRunner().invoke(main, ["reconcile"], catch_exceptions=False)


OVERSOLD = ("committed beyond on hand at ShipBob, per SKU and fulfillment center: P1 at FC 156: "
            "committed 5, on hand 2")


def test_committed_beyond_on_hand_at_shipbob_makes_reconcile_exit_1(settings, sandboxes, monkeypatch, tmp_path):
    # No stock check before the push (`shortage: off`): ShipBob holds 2, the order takes 5.
    ifs, shipbob = sandboxes
    ctx = context_with(settings, tmp_path,
                       "sites: {S01: 156, S02: 157}\nship_via: {UPS-GND: Standard}\nshortage: 'off'\n")
    seed(sandboxes, [["S01", "P1", "A-1", 2, "PCS"]], {"P1": {"156": 2, "157": 0}})
    push(ctx, sandboxes, {"C-OVERSOLD": {"P1": 5}})
    level = shipbob_level(shipbob, "P1")
    assert (level["committed_quantity"], level["on_hand_quantity"]) == (5, 2)

    result = reconcile_cli(settings, monkeypatch, tmp_path, ctx.settings.mapping_file)

    assert result.exit_code == 1, result.output
    assert OVERSOLD in result.output and f"{OVERSOLD} (" not in result.output  # unexplained


def test_a_flagged_shortage_explains_committed_beyond_on_hand(ctx, sandboxes, settings, monkeypatch, tmp_path):
    # The default `shortage: flag` pushes the order and parks an item naming the SKU.
    seed(sandboxes, [["S01", "P1", "A-1", 2, "PCS"]], {"P1": {"156": 2, "157": 0}})
    push(ctx, sandboxes, {"C-OVERSOLD": {"P1": 5}})

    result = reconcile_cli(settings, monkeypatch, tmp_path)

    assert result.exit_code == 0, result.output
    assert f"{OVERSOLD} (parked for attention: order C-OVERSOLD was pushed short at ShipBob: SKU 'P1'" \
        in result.output
