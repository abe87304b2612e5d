"""Flow 5 end to end: real PostgreSQL and Redis, both sandboxes over HTTP.

Default mapping: S01 -> FC 156, S02 -> FC 157, parts map to themselves.
"""

from __future__ import annotations

import csv
import json

import pytest
import requests
from sqlalchemy import select

from connector import runner
from connector.context import Context
from connector.db.models import InventorySnapshot, Job, utcnow
from connector.flows.inventory_sync import request_daily_sync, sync_inventory
from connector.settings import load_settings

pytestmark = pytest.mark.integration

STOCK_COLUMNS = ["Contract", "PartNo", "LocationNo", "QtyOnhand", "UoM"]


# ------------------------------------------------------------------ helpers

def seed_ifs(ifs, rows: list[list]) -> None:
    requests.post(f"{ifs.url}/_sandbox/stock", json={"columns": STOCK_COLUMNS, "rows": rows},
                  timeout=30).raise_for_status()


def seed_shipbob(shipbob, levels: dict[str, dict[int, int]]) -> dict[str, int]:
    """On-hand per SKU and FC; every FC not named stays at 0."""
    body = {"skus": list(levels), "levels": {sku: {str(fc): q for fc, q in per_fc.items()} or {"156": 0}
                                             for sku, per_fc in levels.items()}}
    response = requests.post(f"{shipbob.url}/_sandbox/seed", json=body, timeout=30)
    response.raise_for_status()
    return response.json()["inventory_ids"]


def wros(shipbob) -> list[dict]:
    return requests.get(f"{shipbob.url}/_sandbox/dump/receiving", timeout=30).json()


def ifs_stats(ifs) -> dict:
    return requests.get(f"{ifs.url}/_sandbox/stats", timeout=30).json()


def shipbob_stats(shipbob) -> dict:
    return requests.get(f"{shipbob.url}/_sandbox/stats", timeout=30).json()


def ifs_levels(ifs) -> dict[tuple[str, str], dict]:
    rows = requests.get(f"{ifs.url}/_sandbox/dump/ExternalStockLevelSet", timeout=30).json()["value"]
    return {(r["Contract"], r["PartNo"]): r for r in rows}


def report_rows(result) -> dict[tuple[str, str], dict]:
    with open(result.report.csv, newline="") as f:
        return {(r["site"], r["sku"] or r["part"]): r for r in csv.DictReader(f)}


def drift_items(ctx) -> dict[str, Job]:
    """The stock-drift attention item of each site that has one."""
    with ctx.session() as session:
        jobs = session.execute(select(Job).where(Job.key.startswith("stock-drift:"))).scalars().all()
        for job in jobs:
            session.expunge(job)
    return {job.key.removeprefix("stock-drift:"): job for job in jobs}


# -------------------------------------------------------------------- tests

def test_matching_stock_pushes_nothing(ctx, sandboxes):
    ifs, shipbob = sandboxes
    # Stock spread over several locations and lots sums per site and part.
    seed_ifs(ifs, [["S01", "P1", "A-1", 2, "PCS"], ["S01", "P1", "A-2", 3, "PCS"],
                   ["S02", "P2", "B-1", 7, "EA"]])
    seed_shipbob(shipbob, {"P1": {156: 5}, "P2": {157: 7}})

    result = sync_inventory(ctx)

    assert dict(result.counts) == {"match": 2}
    assert wros(shipbob) == [] and result.reasons == {} and drift_items(ctx) == {}
    assert "POST /2026-01/receiving" not in shipbob_stats(shipbob)["requests"]
    rows = report_rows(result)
    assert rows[("S01", "P1")]["ifs_qty"] == "5" and rows[("S01", "P1")]["status"] == "match"


def test_shortfalls_are_reported_never_sent_as_wros(ctx, sandboxes):
    # Issue 13: a WRO announces stock nobody sends. (It replaces the test that
    # shortfalls became one WRO per FC.)
    ifs, shipbob = sandboxes
    seed_ifs(ifs, [["S01", "P1", "A-1", 10, "PCS"], ["S01", "P2", "A-1", 3, "PCS"],
                   ["S01", "P4", "A-1", 4, "PCS"],
                   ["S02", "P3", "B-1", 4, "PCS"], ["S02", "P3", "B-2", 3, "PCS"]])
    seed_shipbob(shipbob, {"P1": {156: 4}, "P2": {}, "P3": {157: 2}, "P4": {156: 4}})

    result = sync_inventory(ctx)

    assert result.counts["shortfall"] == 3 and result.counts["match"] == 1
    assert wros(shipbob) == [] and "POST /2026-01/receiving" not in shipbob_stats(shipbob)["requests"]
    assert report_rows(result)[("S01", "P1")]["action"] == "report: ShipBob has 6 fewer than IFS"
    items = drift_items(ctx)
    assert {site: job.state for site, job in items.items()} == {"S01": "attention", "S02": "attention"}
    assert items["S01"].reason.startswith("2 stock difference(s) between IFS site S01 and ShipBob FC 156")
    assert "P1: ShipBob has 6 fewer than IFS" in items["S01"].reason
    assert "P3: ShipBob has 5 fewer than IFS" in items["S02"].reason


