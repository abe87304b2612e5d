"""Pure parts of the inventory sync: sums, classification (like with like:
what is on its way netted), one-sided SKUs, UoM mismatches and the levels
written back."""

from __future__ import annotations

from datetime import datetime, timezone

from connector.ifs.stock import ExternalStockLevel, StockRow
from connector.mappers.inventory import (
    Level,
    Pending,
    ShipBobLevels,
    SiteStock,
    Status,
    classify,
    compare_site,
    level_for_ifs,
)
from connector.mapping import Mapping

MAPPING = Mapping(sites={"S01": 156, "S02": 157})


def stock_of(*rows) -> SiteStock:
    stock = SiteStock()
    for site, part, qty, uom in rows:
        stock.add(StockRow(site, part, float(qty or 0), uom))
    return stock


def levels_of(items: dict[str, dict[int, Level]]) -> ShipBobLevels:
    levels = ShipBobLevels([156, 157])
    for n, (sku, per_fc) in enumerate(items.items(), start=1):
        levels.add({"inventory_id": n, "sku": sku, "locations": [
            {"location_id": fc, "on_hand_quantity": lv.on_hand, "committed_quantity": lv.committed,
             "fulfillable_quantity": lv.fulfillable, "awaiting_quantity": lv.awaiting}
            for fc, lv in per_fc.items()]})
    return levels


def rows_by_sku(stock, levels, mapping=MAPPING, site="S01", fc=156, in_flight=None):
    return {(r.sku or r.part): r for r in compare_site(site, fc, stock, levels, mapping, in_flight)}


def test_stock_rows_are_summed_per_site_and_part():
    stock = stock_of(("S01", "P1", 3, "PCS"), ("S01", "P1", 4.5, "pcs"), ("S02", "P1", 1, "EA"),
                     ("S01", "P2", None, "PCS"))
    assert stock.totals == {"S01": {"P1": 7.5, "P2": 0.0}, "S02": {"P1": 1.0}}
    assert stock.rows == 4 and stock.odd_uoms == {}


def test_non_each_units_are_remembered_per_site_and_part():
    stock = stock_of(("S01", "P1", 1, "BOX"), ("S01", "P1", 1, "CS"), ("S01", "P1", 1, "BOX"),
                     ("S01", "P2", 1, None))
    assert stock.odd_uoms == {("S01", "P1"): "BOX/CS", ("S01", "P2"): "(none)"}


def test_each_units_are_configurable():
    stock = SiteStock(each_units={"pk"})
    stock.add(StockRow("S01", "P1", 1, "PCS"))
    stock.add(StockRow("S01", "P2", 1, "PK"))
    assert set(stock.odd_uoms) == {("S01", "P1")}


def test_classify():
    assert classify(10, Level(10, 2, 8, 0)) == (Status.MATCH, "none")
    assert classify(10, Level(12, 0, 12, 0)) == (Status.SURPLUS, "report: ShipBob has 2 more than IFS")
    assert classify(10, Level(6, 0, 6, 1)) == (Status.SHORTFALL, "report: ShipBob has 4 fewer than IFS")
    # Units in transit to ShipBob are on neither side's on hand: never netted.
    assert classify(10, Level(6, 0, 6, 4))[0] is Status.SHORTFALL
    assert classify(2.5, Level(1, 0, 1, 0))[1] == "report: ShipBob has 1.5 fewer than IFS"


def test_what_is_on_its_way_is_netted():
    # 2 shipped at ShipBob, their voucher not in IFS yet: IFS still counts them.
    assert classify(10, Level(8, 0, 8, 0), Pending(shipped=2)) == (
        Status.MATCH, "none: 2 shipped, not on an IFS voucher yet")
    # Stowed and restocked at ShipBob, not received in IFS yet: ShipBob counts them already.
    assert classify(10, Level(14, 0, 14, 0), Pending(stowed=3, restocked=1))[0] is Status.MATCH
    status, action = classify(10, Level(7, 0, 7, 0), Pending(shipped=2))
    assert status is Status.SHORTFALL
    assert action == "report: ShipBob has 1 fewer than IFS (2 shipped, not on an IFS voucher yet)"
    assert Pending(1, 2, 3) + Pending(shipped=1) == Pending(2, 2, 3) and Pending(1, 2, 3).ahead == 4
    assert not Pending() and Pending(restocked=1)


