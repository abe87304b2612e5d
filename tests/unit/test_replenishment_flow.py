"""Flow 4a's IFS side on an in-memory purchasing gateway: which purchase
orders become jobs, which lines go to ShipBob and which are held back."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connector.context import Context
from connector.db.models import Flow, Job
from connector.errors import NeedsAttention
from connector.flows import replenishment
from connector.flows.replenishment import poll_replenishment, wanted_quantities
from connector.flows.wro_quantities import needs_by_part
from connector.ifs.purchasing import Receipt
from connector.settings import Settings
from tests.unit.fake_purchasing import FakePurchasing


class NoShipBob:
    """Stands where the ShipBob client would: the test fails if it is used."""

    def __getattr__(self, name):
        raise AssertionError(f"ShipBob was called ({name}) before IFS's answer was checked")


def context(ifs: FakePurchasing, **settings) -> Context:
    ctx = Context(Settings(**settings))
    ctx.__dict__["purchasing"] = ifs  # the gateway, as Context would build it
    ctx.__dict__["shipbob"] = NoShipBob()
    return ctx


def test_each_released_order_of_a_mapped_site_becomes_one_job(clean_db):
    ifs = FakePurchasing()
    ifs.add_order("P2", [("A", 1)], site="S02")
    ifs.add_order("P1", [("A", 1)], site="S01")
    ifs.add_order("PPLANNED", [("A", 1)], state="Planned")
    ifs.add_order("POTHER", [("A", 1)], site="S99")
    ctx = context(ifs, database_url=clean_db)

    created = poll_replenishment(ctx)
    assert poll_replenishment(ctx) == []  # the next poll finds them all known

    assert ifs.released_sites == [["S01", "S02"]] * 2  # the mapping's sites
    with ctx.session() as session:
        jobs = session.execute(select(Job.id, Job.flow, Job.key).order_by(Job.id)).all()
    assert [(flow, key) for _, flow, key in jobs] == [(Flow.REPLENISHMENT.value, "P1"),
                                                     (Flow.REPLENISHMENT.value, "P2")]
    assert created == [job_id for job_id, _, _ in jobs]


@pytest.mark.parametrize("site", ["S99", None])
def test_an_order_for_a_site_without_a_fulfillment_center_parks_before_shipbob_is_asked(site):
    ifs = FakePurchasing()
    ifs.add_order("P1", [("A", 5)], site=site)

    with pytest.raises(NeedsAttention) as parked:
        replenishment.run(context(ifs), Job(flow=Flow.REPLENISHMENT.value, key="P1"))
    assert str(parked.value) == f"purchase order P1 site {site!r} has no fulfillment center in the mapping"


def needs(ifs: FakePurchasing, po: str):
    return needs_by_part(ifs.lines(po), ifs.received_by_us(po), ifs.is_closed)


def test_open_quantities_are_summed_per_inventory_id():
    ifs = FakePurchasing()
    lines = ifs.add_order("P1", [("A", 10), ("B", 4), ("A", 3)])
    ifs.receive_by_hand(lines[0].key, 6)

    assert wanted_quantities(needs(ifs, "P1"), {"A": 101, "B": 102}, sent={}) == ({101: 7, 102: 4}, [])


def test_what_a_wro_already_carries_is_not_sent_again():
    ifs = FakePurchasing()
    ifs.add_order("P1", [("A", 10), ("B", 4)])

    assert wanted_quantities(needs(ifs, "P1"), {"A": 101, "B": 102}, sent={101: 10}) == ({102: 4}, [])


def test_a_line_increased_after_its_wro_sends_exactly_the_extra():
    ifs = FakePurchasing()
    [a, _] = ifs.add_order("P1", [("A", 10), ("B", 4)])
    ifs.set_line(a.key, qty_due=15.0)

    assert wanted_quantities(needs(ifs, "P1"), {"A": 101, "B": 102}, sent={101: 10, 102: 4}) == ({101: 5}, [])


def test_what_arrived_through_shipbob_is_still_expected_from_it():
    """Our receipts raise the arrived quantity, not the need: no top-up for
    units ShipBob already delivered, however the line was received."""
    ifs = FakePurchasing()
    [a] = ifs.add_order("P1", [("A", 10)])
    ifs.receipts.append(Receipt(a.key, 4, "SB:P1:1:1:4", None))
    ifs.set_line(a.key, qty_arrived=4.0)
    ifs.receive_by_hand(a.key, 1)

    assert needs(ifs, "P1")["A"].need == 9  # 10 ordered, 1 of them booked by hand
    assert wanted_quantities(needs(ifs, "P1"), {"A": 101}, sent={101: 10}) == ({}, [])


def test_a_closed_or_cancelled_line_expects_only_what_arrived_through_shipbob():
    ifs = FakePurchasing()
    [a, b] = ifs.add_order("P1", [("A", 10), ("B", 4)])
    ifs.receipts.append(Receipt(a.key, 3, "SB:P1:1:1:3", None))
    ifs.set_line(a.key, qty_arrived=3.0, state="Closed")
    ifs.set_line(b.key, state="Cancelled")

    assert {part: need.need for part, need in needs(ifs, "P1").items()} == {"A": 3, "B": 0}
    assert wanted_quantities(needs(ifs, "P1"), {"A": 101, "B": 102}, sent={}) == ({101: 3}, [])


def test_an_unknown_sku_leaves_its_line_out_with_the_reason():
    ifs = FakePurchasing()
    ifs.add_order("P1", [("A", 10), ("NEW", 3)])

    assert wanted_quantities(needs(ifs, "P1"), {"A": 101, "NEW": None}, sent={}) == (
        {101: 10}, ["line 2/1 part NEW: SKU unknown at ShipBob"])


def test_a_fraction_holds_the_whole_part_back():
    ifs = FakePurchasing()
    ifs.add_order("P1", [("A", 10), ("A", 2.5), ("B", 1)])

    assert wanted_quantities(needs(ifs, "P1"), {"A": 101, "B": 102}, sent={}) == (
        {102: 1}, ["line 2/1 part A: quantity 2.5 is not a whole number of units"])