def test_a_difference_is_reported_again_the_next_run_never_classed_awaiting(ctx, sandboxes):
    # Issue 13: after the shortfall WRO the drift was classed "awaiting" and no
    # longer reported. (It replaces the test that a second run the same day
    # created no new WRO.)
    ifs, shipbob = sandboxes
    seed_ifs(ifs, [["S01", "P1", "A-1", 10, "PCS"]])
    seed_shipbob(shipbob, {"P1": {156: 4}})
    first = sync_inventory(ctx)

    again = sync_inventory(ctx)

    assert dict(first.counts) == dict(again.counts) == {"shortfall": 1}
    assert report_rows(again)[("S01", "P1")]["first_seen"] == report_rows(first)[("S01", "P1")]["first_seen"]
    assert again.items == {"S01": "updated"} and wros(shipbob) == []


def test_dry_run_writes_nothing_anywhere(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed_ifs(ifs, [["S01", "P1", "A-1", 10, "PCS"], ["S02", "P2", "B-1", 1, "PCS"]])
    seed_shipbob(shipbob, {"P1": {156: 4}, "P2": {157: 1}})

    result = sync_inventory(ctx, dry_run=True)

    assert ifs_stats(ifs)["writes"] == 0
    assert "POST /2026-01/receiving" not in shipbob_stats(shipbob)["requests"]
    assert wros(shipbob) == [] and ifs_levels(ifs) == {}
    assert result.levels["pending"] == 2
    assert report_rows(result)[("S01", "P1")]["action"] == "report: ShipBob has 6 fewer than IFS"
    assert "S01" in result.reasons and drift_items(ctx) == {}  # nothing raised in a dry run
    assert result.report.csv.name.endswith("-dry-run.csv") and result.report.json.exists()
    with ctx.session() as session:
        snapshot = session.get(InventorySnapshot, result.snapshot_id)
        assert snapshot.dry_run == 1
        assert snapshot.summary["counts"]["shortfall"] == 1


def test_one_sided_skus_and_uom_mismatch_are_reported(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed_ifs(ifs, [["S01", "IFSONLY", "A-1", 3, "PCS"], ["S01", "BOXED", "A-1", 2, "BOX"],
                   ["S01", "SURPLUS", "A-1", 1, "PCS"]])
    seed_shipbob(shipbob, {"STRAY": {157: 5}, "BOXED": {156: 24}, "SURPLUS": {156: 3}})

    result = sync_inventory(ctx)

    rows = report_rows(result)
    assert rows[("S01", "IFSONLY")]["status"] == "ifs_only"
    assert rows[("S01", "IFSONLY")]["shipbob_on_hand"] == ""
    assert rows[("S02", "STRAY")]["status"] == "shipbob_only"
    assert rows[("S02", "STRAY")]["shipbob_on_hand"] == "5"
    assert rows[("S01", "BOXED")]["status"] == "uom_mismatch"
    assert "BOX is not an each-unit" in rows[("S01", "BOXED")]["action"]
    assert rows[("S01", "SURPLUS")]["status"] == "surplus"
    assert rows[("S01", "SURPLUS")]["difference"] == "2"
    # Nothing is guessed: no WRO for any of them, no levels for the unmatched ones.
    assert wros(shipbob) == []
    assert set(ifs_levels(ifs)) == {("S01", "SURPLUS")}
    with ctx.session() as session:
        snapshot = session.get(InventorySnapshot, result.snapshot_id)
    assert {(u["sku"], u["status"]) for u in snapshot.summary["unhandled"]} == {
        ("IFSONLY", "ifs_only"), ("STRAY", "shipbob_only"), ("BOXED", "uom_mismatch"),
        ("SURPLUS", "surplus")}
    assert snapshot.summary["skus_compared"] == 4


def test_report_files_hold_every_row(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed_ifs(ifs, [["S01", "P1", "A-1", 10, "PCS"], ["S02", "P1", "B-1", 1, "PCS"]])
    seed_shipbob(shipbob, {"P1": {156: 10, 157: 3}})

    result = sync_inventory(ctx, site="S02")

    assert result.sites == {"S02": 157}
    seen = result.run_at.isoformat()
    with open(result.report.csv, newline="") as f:
        assert list(csv.DictReader(f)) == [{
            "sku": "P1", "part": "P1", "site": "S02", "fc": "157", "ifs_qty": "1",
            "shipbob_on_hand": "3", "shipbob_fulfillable": "3", "awaiting": "0", "shipped_not_posted": "0",
            "stowed_not_received": "0", "restocked_not_received": "0", "difference": "2",
            "status": "surplus", "first_seen": seen, "age_days": "0",
            "action": "report: ShipBob has 2 more than IFS"}]
    data = json.loads(result.report.json.read_text())
    assert data["rows"] == [{"sku": "P1", "part": "P1", "site": "S02", "fc": 157, "ifs_qty": 1,
                             "shipbob_on_hand": 3, "shipbob_fulfillable": 3, "awaiting": 0,
                             "shipped_not_posted": 0, "stowed_not_received": 0, "restocked_not_received": 0,
                             "difference": 2, "status": "surplus", "first_seen": seen, "age_days": 0,
                             "action": "report: ShipBob has 2 more than IFS"}]
    assert data["summary"]["counts"]["surplus"] == 1 and data["dry_run"] is False
    assert data["summary"]["differences"] == {"S02": {"open": 1, "oldest_first_seen": seen, "item": "raised"}}
    assert result.report.csv.parent == ctx.settings.reports_dir
    with ctx.session() as session:
        snapshot = session.get(InventorySnapshot, result.snapshot_id)
        assert snapshot.rows["report"]["csv"] == str(result.report.csv)
        assert snapshot.rows["drift"] == [["P1", "P1", "S02", 157, 1, 3, 0, 2, "surplus", seen]]


def test_levels_go_back_to_ifs_only_when_they_change(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed_ifs(ifs, [["S01", "P1", "A-1", 5, "PCS"], ["S01", "P2", "A-1", 2, "PCS"]])
    seed_shipbob(shipbob, {"P1": {156: 5}, "P2": {156: 2}})

    first = sync_inventory(ctx)
    assert first.levels["created"] == 2
    level = ifs_levels(ifs)[("S01", "P1")]
    assert {k: level[k] for k in ("Sku", "OnHandQty", "CommittedQty", "FulfillableQty",
                                  "AwaitingQty", "PickedQty")} == {
        "Sku": "P1", "OnHandQty": 5, "CommittedQty": 0, "FulfillableQty": 5, "AwaitingQty": 0,
        "PickedQty": 0}

    writes = ifs_stats(ifs)["writes"]
    second = sync_inventory(ctx)
    assert ifs_stats(ifs)["writes"] == writes and second.levels["unchanged"] == 2

    seed_shipbob(shipbob, {"P2": {156: 1}})
    before = ifs_stats(ifs)
    third = sync_inventory(ctx)
    after = ifs_stats(ifs)
    assert after["writes"] == before["writes"] + 1 and third.levels["updated"] == 1
    patches = after["requests"]["ExternalStockLevelHandling/ExternalStockLevelSet"].get("PATCH", 0)
    assert patches == before["requests"]["ExternalStockLevelHandling/ExternalStockLevelSet"].get("PATCH", 0) + 1
    assert ifs_levels(ifs)[("S01", "P2")]["OnHandQty"] == 1


def test_level_write_back_can_be_turned_off(settings, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("sites: {S01: 156, S02: 157}\nifs:\n  stock:\n    external_level_set: ''\n")
    ctx = Context(load_settings(**{k: getattr(settings, k) for k in (
        "database_url", "redis_url", "redis_prefix", "ifs_base_url", "shipbob_base_url",
        "reports_dir")}, mapping_file=mapping))
    seed_ifs(ifs, [["S01", "P1", "A-1", 5, "PCS"]])
    seed_shipbob(shipbob, {"P1": {156: 5}})

    result = sync_inventory(ctx)

    assert result.levels["disabled"] == 1
    assert "ExternalStockLevelHandling/ExternalStockLevelSet" not in ifs_stats(ifs)["requests"]


def test_unmapped_site_needs_attention(ctx, sandboxes):
    from connector.errors import NeedsAttention

    with pytest.raises(NeedsAttention, match="S99"):
        sync_inventory(ctx, site="S99")


def test_daily_job_runs_through_the_runner(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed_ifs(ifs, [["S01", "P1", "A-1", 3, "PCS"]])
    seed_shipbob(shipbob, {"P1": {156: 1}})

    [job_id] = request_daily_sync(ctx)
    outcome = runner.run_job(ctx, job_id)

    assert outcome.status == "done"
    assert "1 shortfall" in outcome.detail and "1 difference(s) reported" in outcome.detail
    with ctx.session() as session:
        job = session.get(Job, job_id)
        assert job.key == f"daily-{utcnow().date().isoformat()}" and job.flow == "inventory_sync"
        snapshots = session.execute(select(InventorySnapshot)).scalars().all()
        assert [s.dry_run for s in snapshots] == [0]
    assert wros(shipbob) == [] and drift_items(ctx)["S01"].state == "attention"


def test_cli_helper_prints_the_summary(ctx, sandboxes, capsys):
    from connector.flows.inventory_sync import main_cli

    ifs, shipbob = sandboxes
    seed_ifs(ifs, [["S01", "P1", "A-1", 3, "PCS"]])
    seed_shipbob(shipbob, {"P1": {156: 3}})

    assert main_cli(site="S01", dry_run=True, ctx=ctx) == 0
    text = capsys.readouterr().out
    assert text.startswith("inventory sync (dry run) S01: 1 SKU/FC compared (1 match)")
    assert main_cli(dry_run=True, json_output=True, ctx=ctx) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"]["match"] == 1 and summary["dry_run"] is True
