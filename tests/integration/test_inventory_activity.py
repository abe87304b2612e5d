"""Flow 6 (inventory activity) over real HTTP and PostgreSQL: the warehouse's
own movements at the ShipBob sandbox (picks, WRO stows, adjustments,
restocks) become exactly one record each in the IFS sandbox's activity set,
at the site of their fulfillment center; the cursor is kept across runs;
a run that dies mid-page, or whose create answer is lost, is run again
without a duplicate.

Default mapping: S01 -> FC 156, S02 -> FC 157, parts map to themselves.
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from sqlalchemy import select, update

from connector import kv
from connector.context import Context
from connector.db.models import Flow, Job, utcnow
from connector.flows.inventory_activity import CURSOR_KEY
from connector.ifs.inventory_activity import ActivityRecord
from connector.polls import run_poll
from connector.runner import RunStatus, run_job
from connector.settings import load_settings
from tests.helpers import context_with, hook, ifs_rows, shipbob_api
from tests.sandbox.test_shipbob_sandbox import order_body, wro_body

pytestmark = pytest.mark.integration

ACTIVITY_SET = "ExternalInventoryActivitySet"
RESOURCE = "ExternalInventoryActivityHandling/ExternalInventoryActivitySet"


# ------------------------------------------------------------------ helpers

def seed(shipbob) -> dict[str, int]:
    return hook(shipbob, "seed", {"count": 2, "levels": {"P00001": {"156": 10, "157": 4},
                                                         "P00002": {"156": 6, "157": 0}}})["inventory_ids"]


def adjust(shipbob, sku: str, change: int, fc: int = 156) -> int:
    return hook(shipbob, "inventory/adjust", {"sku": sku, "fulfillment_center_id": fc,
                                              "quantity_change": change, "reason": "Cycle count"})[
        "inventory_audit_event_id"]


def warehouse_day(shipbob, inv: dict[str, int]) -> None:
    """A stow, a pick, adjustments at both FCs and a restock."""
    wro = shipbob_api(shipbob, "POST", "/receiving", wro_body([(inv["P00001"], 5)]))
    hook(shipbob, f"receiving/{wro['id']}/receive",
         {"items": [{"inventory_id": inv["P00001"], "received": 5, "stowed": 5}]})
    order = shipbob_api(shipbob, "POST", "/order", order_body("SO-1", [("P00001", 3), ("P00002", 1)],
                                                              location_id=156))
    hook(shipbob, f"orders/{order['id']}/ship", {})
    adjust(shipbob, "P00002", -2)
    adjust(shipbob, "P00001", 3, fc=157)
    ret = shipbob_api(shipbob, "POST", "/return", {
        "reference_id": "RMA-1", "fulfillment_center": {"id": 156},
        "inventory": [{"id": inv["P00001"], "quantity": 1, "requested_action": "Restock"}]})
    hook(shipbob, f"returns/{ret['id']}/advance", {"status": "Completed"})


def shipbob_history(shipbob, fc: int) -> list[dict]:
    events, cursor = [], None
    while True:
        page = shipbob_api(shipbob, "POST", "/inventory/history:query", {"facility_id": fc, "cursor": cursor})
        events += page["data"]
        if not page["next"]:
            return events
        cursor = page["data"][-1]["inventory_audit_event_id"]


def expected_records(shipbob) -> Counter:
    """(site, event id, category, net quantity) of every ShipBob event, once."""
    out: Counter = Counter()
    for site, fc in (("S01", 156), ("S02", 157)):
        for e in shipbob_history(shipbob, fc):
            qty = sum((side or {}).get("quantity_change", 0) for side in (e["increment"], e["decrement"]))
            out[(site, str(e["inventory_audit_event_id"]), e["event_category"], qty)] += 1
    return out


def recorded(ifs) -> Counter:
    return Counter((r["Contract"], r["ExternalRef"], r["EventCategory"], r["QtyChange"])
                   for r in ifs_rows(ifs, ACTIVITY_SET))


def writes(ifs) -> int:
    return hook(ifs, "stats", method="GET")["writes"]


def history_events_read(shipbob) -> int:
    pages = hook(shipbob, "stats", method="GET")["pages"]
    return pages.get("POST /2026-01/inventory/history:query", {}).get("items", 0)


def run_all(ctx: Context, details: dict[str, str | None] | None = None) -> dict[str, str]:
    """The beat's poll, then every job it asked for: {fc: status}; each
    run's detail into `details`."""
    _, job_ids = run_poll(ctx, "inventory_activity")
    statuses = {}
    for job_id in job_ids:
        result = run_job(ctx, job_id)
        statuses[job_key(ctx, job_id)] = result.status.value
        if details is not None:
            details[job_key(ctx, job_id)] = result.detail
    return statuses


