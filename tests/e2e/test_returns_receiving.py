"""Returns, replenishment and receiving through the real pipeline: ShipBob
sandbox -> signed return webhooks (duplicated, shuffled) -> gunicorn receiver
-> PostgreSQL inbox -> Redis -> Celery worker -> IFS sandbox; and IFS
purchase orders -> beat's replenishment poll -> WROs -> the warehouse stows
them in parts, splitting some -> beat's receiving poll -> IFS receipts.

The worker is SIGKILLed while return vouchers are being posted and receipts
are due, then restarted: its claims run out and the sweeper hands the work to
the new worker. IFS must end with exactly one received RMA per completed
return of ours (the right lines, quantities and actions), none for cancelled
returns or unknown shipments (those are parked), and receipts that add up to
exactly what ShipBob stowed, every WRO marked synced.
"""

from __future__ import annotations

import random
import signal
import time
from collections import defaultdict

import pytest
from sqlalchemy import func, select

from cli.stack import Stack, env_for
from connector.db.models import Flow, Job, JobState, WebhookEvent
from tests.conftest import REDIS_URL, WEBHOOK_SECRET
from tests.helpers import eventually, hook, ifs_rows, shipbob_api
from tests.integration.test_receiving import receive, received_by_line, stowed_by_sku, synced, wros_of
from tests.integration.test_returns import advance, complete, create_return, rma_lines, rmas_by_return, ship_orders

TOPICS = ["return.created", "return.updated", "return.completed"]
SKUS = [f"E2E-{c}" for c in "ABCDEF"]
N_ORDERS = 16


@pytest.fixture
def stack(settings, sandboxes, tmp_path):
    ifs, shipbob = sandboxes
    env = env_for(settings, broker_url=REDIS_URL, sweep_seconds=1, sweep_grace_seconds=2,
                  job_lease_seconds=10, http_timeout_seconds=5, fence_margin_seconds=1, order_poll_seconds=3600, tracking_poll_seconds=3600,
                  replenishment_poll_seconds=2, receiving_poll_seconds=2, worker_metrics_port=0)
    with Stack(env=env, logdir=tmp_path / "logs", ifs=ifs, shipbob=shipbob) as running:
        running.start_receiver()
        shipbob_api(shipbob, "POST", "webhook", {
            "topics": TOPICS, "url": f"{running.receiver_url}/webhooks/shipbob", "secret": WEBHOOK_SECRET})
        yield running


# ------------------------------------------------------------------ returns

def order_specs() -> dict[str, dict]:
    specs = {}
    for i in range(N_ORDERS):
        a, b = SKUS[i % 6], SKUS[(i + 1) % 6]
        spec = {"lines": {a: 3, b: 2}}
        if i % 4 == 3:
            spec["shipments"] = [{a: 3}, {b: 2}]
        specs[f"C{7001 + i}"] = spec
    return specs


def make_returns(shipbob, world: dict[str, dict], foreign_shipment: int):
    """Create returns of every kind; returns (expected RMAs per return id as
    {(sku, action): qty}, cancelled ids, parked ids, steps to play)."""
    expected: dict[int, dict] = {}
    cancelled, parked, steps = [], [], []
    for i, (order_no, w) in enumerate(sorted(world.items())):
        inv, shipment = w["inventory"], w["shipments"][0]
        a, b = SKUS[i % 6], SKUS[(i + 1) % 6]
        kind = i % 6
        ref = f"RMA-{order_no}"
        if kind == 0:    # full return, the merchant's default action
            rid = create_return(shipbob, ref, shipment, {inv[a]: 3, inv[b]: 2})
            expected[rid] = {(a, "Restock"): 3, (b, "Restock"): 2}
            steps.append((rid, []))
        elif kind == 1:  # partial, quarantined as requested
            rid = create_return(shipbob, ref, shipment, {inv[a]: 1}, "Quarantine")
            expected[rid] = {(a, "Quarantine"): 1}
            steps.append((rid, []))
        elif kind == 2:  # every action, decided by the warehouse
            rid = create_return(shipbob, ref, shipment, {inv[a]: 3, inv[b]: 2})
            expected[rid] = {(a, "Restock"): 1, (a, "Quarantine"): 1, (a, "Dispose"): 1, (b, "Dispose"): 2}
            steps.append((rid, [{"inventory_id": inv[a], "action": act, "quantity_processed": 1}
                                for act in ("Restock", "Quarantine", "Dispose")]
                          + [{"inventory_id": inv[b], "action": "Dispose", "quantity_processed": 2}]))
        elif kind == 3:  # cancelled before it arrived
            cancelled.append(create_return(shipbob, ref, shipment, {inv[a]: 1}))
        elif kind == 4:  # no original shipment: nothing to link it to
            parked.append(create_return(shipbob, ref, None, {inv[a]: 1}))
            steps.append((parked[-1], []))
        else:            # two partial returns of one order
            r1 = create_return(shipbob, ref + "-1", shipment, {inv[a]: 1}, "Restock")
            r2 = create_return(shipbob, ref + "-2", shipment, {inv[a]: 2, inv[b]: 1}, "Dispose")
            expected[r1] = {(a, "Restock"): 1}
            expected[r2] = {(a, "Dispose"): 2, (b, "Dispose"): 1}
            steps += [(r1, []), (r2, [])]
    parked.append(create_return(shipbob, "RMA-FOREIGN", foreign_shipment, {world["C7001"]["inventory"][SKUS[0]]: 1}))
    steps.append((parked[-1], []))
    return expected, cancelled, parked, steps


