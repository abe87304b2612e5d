"""A purchase order changed in IFS after its WRO exists, end to end over HTTP
through both sandboxes, with real PostgreSQL and Redis: a line increased
gets a further WRO with exactly the extra units (ShipBob has no endpoint
that edits a WRO); a line or the whole order cancelled parks the order with
the exact difference, once, and `reconcile` reports it until a person
closes it. `reconcile` also finds a doubled WRO and a WRO whose quantities
differ from the order's lines, read from both systems."""

from __future__ import annotations

from connector.db.models import Flow, JobState
from connector.flows.replenishment import poll_replenishment
from connector.polls import run_poll
from connector.reconcile import reconcile
from connector.runner import run_job
from tests.helpers import hook, ifs_rows, shipbob_api
from tests.integration.test_cli import cli  # noqa: F401 (fixture)
from tests.integration.test_receiving import poll_and_run, receive, replenish
from tests.integration.test_replenishment import box_items, job_for, replay_all, wro_creates, wros_by_po

DOUBLED = "purchase orders with two WROs for the same lines"
QUANTITIES = "WRO quantities that differ from the PO lines"


def checks(ctx) -> dict[str, object]:
    return {check.name: check for check in reconcile(ctx)}


def shipbob_calls(shipbob) -> int:
    return sum(hook(shipbob, "stats", method="GET")["requests"].values())


def wro_contents(shipbob) -> dict[str, list[dict[int, int]]]:
    return {name: [box_items(w) for w in found] for name, found in wros_by_po(shipbob).items()}


def poll_woken(ctx) -> list[int]:
    flow, woken = run_poll(ctx, "replenishment")
    assert flow == Flow.REPLENISHMENT.value
    return woken


def test_a_line_increased_after_its_wro_gets_a_further_wro_with_exactly_the_extra(ctx, sandboxes):
    ifs, shipbob = sandboxes
    po, inventory = replenish(ctx, sandboxes, [("PI-A", 10), ("PI-B", 4)])
    a, b = inventory["PI-A"], inventory["PI-B"]
    job_id = job_for(ctx, po).id
    # an unchanged order is re-read in IFS only: no ShipBob call, no run
    calls = shipbob_calls(shipbob)
    assert poll_woken(ctx) == []
    assert shipbob_calls(shipbob) == calls

    hook(ifs, f"purchase_orders/{po}/lines/1/1", {"BuyQtyDue": 15})
    assert poll_woken(ctx) == [job_id]
    assert run_job(ctx, job_id).status == "done"
    assert wro_contents(shipbob) == {po: [{a: 10, b: 4}], f"{po}#2": [{a: 5}]}

    # exactly once: later polls and a replay send nothing more
    assert poll_woken(ctx) == []
    assert replay_all(ctx, [job_id]) == {job_id: "done"}
    assert wro_creates(shipbob) == 2
    # a legitimate top-up is neither a doubled WRO nor a difference
    found = checks(ctx)
    assert (found[DOUBLED].differences, found[QUANTITIES].differences) == ([], [])
    assert found[QUANTITIES].checked == 2

    # the warehouse stows both WROs: one IFS line receives all 15
    first, top_up = wros_by_po(shipbob)[po][0], wros_by_po(shipbob)[f"{po}#2"][0]
    receive(shipbob, first["id"], {a: 10, b: 4})
    receive(shipbob, top_up["id"], {a: 5})
    assert {r.status for r in poll_and_run(ctx).values()} == {"done"}
    received = {(r["LineNo"], r["QtyArrived"]) for r in ifs_rows(ifs, "PurchaseReceiptSet") if r["OrderNo"] == po}
    assert sum(q for line, q in received if line == "1") == 15


