"""The inventory activity flow on in-memory fakes: ShipBob's history as pages
after a cursor, the gateway as records by (site, external reference), the
cursor as a value. The real clients, sandboxes and Celery are in
tests/integration/test_inventory_activity.py and tests/e2e/."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterator, Sequence

import pytest

from connector.errors import NeedsAttention
from connector.flows.inventory_activity import record_history
from connector.ifs.errors import IfsBusinessError
from connector.ifs.inventory_activity import ActivitiesPosted, InventoryActivity
from connector.shipbob.stock import HistoryEvent, HistoryPage

FC, SITE = 156, "S01"
AT = datetime(2026, 12, 5, 10, 0, tzinfo=timezone.utc)


def event(event_id: int, category: str = "OrderPicked", sku: str | None = "P1", qty: int = -1,
          reference: tuple[str, str] | None = ("OrderId", "9001")) -> HistoryEvent:
    return HistoryEvent(event_id, 500, category, AT, FC, sku, qty, qty if category == "OrderPicked" else 0,
                        9001 if category == "OrderPicked" else None, reference, {})


class FakeHistory:
    """ShipBob's `inventory/history:query`: the events after the cursor, oldest
    first, `page_size` a page; each page carries its last event id."""

    def __init__(self, events: list[HistoryEvent], page_size: int = 2):
        self.events = events
        self.page_size = page_size
        self.asked: list[int | None] = []

    def __call__(self, cursor: int | None) -> Iterator[HistoryPage]:
        self.asked.append(cursor)
        after = [e for e in self.events if cursor is None or e.id > cursor]
        if not after:
            yield HistoryPage([], cursor, False)
            return
        for start in range(0, len(after), self.page_size):
            page = after[start:start + self.page_size]
            yield HistoryPage(page, page[-1].id, start + self.page_size < len(after))


class Crash(Exception):
    """The worker died mid-page."""


class FakeActivities:
    """The gateway: records by (site, external reference), recognising a
    re-post; `crash_after` creates, it dies."""

    enabled = True

    def __init__(self) -> None:
        self.records: list[InventoryActivity] = []
        self.crash_after: int | None = None
        self.refuse: str | None = None

    def post(self, activities: Sequence[InventoryActivity]) -> ActivitiesPosted:
        created, already = [], []
        for activity in activities:
            if any((r.site, r.external_ref) == (activity.site, activity.external_ref) for r in self.records):
                already.append(activity.external_ref)
                continue
            if self.crash_after is not None:
                if self.crash_after == 0:
                    raise Crash()
                self.crash_after -= 1
            if self.refuse == activity.external_ref:
                raise IfsBusinessError("no", ora_code="ORA-20110", ifs_message="Part P1 is blocked.")
            self.records.append(activity)
            created.append(activity.external_ref)
        return ActivitiesPosted(tuple(created), tuple(already))

    def refs(self) -> list[str]:
        return [r.external_ref for r in self.records]


class FakeCursor:
    def __init__(self, value: int | None = None):
        self.value = value
        self.kept: list[int] = []

    def load(self) -> int | None:
        return self.value

    def keep(self, cursor: int) -> None:
        self.value = cursor
        self.kept.append(cursor)


def same(sku: str) -> str | None:
    return sku


def run(history, activities, cursor, part_for=same):
    return record_history(history, activities, cursor, SITE, FC, part_for)


def test_each_event_becomes_one_record_and_the_cursor_follows_the_pages():
    events = [event(11), event(12, "ReceivingStow", qty=5, reference=("WroAndBox", "77 1")),
              event(15, "InventoryAdjusted", qty=-2, reference=("AdjustmentReason", "Cycle count")),
              event(16, "InventoryRestocked", qty=1, reference=None), event(20)]
    activities, cursor = FakeActivities(), FakeCursor()

    result = run(FakeHistory(events), activities, cursor)

    assert activities.refs() == ["11", "12", "15", "16", "20"]
    assert cursor.kept == [12, 16, 20]  # after each page of two
    assert (result.events, result.created, result.already, result.pages, result.cursor) == (5, 5, 0, 3, 20)
    stow = activities.records[1]
    assert stow == InventoryActivity("12", SITE, "P1", "P1", "ReceivingStow", 5.0, 0.0, AT, "WroAndBox", "77 1")
    assert activities.records[3].source_type is None and activities.records[0].committed_change == -1.0


def test_a_second_run_with_no_new_events_records_nothing_and_reads_from_the_cursor():
    history, activities, cursor = FakeHistory([event(1), event(2), event(3)]), FakeActivities(), FakeCursor()
    run(history, activities, cursor)
    kept = list(cursor.kept)

    result = run(history, activities, cursor)

    assert history.asked == [None, 3]
    assert (result.events, result.created) == (0, 0) and cursor.kept == kept


def test_a_crash_mid_page_keeps_the_cursor_before_the_page_and_the_rerun_posts_no_duplicate():
    history = FakeHistory([event(i) for i in range(1, 8)], page_size=3)
    activities, cursor = FakeActivities(), FakeCursor()
    activities.crash_after = 4  # page 1 (3 events) and one event of page 2

    with pytest.raises(Crash):
        run(history, activities, cursor)
    assert activities.refs() == ["1", "2", "3", "4"] and cursor.value == 3

    activities.crash_after = None
    result = run(history, activities, cursor)

    assert activities.refs() == [str(i) for i in range(1, 8)]
    assert (result.created, result.already, result.cursor) == (3, 1, 7)


def test_an_unmapped_sku_parks_after_the_events_before_it_and_resumes_there():
    history = FakeHistory([event(1), event(2, sku="GONE"), event(3)], page_size=3)
    activities, cursor = FakeActivities(), FakeCursor()
    mapped = {"P1": "P1"}

    with pytest.raises(NeedsAttention, match="event 2 .*'GONE'"):
        run(history, activities, cursor, mapped.get)
    assert activities.refs() == ["1"] and cursor.value == 1

    mapped["GONE"] = "P-NEW"  # a person fixes the mapping and replays
    run(history, activities, cursor, mapped.get)
    assert activities.refs() == ["1", "2", "3"] and activities.records[1].part_no == "P-NEW"


def test_an_unmapped_first_event_keeps_no_cursor():
    cursor = FakeCursor(9)
    with pytest.raises(NeedsAttention):
        run(FakeHistory([event(10, sku="GONE")]), FakeActivities(), cursor, {}.get)
    assert cursor.kept == []


def test_an_event_without_a_sku_is_recorded_without_a_part():
    activities = FakeActivities()
    run(FakeHistory([event(4, "AttributeUpdated", sku=None, qty=0, reference=None)]), activities, FakeCursor(), {}.get)
    assert activities.records[0].part_no is None and activities.records[0].qty_change == 0.0


def test_an_ifs_refusal_parks_with_the_events_and_keeps_the_cursor():
    activities, cursor = FakeActivities(), FakeCursor()
    activities.refuse = "6"
    with pytest.raises(NeedsAttention, match="events 5..6: Part P1 is blocked"):
        run(FakeHistory([event(3), event(4), event(5), event(6)]), activities, cursor)
    assert cursor.value == 4 and activities.refs() == ["3", "4", "5"]