def test_shipbob_levels_keep_only_mapped_fcs_with_stock():
    levels = levels_of({"A": {156: Level(1, 0, 1, 0), 157: Level(), 999: Level(5, 0, 5, 0)},
                        "B": {}})
    assert levels.inventory_ids == {"A": 1, "B": 2}
    assert levels.by_fc == {156: {"A": Level(1, 0, 1, 0)}, 157: {}}


def test_compare_site_classifies_every_kind():
    stock = stock_of(("S01", "MATCH", 5, "PCS"), ("S01", "SHORT", 10, "PCS"),
                     ("S01", "UNKNOWN", 3, "PCS"), ("S01", "BOXED", 2, "BOX"),
                     ("S02", "ELSEWHERE", 1, "PCS"))
    levels = levels_of({"MATCH": {156: Level(5, 1, 4, 0)}, "SHORT": {156: Level(4, 0, 4, 2)},
                        "BOXED": {156: Level(2, 0, 2, 0)}, "STRAY": {156: Level(7, 0, 7, 0)},
                        "ELSEWHERE": {156: Level(2, 0, 2, 0)}})
    rows = rows_by_sku(stock, levels)
    assert {sku: r.status for sku, r in rows.items()} == {
        "MATCH": Status.MATCH, "SHORT": Status.SHORTFALL, "UNKNOWN": Status.IFS_ONLY,
        "BOXED": Status.UOM_MISMATCH, "STRAY": Status.SHIPBOB_ONLY,
        # An IFS part with no stock at this site: IFS expects 0 here.
        "ELSEWHERE": Status.SURPLUS,
    }
    assert rows["SHORT"].as_report() == {
        "sku": "SHORT", "part": "SHORT", "site": "S01", "fc": 156, "ifs_qty": 10,
        "shipbob_on_hand": 4, "shipbob_fulfillable": 4, "awaiting": 2, "shipped_not_posted": 0,
        "stowed_not_received": 0, "restocked_not_received": 0, "difference": -6,
        "status": "shortfall", "first_seen": None, "age_days": None,
        "action": "report: ShipBob has 6 fewer than IFS"}
    assert rows["BOXED"].as_report()["difference"] is None
    assert rows["UNKNOWN"].as_report()["shipbob_on_hand"] is None
    assert rows["ELSEWHERE"].as_report()["ifs_qty"] == 0


def test_known_sku_without_stock_at_the_fc_is_a_shortfall():
    rows = rows_by_sku(stock_of(("S01", "P1", 3, "PCS")), levels_of({"P1": {157: Level(9, 0, 9, 0)}}))
    assert rows["P1"].status is Status.SHORTFALL and rows["P1"].difference == -3


def test_in_flight_units_are_looked_up_per_fc_and_sku_and_reported():
    stock = stock_of(("S01", "P1", 10, "PCS"), ("S01", "P2", 5, "PCS"))
    levels = levels_of({"P1": {156: Level(8, 0, 8, 0)}, "P2": {156: Level(5, 0, 5, 0)}})
    in_flight = {(156, "P1"): Pending(shipped=2), (157, "P2"): Pending(shipped=5)}  # P2's is another FC's
    rows = rows_by_sku(stock, levels, in_flight=in_flight)
    assert rows["P1"].status is Status.MATCH and rows["P1"].expected == 10
    assert rows["P1"].as_report()["shipped_not_posted"] == 2
    assert rows["P2"].status is Status.MATCH and rows["P2"].as_report()["shipped_not_posted"] == 0
    # All of a SKU picked: ShipBob's level is empty, and it still matches.
    rows = rows_by_sku(stock_of(("S01", "P3", 4, "PCS")), levels_of({"P3": {156: Level()}}),
                       in_flight={(156, "P3"): Pending(shipped=4)})
    assert rows["P3"].status is Status.MATCH