def test_a_line_cancelled_after_its_wro_is_parked_with_the_exact_difference_once(ctx, sandboxes, cli):
    ifs, shipbob = sandboxes
    po, inventory = replenish(ctx, sandboxes, [("PC-A", 10), ("PC-B", 4)])
    [wro] = wros_by_po(shipbob)[po]
    job_id = job_for(ctx, po).id

    hook(ifs, f"purchase_orders/{po}/lines/2/1/cancel")
    assert poll_woken(ctx) == [job_id]
    result = run_job(ctx, job_id)
    assert result.status == "attention"
    assert result.detail == (
        f"purchase order {po}: line 2/1 part PC-B (Cancelled, 4 ordered): WRO {wro['id']} announce(s) 4, "
        "IFS now expects 0 through ShipBob (4 too many); a WRO cannot be edited: cancel or correct it at ShipBob")
    assert wro_creates(shipbob) == 1
    # raised once: the next polls leave the parked item alone
    assert poll_woken(ctx) == [] and poll_woken(ctx) == []
    assert job_for(ctx, po).state == JobState.ATTENTION.value

    # reconcile shows the exact difference and exits 1 while the WRO is wrong
    [difference] = checks(ctx)[QUANTITIES].differences
    assert (difference.key, difference.explained_by) == (f"{po}/PC-B", None)
    assert difference.detail == (f"WRO {wro['id']} announce(s) 4, line 2/1 part PC-B (Cancelled, 4 ordered) "
                                 "expect(s) 0 through ShipBob")
    failing = cli("reconcile", ok=False)
    assert failing.exit_code == 1 and QUANTITIES in failing.output
    # a person corrects it at ShipBob and closes the item: explained, exit 0
    cli("resolve", po, "--note", "WRO corrected by phone with the warehouse", "--by", "ops")
    [difference] = checks(ctx)[QUANTITIES].differences
    assert difference.explained_by == "resolved by ops: WRO corrected by phone with the warehouse"
    assert cli("reconcile").exit_code == 0
    assert poll_woken(ctx) == []  # closing it is no change to the order


def test_a_purchase_order_cancelled_after_its_wro_is_parked_naming_every_line(ctx, sandboxes):
    ifs, shipbob = sandboxes
    po, _ = replenish(ctx, sandboxes, [("PX-A", 3), ("PX-B", 2)])
    [wro] = wros_by_po(shipbob)[po]
    job_id = job_for(ctx, po).id

    hook(ifs, f"purchase_orders/{po}/cancel")
    assert poll_woken(ctx) == [job_id]  # found though no longer released
    result = run_job(ctx, job_id)
    assert result.status == "attention"
    assert result.detail == (
        f"purchase order {po} (Cancelled): "
        f"line 1/1 part PX-A (Cancelled, 3 ordered): WRO {wro['id']} announce(s) 3, IFS now expects 0 "
        "through ShipBob (3 too many); "
        f"line 2/1 part PX-B (Cancelled, 2 ordered): WRO {wro['id']} announce(s) 2, IFS now expects 0 "
        "through ShipBob (2 too many); a WRO cannot be edited: cancel or correct it at ShipBob")
    assert poll_woken(ctx) == []
    assert sorted(d.key for d in checks(ctx)[QUANTITIES].unexplained) == [f"{po}/PX-A", f"{po}/PX-B"]

    # cancelled at ShipBob too: the two systems agree again, and the order is no longer watched
    shipbob_api(shipbob, "POST", f"receiving/{wro['id']}:cancel")
    found = checks(ctx)
    assert (found[DOUBLED].differences, found[QUANTITIES].differences) == ([], [])
    assert poll_woken(ctx) == []
    assert wro_creates(shipbob) == 1


def test_a_top_up_whose_bookkeeping_was_lost_is_adopted_not_sent_again(ctx, sandboxes):
    """The run after a crash that lost our bookkeeping of the top-up (its
    WRO was created, the binding and the examined version were not) adopts it."""
    from sqlalchemy import delete

    from connector.db.models import Binding, KeyValue

    ifs, shipbob = sandboxes
    po, inventory = replenish(ctx, sandboxes, [("PT-A", 6)])
    job_id = job_for(ctx, po).id
    hook(ifs, f"purchase_orders/{po}/lines/1/1", {"BuyQtyDue": 9})
    assert poll_woken(ctx) == [job_id]
    assert run_job(ctx, job_id).status == "done"
    with ctx.session() as session:
        session.execute(delete(Binding).where(Binding.ifs_key == f"{po}#2"))
        session.execute(delete(KeyValue).where(KeyValue.key.startswith("replenishment.examined.")))
    assert poll_woken(ctx) == [job_id]  # examined again, as after a lost record
    assert run_job(ctx, job_id).status == "done"
    assert wro_contents(shipbob) == {po: [{inventory["PT-A"]: 6}], f"{po}#2": [{inventory["PT-A"]: 3}]}
    assert wro_creates(shipbob) == 2