def foreign_shipment(shipbob) -> int:
    """A shipment of an order placed at ShipBob directly, not from IFS."""
    order = shipbob_api(shipbob, "POST", "order", {
        "reference_id": "WEBSHOP-9", "type": "DTC", "shipping_method": "Standard", "location_id": 156,
        "recipient": {"name": "X", "address": {"address1": "1 St", "city": "Chicago", "state": "IL",
                                               "zip_code": "60601", "country": "US"}},
        "products": [{"reference_id": SKUS[0], "quantity": 1, "name": SKUS[0]}]})
    hook(shipbob, f"orders/{order['id']}/ship", {"with_tracking": True})
    return order["shipments"][0]["id"]


def play_returns(shipbob, steps, cancelled, rng: random.Random) -> None:
    """The warehouse: every return arrives, is processed and completes, in an
    interleaved order; the cancelled ones are cancelled by the merchant."""
    progress = {rid: 0 for rid, _ in steps}
    actions = dict(steps)
    for rid in cancelled:
        shipbob_api(shipbob, "POST", f"return/{rid}:cancel")
    while progress:
        rid = rng.choice(sorted(progress))
        stage = progress[rid]
        if stage < 2:
            advance(shipbob, rid, ("Arrived", "Processing")[stage])
            progress[rid] += 1
        else:
            complete(shipbob, rid, actions[rid])
            del progress[rid]


def rma_totals(ctx, ifs) -> dict[str, list[tuple[dict, dict]]]:
    """ExternalRef -> [(RMA, {(part, action): qty})] for every RMA in IFS."""
    out = defaultdict(list)
    for ref, rmas in rmas_by_return(ifs).items():
        for rma in rmas:
            totals: dict = defaultdict(float)
            for line in rma_lines(ctx, rma["RmaNo"]):
                totals[(line["PartNo"], line["ReturnAction"])] += line["QtyToReturn"]
            out[ref].append((rma, dict(totals)))
    return out


# ---------------------------------------------------------------- receiving

def purchase_orders(ifs, shipbob) -> dict[str, list[tuple[str, int]]]:
    lines = {0: [("E2E-R1", 8), ("E2E-R2", 6), ("E2E-R3", 5)],
             1: [("E2E-R2", 7), ("E2E-R4", 9), ("E2E-R2", 3)],
             2: [("E2E-R5", 6), ("E2E-R6", 4)]}
    hook(shipbob, "seed", {"skus": sorted({p for ls in lines.values() for p, _ in ls})})
    created = hook(ifs, "purchase_orders", {"purchase_orders": [
        {"Contract": ("S01", "S01", "S02")[n], "WantedReceiptDate": "2030-03-01",
         "lines": [{"PartNo": p, "BuyQtyDue": q} for p, q in ls]} for n, ls in lines.items()]})
    return {po["OrderNo"]: lines[n] for n, po in enumerate(created["purchase_orders"])}


def stow_round(shipbob, po: str, *, upto: int | None, split: bool) -> None:
    """Stow every open item of the PO's WROs (at most `upto` units each)."""
    for wro in wros_of(shipbob, po):
        if wro["status"] in ("Completed", "Cancelled"):
            continue
        todo = {q["inventory_id"]: q["expected_quantity"] - q["received_quantity"]
                for q in wro["inventory_quantities"]}
        step = {i: (q if upto is None else min(q, upto)) for i, q in todo.items() if q > 0}
        if step:
            receive(shipbob, wro["id"], step, split=split)


def receipts_match(ctx, ifs, shipbob, pos) -> bool:
    for po, lines in pos.items():
        sku_of_line = {str(n): p for n, (p, _) in enumerate(lines, start=1)}
        got: dict[str, float] = defaultdict(float)
        for line_no, qty in received_by_line(ifs, po).items():
            got[sku_of_line[line_no]] += qty
        if dict(got) != stowed_by_sku(shipbob, po):
            return False
    return True


# -------------------------------------------------------------------- test

def busy(ctx) -> int:
    with ctx.session() as session:
        jobs_busy = session.execute(select(func.count()).select_from(Job).where(
            Job.state.in_([JobState.PENDING.value, JobState.RUNNING.value]))).scalar_one()
        unrouted = session.execute(select(func.count()).select_from(WebhookEvent).where(
            WebhookEvent.processed_at.is_(None))).scalar_one()
    return jobs_busy + unrouted


