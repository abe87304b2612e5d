"""Shipments cancelled at ShipBob brought to IFS (connector/flows/
shipment_cancel.py) on an in-memory CustomerOrders gateway: what is
cancelled, once, or named for a person. The cancellations' records live in
PostgreSQL; ShipBob's shipments are given as it sends them."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select

from connector.bindings import BindingKind
from connector.context import Context
from connector.db.models import Binding
from connector.errors import TransientError
from connector.flows import shipment_cancel
from connector.ifs.customer_orders import Cancellation, LineCancel, LineKey
from connector.ifs.errors import IfsBusinessError
from connector.settings import load_settings

from .fake_customer_orders import FakeCustomerOrders, line, order

L1, L2, L3 = LineKey("1", "1", 0), LineKey("2", "1", 0), LineKey("3", "1", 0)
BOUND = [{"line_no": str(n), "rel_no": "1", "line_item_no": 0, "sku": f"P{n}", "quantity": n,
          "external_line_id": n} for n in (1, 2, 3)]


def shipment(shipment_id: int, status: str, **units: int) -> dict:
    return {"id": shipment_id, "status": status,
            "products": [{"reference_id": sku, "inventory_items": [{"quantity": qty}]}
                         for sku, qty in units.items()]}


CANCELLED = [shipment(501, "Cancelled", P1=1, P2=2, P3=3)]


def context(settings, tmp_path, policy: str) -> tuple[Context, FakeCustomerOrders]:
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text(yaml.safe_dump({"sites": {"S01": 156}, "on_shipbob_cancel": policy}))
    ctx = Context(load_settings(**{**settings.model_dump(), "mapping_file": mapping_file}))
    fake = FakeCustomerOrders()
    fake.add(order("C1", ids=["9001"]), [line(1, "P1", 1), line(2, "P2", 2), line(3, "P3", 3)])
    ctx.customer_orders = fake  # the flow reaches IFS only through it
    return ctx, fake


def recorded(ctx) -> dict[str, dict]:
    with ctx.session() as session:
        return {b.shipbob_id: b.data for b in session.scalars(
            select(Binding).where(Binding.kind == BindingKind.CANCEL))}


WHOLE = Cancellation("C1", "501", (LineCancel(L1, 1, 1), LineCancel(L2, 2, 2), LineCancel(L3, 3, 3)))


def test_cancel_in_ifs_cancels_the_open_units_once(settings, tmp_path):
    ctx, fake = context(settings, tmp_path, "cancel_in_ifs")

    outcome = shipment_cancel.bring_to_ifs(ctx, "C1", 9001, CANCELLED, BOUND)

    assert (outcome.cancelled, outcome.attention) == ([501], [])
    assert fake.cancels_applied == [WHOLE]
    assert {ln.state for ln in fake.lines("C1")} == {"Cancelled"}
    assert recorded(ctx)["501"]["outcome"] == shipment_cancel.CANCELLED_IN_IFS
    # The same event again (a duplicate, a later one for the order): settled, not even read.
    calls = len(fake.calls)
    again = shipment_cancel.bring_to_ifs(ctx, "C1", 9001, CANCELLED, BOUND)
    assert (again.cancelled, again.attention, len(fake.calls)) == ([], [], calls)
    with ctx.session() as session:
        assert shipment_cancel.examined(session, 501)


def test_a_retry_after_a_lost_answer_finishes_the_recorded_plan_without_cancelling_again(settings, tmp_path):
    ctx, fake = context(settings, tmp_path, "cancel_in_ifs")
    fake.lose_cancel_answer = TransientError("IFS POST ...CancelLines: HTTP 504")

    with pytest.raises(TransientError):
        shipment_cancel.bring_to_ifs(ctx, "C1", 9001, CANCELLED, BOUND)
    assert recorded(ctx)["501"]["outcome"] == shipment_cancel.PLANNED  # the intent, written first

    outcome = shipment_cancel.bring_to_ifs(ctx, "C1", 9001, CANCELLED, BOUND)
    assert outcome.cancelled == [501]
    # The retry asked with the recorded plan (its quantities due before), and the check saw it done.
    asked = [args[0] for name, args in fake.calls if name == "cancel_lines"]
    assert asked == [WHOLE, WHOLE] and fake.cancels_applied == [WHOLE]
    assert recorded(ctx)["501"]["outcome"] == shipment_cancel.CANCELLED_IN_IFS


def test_attention_names_the_order_shipment_and_lines_and_cancels_nothing(settings, tmp_path):
    ctx, fake = context(settings, tmp_path, "attention")

    outcome = shipment_cancel.bring_to_ifs(ctx, "C1", 9001, CANCELLED, BOUND)

    assert outcome.cancelled == [] and fake.cancels_applied == []
    assert outcome.attention == [
        "ShipBob shipment 501 of ShipBob order 9001 was cancelled at ShipBob; IFS order C1 still has "
        "line 1/1 (1), line 2/1 (2), line 3/1 (3) open (mapping on_shipbob_cancel: attention)"]
    assert recorded(ctx)["501"]["outcome"] == shipment_cancel.ATTENTION
    # Still open on the next run: still for a person (never silence).
    assert shipment_cancel.bring_to_ifs(ctx, "C1", 9001, CANCELLED, BOUND).attention == outcome.attention


def test_a_cancellation_ifs_has_already_settles_without_a_write(settings, tmp_path):
    ctx, fake = context(settings, tmp_path, "cancel_in_ifs")
    fake.add(order("C1", state="Cancelled", ids=["9001"]),
             [line(n, f"P{n}", n, state="Cancelled") for n in (1, 2, 3)])  # cancelled in IFS first

    outcome = shipment_cancel.bring_to_ifs(ctx, "C1", 9001, CANCELLED, BOUND)

    assert (outcome.cancelled, outcome.attention, fake.cancels_applied) == ([], [], [])
    assert recorded(ctx)["501"]["outcome"] == shipment_cancel.NOTHING_OPEN


def test_an_order_cancelled_in_ifs_has_nothing_open_whatever_its_lines_say(settings, tmp_path):
    ctx, fake = context(settings, tmp_path, "cancel_in_ifs")
    fake.set_state("C1", "Cancelled")  # the header only: the lines still read Released

    outcome = shipment_cancel.bring_to_ifs(ctx, "C1", 9001, CANCELLED, BOUND)

    assert (outcome.cancelled, outcome.attention, fake.cancels_applied) == ([], [], [])
    assert recorded(ctx)["501"]["outcome"] == shipment_cancel.NOTHING_OPEN


def test_an_ifs_refusal_is_for_a_person_with_its_reason(settings, tmp_path):
    ctx, fake = context(settings, tmp_path, "cancel_in_ifs")
    fake.refuse_cancel = IfsBusinessError("IFS POST ...", ora_code="ORA-20117",
                                          ifs_message="ORA-20117: Line 1/1 is reserved.")

    outcome = shipment_cancel.bring_to_ifs(ctx, "C1", 9001, CANCELLED, BOUND)

    [reason] = outcome.attention
    assert reason.endswith("IFS refused to cancel them: ORA-20117: Line 1/1 is reserved.")
    assert "ShipBob shipment 501" in reason and "IFS order C1" in reason
    assert recorded(ctx)["501"]["outcome"] == shipment_cancel.ATTENTION


def test_an_order_without_cancelled_shipments_costs_no_ifs_call(settings, tmp_path):
    ctx, fake = context(settings, tmp_path, "cancel_in_ifs")
    outcome = shipment_cancel.bring_to_ifs(ctx, "C1", 9001, [shipment(501, "Processing", P1=1)], BOUND)
    assert (outcome.cancelled, outcome.attention, fake.calls) == ([], [], [])