def job_key(ctx: Context, job_id: int) -> str:
    with ctx.session() as session:
        return session.get(Job, job_id).key


def job_for(ctx: Context, fc: int) -> Job:
    with ctx.session() as session:
        return session.execute(select(Job).where(Job.flow == Flow.INVENTORY_ACTIVITY.value,
                                                 Job.key == str(fc))).scalar_one()


def due_now(ctx: Context, job_id: int) -> None:
    with ctx.session() as session:
        session.execute(update(Job).where(Job.id == job_id).values(next_run_at=utcnow()))


def cursor(ctx: Context, fc: int) -> str | None:
    with ctx.session() as session:
        return kv.get(session, f"{CURSOR_KEY}{fc}")


# -------------------------------------------------------------------- tests

def test_picks_stows_adjustments_and_restocks_become_one_record_each(ctx, sandboxes, caplog):
    caplog.set_level(logging.INFO)  # as on a worker: every log record is made
    ifs, shipbob = sandboxes
    inv = seed(shipbob)
    warehouse_day(shipbob, inv)
    expected = expected_records(shipbob)
    assert {category for _, _, category, _ in expected} == {
        "ReceivingStow", "OrderPicked", "InventoryAdjusted", "InventoryRestocked"}

    details: dict[str, str | None] = {}
    assert run_all(ctx, details) == {"156": "done", "157": "done"}

    assert recorded(ifs) == expected and set(expected.values()) == {1}
    pick = next(r for r in ifs_rows(ifs, ACTIVITY_SET) if r["EventCategory"] == "OrderPicked" and r["Sku"] == "P00001")
    assert (pick["PartNo"], pick["QtyChange"], pick["CommittedQtyChange"], pick["SourceRefType"]) == \
        ("P00001", -3, -3, "OrderId")
    stow = next(r for r in ifs_rows(ifs, ACTIVITY_SET) if r["EventCategory"] == "ReceivingStow")
    assert stow["SourceRefType"] == "WroAndBox" and stow["EventDate"]
    last = {fc: max(int(ref) for site, ref, _, _ in expected if site == s) for s, fc in (("S01", 156), ("S02", 157))}
    assert (cursor(ctx, 156), cursor(ctx, 157)) == (str(last[156]), str(last[157]))
    assert details["157"] == f"inventory activity FC 157 -> S02: 1 events in 1 pages, 1 recorded; cursor {last[157]}"