# ---------------------------------------------------------------- reconcile

def create_wro_by_hand(ctx, shipbob, number: str, items: dict[int, int]) -> dict:
    """A WRO someone made at ShipBob (or a create the connector doubled)."""
    return shipbob_api(shipbob, "POST", "receiving", {
        "fulfillment_center": {"id": ctx.mapping.sites["S01"]}, "package_type": "Package",
        "box_packaging_type": "EverythingInOneBox", "expected_arrival_date": "2030-01-01T00:00:00Z",
        "purchase_order_number": number,
        "boxes": [{"tracking_number": number,
                   "box_items": [{"inventory_id": i, "quantity": q} for i, q in items.items()]}]})


def test_reconcile_finds_a_doubled_wro_and_quantities_that_differ_from_the_lines(ctx, sandboxes):
    ifs, shipbob = sandboxes
    # a split by the warehouse is neither doubled nor different
    split_po, split_inventory = replenish(ctx, sandboxes, [("RS-A", 6)])
    [to_split] = wros_by_po(shipbob)[split_po]
    receive(shipbob, to_split["id"], {split_inventory["RS-A"]: 2}, split=True)
    assert len(wros_by_po(shipbob)[split_po]) == 2
    # a WRO created twice
    doubled_po, inventory = replenish(ctx, sandboxes, [("RD-A", 10), ("RD-B", 2)])
    [first] = wros_by_po(shipbob)[doubled_po]
    again = create_wro_by_hand(ctx, shipbob, f"{doubled_po}#2", {inventory["RD-A"]: 10})
    # a WRO made by hand for another order, with the wrong quantity
    wrong = hook(shipbob, "seed", {"skus": ["RW-A"]})["inventory_ids"]["RW-A"]
    [wrong_po] = [p["OrderNo"] for p in hook(ifs, "purchase_orders", {"purchase_orders": [
        {"lines": [{"PartNo": "RW-A", "BuyQtyDue": 8}]}]})["purchase_orders"]]
    short = create_wro_by_hand(ctx, shipbob, wrong_po, {wrong: 7})

    found = checks(ctx)
    [doubled] = found[DOUBLED].differences
    assert (doubled.key, doubled.explained_by) == (f"{doubled_po}/RD-A", None)
    assert doubled.detail == (f"WRO {first['id']}, {again['id']} announce(s) 20, "
                              "line 1/1 part RD-A (10 ordered) expect(s) 10 through ShipBob")
    [quantity] = found[QUANTITIES].differences
    assert (quantity.key, quantity.explained_by) == (f"{wrong_po}/RW-A", None)
    assert quantity.detail == f"WRO {short['id']} announce(s) 7, line 1/1 part RW-A (8 ordered) expect(s) 8 through ShipBob"
    assert found[QUANTITIES].checked == 4  # RD-A, RD-B, RW-A, RS-A


def test_reconcile_explains_a_line_not_sent_yet_by_its_parked_item(ctx, sandboxes):
    ifs, shipbob = sandboxes
    hook(shipbob, "seed", {"skus": ["RU-A"]})
    [po] = [p["OrderNo"] for p in hook(ifs, "purchase_orders", {"purchase_orders": [
        {"lines": [{"PartNo": "RU-A", "BuyQtyDue": 3}, {"PartNo": "RU-NEW", "BuyQtyDue": 1}]}]})["purchase_orders"]]
    [job_id] = poll_replenishment(ctx)
    assert run_job(ctx, job_id).status == "attention"  # SKU unknown at ShipBob

    [difference] = checks(ctx)[QUANTITIES].differences
    assert difference.key == f"{po}/RU-NEW"
    assert difference.explained_by.startswith("parked for attention: ")
