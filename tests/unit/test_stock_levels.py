"""The stock ledger's arithmetic on an in-process coordinator: what a push may take
of a cached ShipBob snapshot, given what other pushes reserved since it was read.
Every snapshot is cached here, so no ShipBob call is made (the integration tests,
tests/integration/test_stock_shortage.py, read the sandbox)."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

from connector import stock_levels
from connector.coordination import LocalCoordinator
from connector.flows.stock_shortage import describe, needs_of
from connector.mappers.orders import LineRef, ShipBobOrderPlan
from connector.stock_levels import CenterLevel, Need, Shortfall, Snapshot

FC = 156


def context(**fulfillable: int):
    """A context whose coordinator caches `sku=units` at FC 156, read a second ago."""
    ctx = SimpleNamespace(coordinator=LocalCoordinator(), shipbob=None)
    for sku, units in fulfillable.items():
        cache(ctx, sku, units, read_at=time.time() - 1)
    return ctx


def cache(ctx, sku: str, units: int, read_at: float) -> None:
    snap = Snapshot(sku, 1, read_at, {FC: CenterLevel(units, units, 0)})
    ctx.coordinator.cache_set("stock:" + sku, snap.to_json(), 60)


def test_the_second_order_for_the_last_units_is_short():
    ctx = context(A=2)
    assert stock_levels.reserve(ctx, [Need("C1", "A", FC, 2)]) == []
    assert stock_levels.reserve(ctx, [Need("C2", "A", FC, 1)]) == [Shortfall("C2", "A", FC, 1, 0)]


def test_a_retry_replaces_its_own_reservation_and_a_release_gives_units_back():
    ctx = context(A=2)
    assert stock_levels.reserve(ctx, [Need("C1", "A", FC, 2)]) == []
    assert stock_levels.reserve(ctx, [Need("C1", "A", FC, 2)]) == []  # not 2 + 2
    stock_levels.release(ctx, [Need("C1", "A", FC, 2)])
    assert stock_levels.reserve(ctx, [Need("C2", "A", FC, 2)]) == []


def test_other_centers_and_skus_do_not_count():
    ctx = context(A=2, B=1)
    assert stock_levels.reserve(ctx, [Need("C1", "A", FC, 2), Need("C1", "B", FC, 1)]) == []
    assert stock_levels.reserve(ctx, [Need("C2", "A", 157, 1)]) == [Shortfall("C2", "A", 157, 1, 0)]
    assert stock_levels.reserve(ctx, [Need("C3", "B", FC, 1)]) == [Shortfall("C3", "B", FC, 1, 0)]


def test_a_confirmed_order_stops_counting_once_a_read_contains_it():
    ctx = context(A=3)
    stock_levels.reserve(ctx, [Need("C1", "A", FC, 2)])
    stock_levels.confirm(ctx, [Need("C1", "A", FC, 2)])
    # read before the order existed: its 2 still count
    assert stock_levels.reserve(ctx, [Need("C2", "A", FC, 3)]) == [Shortfall("C2", "A", FC, 3, 1)]
    stock_levels.release(ctx, [Need("C2", "A", FC, 3)])
    # read after it: ShipBob's 3 fulfillable already leave it out
    cache(ctx, "A", 3, read_at=time.time() + 1)
    assert stock_levels.reserve(ctx, [Need("C2", "A", FC, 3)]) == []


def test_an_unconfirmed_reservation_of_a_dead_push_lapses():
    ctx = context(A=2)
    old = time.time() - stock_levels.UNCONFIRMED_SECONDS - 1
    ctx.coordinator.cache_set("stock-ledger:A", json.dumps(
        {"C1": {"center": FC, "quantity": 2, "at": old, "confirmed": None}}), 60)
    assert stock_levels.reserve(ctx, [Need("C2", "A", FC, 2)]) == []


def test_concurrent_pushes_never_take_more_than_there_is():
    ctx = context(A=5)
    short: list[Shortfall] = []
    start = threading.Barrier(12)

    def push(n: int) -> None:
        start.wait()
        short.extend(stock_levels.reserve(ctx, [Need(f"C{n}", "A", FC, 1)]))

    threads = [threading.Thread(target=push, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(short) == 7


def test_snapshot_round_trip_and_overcommitment():
    snap = Snapshot("A", 7, 12.5, {FC: CenterLevel(0, 2, 5), 157: CenterLevel(4, 4, 0)})
    again = Snapshot.from_json("A", snap.to_json())
    assert again == snap
    assert again.overcommitted(FC) == 3 and again.overcommitted(157) == 0 and again.fulfillable(999) == 0


def test_needs_sum_a_plans_lines_per_sku_and_describe_names_the_site():
    plan = ShipBobOrderPlan("C1-S02", "C1", "S02", 157, {}, [
        LineRef("1", "1", 0, "A", 2.0, 1), LineRef("2", "1", 0, "A", 3.0, 2), LineRef("3", "1", 0, "B", 1.0, 3)])
    assert needs_of([plan]) == [Need("C1-S02", "A", 157, 5), Need("C1-S02", "B", 157, 1)]
    text = describe([Shortfall("C1-S02", "A", 157, 5, 2)], {"C1-S02": "S02"})
    assert text == "SKU 'A' at fulfillment center 157 (site S02): need 5, available 2"
    assert Shortfall.from_data(Shortfall("C1", "A", 1, 5, 2).as_data()) == Shortfall("C1", "A", 1, 5, 2)


def test_all_or_nothing_reserves_nothing_when_one_need_is_short():
    """A held order (two SKUs, one short) takes nothing, so the next order gets the
    units of the SKU it did have."""
    ctx = context(A=2, B=0)
    assert stock_levels.reserve(ctx, [Need("C1", "A", FC, 2), Need("C1", "B", FC, 1)],
                                all_or_nothing=True) == [Shortfall("C1", "B", FC, 1, 0)]
    assert stock_levels.reserve(ctx, [Need("C2", "A", FC, 2)]) == []