def test_a_rows_age_is_whole_days_since_it_was_first_seen():
    import dataclasses

    [row] = compare_site("S01", 156, stock_of(("S01", "P1", 3, "PCS")), levels_of({"P1": {156: Level(1, 0, 1, 0)}}),
                         MAPPING)
    seen = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
    report = dataclasses.replace(row, first_seen=seen).as_report(datetime(2026, 12, 3, 1, 0, tzinfo=timezone.utc))
    assert (report["first_seen"], report["age_days"]) == ("2026-12-01T02:00:00+00:00", 1)
    assert row.key == ("S01", "P1", "P1")


def test_part_mapping_and_conflicts():
    mapping = Mapping(sites={"S01": 156}, parts={"P1": "SKU-1", "P2": "SKU-1"},
                      parts_map_to_themselves=False)
    stock = stock_of(("S01", "P1", 1, "PCS"), ("S01", "P2", 1, "PCS"), ("S01", "P3", 1, "PCS"))
    rows = list(compare_site("S01", 156, stock, levels_of({"SKU-1": {156: Level(1, 0, 1, 0)},
                                                           "SKU-9": {156: Level(1, 0, 1, 0)}}),
                             mapping))
    by_part = {r.part: r for r in rows if r.part}
    assert by_part["P1"].status is Status.MATCH and by_part["P1"].sku == "SKU-1"
    assert by_part["P2"].status is Status.IFS_ONLY and "also mapped from part P1" in by_part["P2"].action
    assert by_part["P3"].status is Status.IFS_ONLY and by_part["P3"].action == "report: no SKU mapped for the part"
    stray = [r for r in rows if r.sku == "SKU-9"][0]
    assert stray.status is Status.SHIPBOB_ONLY and stray.part is None


def test_part_for_maps_skus_back_to_parts():
    assert Mapping(parts={"P1": "S1"}).part_for("S1") == "P1"
    assert Mapping(parts={"P1": "S1"}).part_for("OTHER") == "OTHER"
    assert Mapping(parts={"P1": "S1"}, parts_map_to_themselves=False).part_for("OTHER") is None
    assert Mapping(parts={"A": "X", "B": "X"}).part_for("X") == "A"  # the first listed wins


def test_levels_for_ifs_carry_shipbob_quantities_with_committed_as_picked():
    stock = stock_of(("S01", "P1", 9, "PCS"), ("S01", "NOSKU", 1, "PCS"), ("S01", "BOXED", 1, "BOX"))
    levels = levels_of({"P1": {156: Level(on_hand=9, committed=2, fulfillable=7, awaiting=3)},
                        "BOXED": {156: Level(1, 0, 1, 0)}, "STRAY": {156: Level(1, 0, 1, 0)}})
    rows = rows_by_sku(stock, levels, mapping=Mapping(sites={"S01": 156}, parts={"P1": "P1", "BOXED": "BOXED"},
                                                      parts_map_to_themselves=False))
    assert level_for_ifs(rows["P1"]) == ExternalStockLevel(
        site="S01", part_no="P1", sku="P1", on_hand=9, committed=2, fulfillable=7, awaiting=3, picked=2)
    # Rows that are not written back: no SKU, a non-each unit, no IFS part.
    assert [level_for_ifs(rows[k]) for k in ("NOSKU", "BOXED", "STRAY")] == [None, None, None]


def test_a_level_differs_only_in_its_values_beyond_decimal_noise():
    wanted = ExternalStockLevel("S01", "P1", "SKU", on_hand=9, committed=2, fulfillable=7, awaiting=3, picked=2)
    assert wanted.changed_from(None) == ("sku", "on_hand", "committed", "fulfillable", "awaiting", "picked")
    held = ExternalStockLevel("S01", "P1", "SKU", on_hand=9.0000001, committed=2.0, fulfillable=7,
                              awaiting=0, picked=None)
    assert wanted.changed_from(held) == ("awaiting", "picked")
    stamped = ExternalStockLevel("S01", "P1", "SKU", 9, 2, 7, 3, 2, last_sync=datetime.now(timezone.utc))
    assert wanted.changed_from(stamped) == ()