def test_returns_and_receipts_survive_duplicates_shuffling_and_a_killed_worker(ctx, sandboxes, stack):
    ifs, shipbob = sandboxes
    started = time.monotonic()
    rng = random.Random(11)
    # shipped orders with their vouchers in IFS (inline: this test is about what comes back)
    world = ship_orders(ctx, sandboxes, order_specs())
    pos = purchase_orders(ifs, shipbob)
    hook(shipbob, "faults", {"webhooks": {"duplicate_rate": 0.4, "shuffle": 1.5}})
    stack.start_worker(concurrency=4)
    stack.start_beat()

    # replenishment: beat's poll turns the IFS purchase orders into WROs
    eventually(lambda: all(wros_of(shipbob, po) for po in pos), 30, "a WRO per purchase order")
    # the warehouse receives a first part of everything, splitting one PO's WRO
    for n, po in enumerate(pos):
        stow_round(shipbob, po, upto=2, split=(n == 0))
    assert len(wros_of(shipbob, next(iter(pos)))) == 2
    eventually(lambda: receipts_match(ctx, ifs, shipbob, pos) and ifs_rows(ifs, "PurchaseReceiptSet"),
               30, "receipts for the first deliveries")

    # returns: every kind, their webhooks duplicated and shuffled; IFS slowed
    # so that the kill below lands while vouchers are being posted
    expected, cancelled, parked, steps = make_returns(shipbob, world, foreign_shipment(shipbob))
    hook(ifs, "faults", {"latency_ms": 60})
    play_returns(shipbob, steps, cancelled, rng)
    for po in pos:                        # the rest arrives and is stowed
        stow_round(shipbob, po, upto=None, split=False)
    eventually(lambda: len(rmas_by_return(ifs)) >= 2, 30, "the first RMAs")
    stack.stop_process("worker", signal.SIGKILL)
    at_kill = len(rmas_by_return(ifs))
    assert at_kill < len(expected), "the worker was killed mid-run"
    hook(shipbob, "webhooks/flush", {"fast_forward": True})  # more arrive while it is down
    time.sleep(1)
    stack.start_worker(concurrency=4)
    hook(ifs, "faults", {"latency_ms": 0})

    def converged():
        hook(shipbob, "webhooks/flush", {"fast_forward": True})
        rmas = rmas_by_return(ifs)
        if not {str(r) for r in expected} <= set(rmas):
            return False
        if not all(r["Objstate"] == "Received" for rs in rmas.values() for r in rs):
            return False
        if not all(synced(w) for po in pos for w in wros_of(shipbob, po) if w["inventory_quantities"]):
            return False
        return receipts_match(ctx, ifs, shipbob, pos) and busy(ctx) == 0

    eventually(converged, 60, "every return and receipt to be in IFS", interval=1)

    # exactly one received RMA per completed return of ours, with its lines and actions
    found = rma_totals(ctx, ifs)
    assert set(found) == {str(r) for r in expected}, "nothing for cancelled or unknown-shipment returns"
    for rid, totals in expected.items():
        [(rma, lines)] = found[str(rid)]
        assert rma["Objstate"] == "Received"
        assert lines == totals, (rid, lines, totals)
    # the order lines returned exactly what the RMAs say
    returned: dict[tuple[str, str], float] = defaultdict(float)
    for rid, totals in expected.items():
        [(rma, _)] = found[str(rid)]
        for (part, _action), qty in totals.items():
            returned[(rma["OrderNo"], part)] += qty
    for line in ifs_rows(ifs, "CustomerOrderLineSet"):
        assert line["QtyReturned"] == returned.get((line["OrderNo"], line["PartNo"]), 0), line

    # receipts add up to what was stowed, which is everything ordered; all synced
    for po, lines in pos.items():
        assert stowed_by_sku(shipbob, po) == {p: sum(q for pp, q in lines if pp == p) for p, _ in lines}
        assert receipts_match(ctx, ifs, shipbob, {po: lines})
        assert all(w["status"] == "Completed" and synced(w) for w in wros_of(shipbob, po))
    assert sum(len(wros_of(shipbob, po)) for po in pos) == len(pos) + 1  # one split, no duplicate WRO

    with ctx.session() as session:
        rows = session.execute(select(Job.flow, Job.key, Job.state, Job.reason)).all()
    states = {(flow, key): (state, reason) for flow, key, state, reason in rows}
    for rid in parked:
        state, reason = states[(Flow.RETURN_VOUCHER.value, str(rid))]
        assert state == JobState.ATTENTION.value and "original shipment" in reason
    others = {k: v for k, v in states.items()
              if not (k[0] == Flow.RETURN_VOUCHER.value and int(k[1]) in parked)}
    assert {state for state, _ in others.values()} == {JobState.DONE.value}, others
    stats = hook(shipbob, "stats", method="GET")["webhooks"]
    assert stats["messages"] > len(steps) + len(cancelled), stats  # duplicates were really sent
    assert time.monotonic() - started < 120