def test_the_cursor_is_kept_so_a_run_without_news_writes_nothing_and_news_is_recorded_once(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed(shipbob)
    adjust(shipbob, "P00001", -1)
    run_all(ctx)
    before, events_read = writes(ifs), history_events_read(shipbob)

    assert run_all(ctx) == {"156": "done", "157": "done"}
    assert writes(ifs) == before  # no IFS write at all
    assert history_events_read(shipbob) == events_read  # asked after the cursor: nothing came back
    later = adjust(shipbob, "P00002", 4)
    run_all(ctx)
    assert writes(ifs) == before + 1
    assert [r["ExternalRef"] for r in ifs_rows(ifs, ACTIVITY_SET)][-1] == str(later)
    assert recorded(ifs) == expected_records(shipbob)


def test_a_lost_create_answer_is_found_again_not_posted_twice(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed(shipbob)
    for change in (-1, -1, 2):
        adjust(shipbob, "P00001", change)
    hook(ifs, "faults", {"lost_response": 1})  # the first create is done, its answer lost

    first = run_all(ctx)
    assert first["156"] == "retry" and len(ifs_rows(ifs, ACTIVITY_SET)) == 1
    assert cursor(ctx, 156) is None  # the page is not done: its cursor is not kept

    job = job_for(ctx, 156)
    due_now(ctx, job.id)
    assert run_job(ctx, job.id).status == RunStatus.DONE
    assert recorded(ifs) == expected_records(shipbob) and len(ifs_rows(ifs, ACTIVITY_SET)) == 3


class DiesAfterTwo(ActivityRecord):
    """The default posting in a worker that dies after two creates."""

    creates = 0

    def post(self, activities):
        ifs = self._ifs
        original = ifs.create

        def create(*args, **kwargs):
            if DiesAfterTwo.creates == 2:
                raise SystemError("worker died")
            DiesAfterTwo.creates += 1
            return original(*args, **kwargs)

        ifs.create = create  # type: ignore[method-assign]
        try:
            return super().post(activities)
        finally:
            ifs.create = original  # type: ignore[method-assign]


def test_a_run_that_dies_mid_page_is_rerun_without_duplicates(settings, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    dying = context_with(settings, tmp_path, "sites: {S01: 156}\nifs:\n  inventory_activity:\n"
                                             f"    posting: '{__name__}:DiesAfterTwo'\n")
    seed(shipbob)
    made = [adjust(shipbob, sku, change) for sku, change in
            (("P00001", -1), ("P00002", 1), ("P00001", 2), ("P00002", -1), ("P00001", -1))]
    DiesAfterTwo.creates = 0

    assert run_all(dying) == {"156": "retry"}
    assert [r["ExternalRef"] for r in ifs_rows(ifs, ACTIVITY_SET)] == [str(e) for e in made[:2]]
    assert cursor(dying, 156) is None

    (tmp_path / "healthy").mkdir()
    healthy = context_with(settings, tmp_path / "healthy", "sites: {S01: 156}\n")
    job = job_for(healthy, 156)
    due_now(healthy, job.id)
    rerun = run_job(healthy, job.id)
    assert rerun.status == RunStatus.DONE and "3 recorded, 2 recorded before" in (rerun.detail or "")
    assert [r["ExternalRef"] for r in ifs_rows(ifs, ACTIVITY_SET)] == [str(e) for e in made]
    assert cursor(healthy, 156) == str(made[-1])


def test_turned_off_in_the_mapping_nothing_is_read_or_recorded(settings, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    off = context_with(settings, tmp_path, "sites: {S01: 156, S02: 157}\n"
                                           "ifs:\n  inventory_activity:\n    enabled: false\n")
    seed(shipbob)
    adjust(shipbob, "P00001", -1)

    assert run_all(off) == {}
    assert ifs_rows(ifs, ACTIVITY_SET) == []
    assert "inventory/history:query" not in str(hook(shipbob, "stats", method="GET"))


def test_an_unmapped_sku_parks_the_fc_with_the_reason(settings, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    strict = context_with(settings, tmp_path, "sites: {S01: 156}\nparts: {P00001: P00001}\n"
                                              "parts_map_to_themselves: false\n")
    seed(shipbob)
    first = adjust(shipbob, "P00001", -1)
    adjust(shipbob, "P00002", -1)

    assert run_all(strict) == {"156": "attention"}
    assert [r["ExternalRef"] for r in ifs_rows(ifs, ACTIVITY_SET)] == [str(first)]
    assert cursor(strict, 156) == str(first)
    assert "'P00002', which maps to no IFS part" in job_for(strict, 156).reason

