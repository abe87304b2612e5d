"""Flow 4b's IFS side on an in-memory purchasing gateway: what ShipBob
stowed, per part, becomes receipts on the PO's lines - each run posts only
the difference to what our receipts already hold, never beyond what a line
has open, and never the same stow twice."""

from __future__ import annotations

import pytest

from connector.context import Context
from connector.db.models import Flow, Job
from connector.errors import NeedsAttention, TransientError
from connector.flows import inbound_receipt
from connector.flows.inbound_receipt import receive_stowed
from connector.ifs.purchasing import NewReceipt
from connector.settings import Settings
from tests.unit.fake_purchasing import FakePurchasing


def receive(ifs: FakePurchasing, po: str, stowed: dict[str, float]) -> tuple[int, list[str]]:
    """One run's receipts: the lines read fresh, as every run reads them."""
    return receive_stowed(ifs, po, ifs.lines(po), stowed)


def received(ifs: FakePurchasing, po: str) -> dict[str, float]:
    return {key.line_no: qty for key, qty in sorted(ifs.received_by_us(po).items())}


def test_partial_stows_accumulate_and_a_repeated_stow_posts_nothing():
    ifs = FakePurchasing()
    ifs.add_order("P1", [("A", 10)])

    assert receive(ifs, "P1", {"A": 4}) == (1, [])
    assert receive(ifs, "P1", {"A": 4}) == (0, [])  # a duplicate poll, a restart
    assert receive(ifs, "P1", {"A": 9}) == (1, [])

    assert [(r.qty, r.cumulative, r.posted_before) for r in ifs.posted] == [(4, 4, 0), (5, 9, 4)]
    assert [r.external_ref for r in ifs.posted] == ["SB:P1:1:1:4", "SB:P1:1:1:9"]
    assert received(ifs, "P1") == {"1": 9}


def test_stowed_units_fill_a_parts_lines_in_line_order():
    ifs = FakePurchasing()
    ifs.add_order("P1", [("A", 10), ("B", 5), ("A", 3)])

    assert receive(ifs, "P1", {"A": 12, "B": 2}) == (3, [])
    assert received(ifs, "P1") == {"1": 10, "2": 2, "3": 2}


def test_a_receipt_booked_by_hand_leaves_less_room_and_the_rest_is_reported():
    ifs = FakePurchasing()
    [line] = ifs.add_order("P1", [("A", 10)])
    ifs.receive_by_hand(line.key, 4)

    assert receive(ifs, "P1", {"A": 8}) == (1, ["2 of A stowed beyond what the order has open in IFS"])
    assert received(ifs, "P1") == {"1": 6}


def test_what_we_received_on_a_line_since_closed_still_counts_and_nothing_more_is_posted():
    ifs = FakePurchasing()
    [line] = ifs.add_order("P1", [("A", 10)])
    receive(ifs, "P1", {"A": 4})
    ifs.set_line(line.key, state="Closed")

    assert receive(ifs, "P1", {"A": 6}) == (0, ["2 of A stowed beyond what the order has open in IFS"])
    assert received(ifs, "P1") == {"1": 4}


def test_a_part_the_order_does_not_have_is_reported_and_the_rest_received():
    ifs = FakePurchasing()
    ifs.add_order("P1", [("A", 10)])

    assert receive(ifs, "P1", {"A": 1, "Z": 3}) == (1, ["3 of Z stowed beyond what the order has open in IFS"])


def test_an_ifs_rule_refusing_a_receipt_parks_the_job_with_the_ifs_message():
    ifs = FakePurchasing()
    ifs.add_order("P1", [("A", 10)])
    ifs.refusal = "Purchase order P1 is Closed; only Released orders can be received."

    with pytest.raises(NeedsAttention) as parked:
        receive(ifs, "P1", {"A": 4})
    assert str(parked.value) == ("purchase order P1 line 1/1: IFS refused a receipt of 4: "
                                 "Purchase order P1 is Closed; only Released orders can be received.")
    assert ifs.receipts == []


def test_receipts_that_changed_under_the_run_are_computed_again_not_parked():
    ifs = FakePurchasing()
    [line] = ifs.add_order("P1", [("A", 10)])
    stale = NewReceipt(line.key, 4, cumulative=4, posted_before=0)
    receive(ifs, "P1", {"A": 4})  # another run got there first

    with pytest.raises(TransientError):
        inbound_receipt._post_receipt(ifs, stale)
    assert received(ifs, "P1") == {"1": 4}


def test_a_job_for_an_order_ifs_does_not_have_is_ignored():
    ifs = FakePurchasing()
    ctx = Context(Settings())
    ctx.__dict__["purchasing"] = ifs  # the gateway, as Context would build it

    assert inbound_receipt.run(ctx, Job(flow=Flow.INBOUND_RECEIPT.value, key="P404")) == \
        "ignored: P404 is not an IFS purchase order"

