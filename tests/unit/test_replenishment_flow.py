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


def test_open_quantities_are_summed_per_inventory_id():
    ifs = FakePurchasing()
    lines = ifs.add_order("P1", [("A", 10), ("B", 4), ("A", 3)])
    ifs.receive_by_hand(lines[0].key, 6)

    assert wanted_quantities(ifs.lines("P1"), {"A": 101, "B": 102}, sent=set()) == ({101: 7, 102: 4}, [])


def test_a_part_a_wro_already_carries_is_not_sent_again():
    ifs = FakePurchasing()
    ifs.add_order("P1", [("A", 10), ("B", 4)])

    assert wanted_quantities(ifs.lines("P1"), {"A": 101, "B": 102}, sent={101}) == ({102: 4}, [])


def test_an_unknown_sku_leaves_its_line_out_with_the_reason():
    ifs = FakePurchasing()
    ifs.add_order("P1", [("A", 10), ("NEW", 3)])

    assert wanted_quantities(ifs.lines("P1"), {"A": 101, "NEW": None}, sent=set()) == (
        {101: 10}, ["line 2/1 part NEW: SKU unknown at ShipBob"])


def test_a_fraction_holds_the_whole_part_back():
    ifs = FakePurchasing()
    ifs.add_order("P1", [("A", 10), ("A", 2.5), ("B", 1)])

    assert wanted_quantities(ifs.lines("P1"), {"A": 101, "B": 102}, sent=set()) == (
        {102: 1}, ["line 2/1 part A: quantity 2.5 is not a whole number of units"])
