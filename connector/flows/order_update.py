"""An IFS order edited after its push: the edit reaches its ShipBob order(s).

The recipe: read the IFS order -> plan it again, one ShipBob order per site as
the push does -> compare each plan with what its order binding says was
pushed; nothing differs: done, without a ShipBob call -> read the ShipBob
order and send only what IFS changed and the shipment lacks, through
ShipBob's own edits (updateAddress; updateLineItems with the complete list;
bulkUpdateShippingService; a shipment cancel once no line is left open),
never cancel-and-recreate -> store the new plan in the binding. A shipment the
warehouse picked, packed or shipped takes no edit: the job parks with the
exact difference (field, IFS value, ShipBob value; per SKU, both quantities).
A plan for a site not pushed yet (a line added or moved there) is the order
push's: its job is asked to run.

Exactly once: each edit sets a value (an address, a service, the full line
list) or cancels (a shipment found cancelled counts as done), and is sent
only when the shipment read just before differs from it. A run repeated after
a crash between an edit and the binding update finds the shipment right, sends
nothing and stores the plan; were an edit sent twice, the second would set
the same values again.

The order poll finds the orders to look at (`poll_edits`): released orders
with ShipBob ids whose IFS change stamp moved since the binding's.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import jobs, kv
from connector.bindings import BindingKind, update_data
from connector.context import Context
from connector.db.models import Binding, Flow, Job
from connector.errors import NeedsAttention
from connector.ifs.customer_orders import Address, CustomerOrder, OrderLine
from connector.mappers.order_edits import (
    IFS_CHANGED,
    Edits,
    PushedPlan,
    ShipmentFacts,
    at_shipbob,
    differences,
    edits,
    flat_recipient,
    keep_line_ids,
    live_shipments,
    shipment_address,
    shipment_facts,
)
from connector.mappers.orders import plan_orders
from connector.shipbob.shipment_edits import ShipmentUpdateRefused
from connector.sku_lookup import inventory_ids_for

log = logging.getLogger(__name__)

CURSOR_KEY = "poll.order_edits.cursor"
FIRST_POLL_LOOKBACK = timedelta(days=30)
SERVICE_CACHE_SECONDS = 600


# ----------------------------------------------------------------- the poll

def poll_edits(ctx: Context) -> list[int]:
    """Released orders with ShipBob ids changed since the cursor whose change
    stamp differs from the one their bindings are current for: an update job
    each. Returns the ids to wake. Reads IFS only: an order nobody edited costs
    no ShipBob call, and one seen again in the overlap window no job."""
    with ctx.session() as session:
        cursor = kv.get(session, CURSOR_KEY)
    since = (_parse(cursor) if cursor else datetime.now(timezone.utc) - FIRST_POLL_LOOKBACK)
    since -= timedelta(minutes=ctx.settings.order_poll_overlap_minutes)
    sites = ctx.settings.mapped_sites()
    found = ctx.customer_orders.released_pushed_since(sites, since)
    wake: dict[int, None] = {}
    with ctx.session() as session:
        stamps = _bound_stamps(session, [o.order_no for o in found], sites)
        newest: str | None = None
        for order in found:
            if order.changed and (newest is None or order.changed > newest):
                newest = order.changed
            seen = stamps.get(order.order_no)
            if seen is None or seen == {order.changed}:
                continue  # not pushed by us, or this version is known
            requested = request_update(session, order.order_no)
            if requested is not None:
                wake[requested] = None
        if newest:
            kv.put(session, CURSOR_KEY, newest)
    return list(wake)


def request_update(session: Session, order_no: str) -> int | None:
    """Ask the order's update job to run (news: a parked one runs again);
    returns the id to wake, or None."""
    requested = jobs.request_job(session, Flow.ORDER_UPDATE.value, order_no, ifs_ref=order_no, hurry=False)
    return requested.job_id if requested.wake else None


def is_pushed(session: Session, order_no: str) -> bool:
    return bool(_order_bindings(session, order_no))


# ------------------------------------------------------------------ the run

@dataclass
class _Outcome:
    """What one ShipBob order's edit came to."""

    sent: list[str] = field(default_factory=list)     # the edits ShipBob took
    refused: list[str] = field(default_factory=list)  # why an edit could not be made, with the difference
    applied: Edits = Edits()                         # what the shipment now has as IFS wants it


def run(ctx: Context, job: Job) -> str:
    orders = ctx.customer_orders
    order, lines, address = orders.read(job.key)
    with ctx.session() as session:
        bound = {b.ifs_key: (b.shipbob_id, dict(b.data)) for b in _order_bindings(session, order.order_no)}
    if not bound:
        return "skipped: not pushed yet"
    if orders.is_cancelled(order):
        return "skipped: cancelled in IFS (the order push cancels it at ShipBob)"
    # An order IFS no longer holds Released (shipped in part or whole) whose
    # update came late: what shipped settles the lines (the vouchers' part),
    # but an address or shipping method ShipBob never got is a person's,
    # never silence. Its lines are those open or shipped (not cancelled ones).
    released = orders.is_released(order)
    stored = {ref: PushedPlan.from_data(data) for ref, (_id, data) in bound.items()}
    if not released:
        lines = [line for line in lines if orders.is_open(line) or line.qty_shipped > 0]
    try:
        wanted = _wanted(ctx, order, lines, address, stored, open_only=released)
    except NeedsAttention:
        for ref in bound:  # parked for this version of the order: the poll waits for the next
            _record(ctx, ref, order.changed, None)
        raise

    done: list[str] = []
    refused: list[str] = []
    for ref, (shipbob_id, _data) in sorted(bound.items()):
        change = edits(stored[ref], wanted.get(ref))
        if not released:  # nothing recorded: a line edit dropped here is not marked as seen
            change = Edits(address=change.address, shipping_method=change.shipping_method)
            if ref not in wanted or not change:
                continue
        if change:
            outcome = _apply(ctx, order.order_no, int(shipbob_id), wanted.get(ref), change)
            refused += outcome.refused
            done += [f"ShipBob order {shipbob_id}: {sent}" for sent in outcome.sent]
            log.info("IFS edit after the push", extra={
                "ifs_order_no": order.order_no, "shipbob_order_id": shipbob_id, "edits": change.names(),
                "sent": outcome.sent, "refused": outcome.refused})
            _record(ctx, ref, order.changed, at_shipbob(stored[ref], wanted.get(ref), outcome.applied))
        else:
            _record(ctx, ref, order.changed, None)
    new_sites = sorted(set(wanted) - set(bound)) if released else []
    if new_sites:
        # A new site's ShipBob order is the push's to create; the sweeper
        # wakes its job (a flow publishes nothing itself).
        with ctx.session() as session:
            jobs.request_job(session, Flow.ORDER_PUSH.value, order.order_no, ifs_ref=order.order_no)
        done.append(f"order push asked to create {', '.join(new_sites)}")
    if refused:
        raise NeedsAttention(f"order {order.order_no} was edited in IFS after the push and ShipBob "
                             f"cannot take it: {'; '.join(refused)}")
    if not released and not done:
        return f"skipped: order is {order.state}"
    return "; ".join(done) if done else "unchanged"


def _wanted(ctx: Context, order: CustomerOrder, lines: Sequence[OrderLine], address: Address | None,
            stored: Mapping[str, PushedPlan | None], open_only: bool = True) -> dict[str, PushedPlan]:
    """The plan per ShipBob reference IFS wants now; a site with no open line
    has none (`open_only`; else every line counts). SKUs pushed before are
    known to ShipBob: only new ones are looked up."""
    open_lines = [line for line in lines if not open_only or ctx.customer_orders.is_open(line)]
    if not open_lines:
        return {}
    pushed_skus = {ln.sku for plan in stored.values() if plan is not None for ln in plan.lines}
    skus = {sku for line in open_lines if (sku := ctx.mapping.sku_for(line.part_no)) is not None}
    new_skus = skus - pushed_skus
    known = pushed_skus | (set(inventory_ids_for(ctx, new_skus)) if new_skus else set())
    plans = plan_orders(order, open_lines, address, ctx.mapping, known)
    return {p.reference_id: keep_line_ids(stored.get(p.reference_id), PushedPlan.of(p)) for p in plans}


def _apply(ctx: Context, order_no: str, order_id: int, wanted: PushedPlan | None,
           change: Edits) -> _Outcome:
    """Bring ShipBob order `order_id` to `wanted` (None: cancel) in what
    `change` names."""
    outcome = _Outcome()
    shipments = live_shipments(ctx.shipbob.get_order(order_id).get("shipments") or [])
    if wanted is None:
        for shipment in shipments:  # none left: cancelled already
            _cancel(ctx, shipment, outcome)
        outcome.applied = change if not outcome.refused else Edits()
        return outcome
    if not shipments:
        outcome.refused.append(f"ShipBob order {order_id} has no shipment left to edit")
        return outcome
    per_shipment = change
    lines_split_ok = True
    if change.lines and len(shipments) > 1:
        # The complete line list is per shipment: which units go where is a person's call.
        held = dict(sum((Counter(s.quantities) for s in shipments), Counter()))
        if held != wanted.quantities():
            total = replace(shipments[0], quantities=held)
            outcome.refused.append(f"ShipBob order {order_id} is split into {len(shipments)} shipments: "
                                   + ", ".join(differences(wanted, total, Edits(lines=True))))
            lines_split_ok = False
        per_shipment = replace(change, lines=False)
    refused: set[str] = set()
    for shipment in shipments:
        refused |= set(_edit(ctx, order_no, shipment, wanted, per_shipment, outcome))
    outcome.applied = Edits(address=change.address and "address" not in refused,
                            shipping_method=change.shipping_method and "shipping_method" not in refused,
                            lines=change.lines and lines_split_ok and "lines" not in refused)
    return outcome


def _edit(ctx: Context, order_no: str, shipment: ShipmentFacts, wanted: PushedPlan, change: Edits,
          outcome: _Outcome) -> list[str]:
    """The edits one shipment needs; returns the names of those not made."""
    todo = _still_to_do(shipment, wanted, change)
    if not todo:
        return []
    if not shipment.editable:
        outcome.refused.append(_refusal(shipment, wanted, todo))
        return todo.names()
    try:
        if todo.lines:
            _update_lines(ctx, shipment, wanted)
            outcome.sent.append(f"shipment {shipment.id} lines " + ", ".join(
                f"{sku} x{qty}" for sku, qty in sorted(wanted.quantities().items())))
        if todo.address:
            ctx.shipbob.update_shipment_address(shipment.id, shipment_address(wanted))
            outcome.sent.append(f"shipment {shipment.id} address")
        if todo.shipping_method:
            _update_service(ctx, order_no, shipment, str(wanted.shipping_method))
            outcome.sent.append(f"shipment {shipment.id} shipping method {wanted.shipping_method}")
    except (ShipmentUpdateRefused, NeedsAttention) as exc:
        # Picked meanwhile, a rule ShipBob applies, or a SKU or method it lacks:
        # what the shipment holds now is the difference.
        now = shipment_facts(ctx.shipbob.get_shipment(shipment.id))
        left = _still_to_do(now, wanted, todo)
        if left:
            why = exc.reason if isinstance(exc, NeedsAttention) else str(exc)
            outcome.refused.append(_refusal(now, wanted, left, why))
        return left.names()
    return []


def _still_to_do(shipment: ShipmentFacts, wanted: PushedPlan, change: Edits) -> Edits:
    """Of what IFS changed, what the shipment does not hold yet."""
    return Edits(address=change.address and shipment.address != flat_recipient(wanted.recipient),
                 shipping_method=change.shipping_method and shipment.shipping_method != wanted.shipping_method,
                 lines=change.lines and shipment.quantities != wanted.quantities())


def _update_lines(ctx: Context, shipment: ShipmentFacts, wanted: PushedPlan) -> None:
    quantities = wanted.quantities()
    ids = inventory_ids_for(ctx, list(quantities))
    unknown = sorted(set(quantities) - set(ids))
    if unknown:
        raise NeedsAttention(f"SKU {', '.join(unknown)} is unknown at ShipBob")
    ctx.shipbob.update_shipment_line_items(shipment.id, {ids[sku]: qty for sku, qty in quantities.items()})


def _cancel(ctx: Context, shipment: ShipmentFacts, outcome: _Outcome) -> None:
    """Every line of the plan left open state in IFS: the shipment goes."""
    if not shipment.editable:
        outcome.refused.append(_refusal(shipment, None, Edits(cancel=True)))
        return
    try:
        ctx.shipbob.cancel_shipment(shipment.id)
        outcome.sent.append(f"shipment {shipment.id} cancelled")
    except ShipmentUpdateRefused as exc:
        now = shipment_facts(ctx.shipbob.get_shipment(shipment.id))
        if now.live:
            outcome.refused.append(_refusal(now, None, Edits(cancel=True), str(exc)))


def _refusal(shipment: ShipmentFacts, wanted: PushedPlan | None, todo: Edits, why: str | None = None) -> str:
    """`ShipBob shipment N is picked: <field>: IFS x, ShipBob y, ...`."""
    state = f"is {shipment.stage()}" if not shipment.editable else f"was not changed ({why})"
    return f"ShipBob shipment {shipment.id} {state}: " + ", ".join(differences(wanted, shipment, todo))


def _update_service(ctx: Context, order_no: str, shipment: ShipmentFacts, method: str) -> None:
    """bulkUpdateShippingService takes a service level id, looked up by the
    shipping method's name (cached for the pool, like SKUs)."""
    key = f"shipping-method:{method}"
    cached = ctx.coordinator.cache_get(key)
    if cached is None:
        level = next((m.service_level_id for m in ctx.shipbob.shipping_methods()
                      if m.name == method and m.active and m.service_level_id is not None), None)
        if level is None:
            raise NeedsAttention(f"ShipBob has no active shipping method {method!r}")
        ctx.coordinator.cache_set(key, json.dumps(level), SERVICE_CACHE_SECONDS)
    else:
        level = int(json.loads(cached))
    results = ctx.shipbob.bulk_update_shipping_service(
        [shipment.id], level, f"IFS order {order_no}: ship-via changed to {method}")
    result = next((r for r in results if r.shipment_id == shipment.id), None)
    if result is None or not result.ok:
        code, message = (result.code, result.message) if result else (None, "no result for it")
        raise ShipmentUpdateRefused(f"ShipBob shipment {shipment.id}: service update refused "
                                    f"({code}: {message})", shipment.id, code)


def _record(ctx: Context, reference_id: str, changed: str | None, plan: PushedPlan | None) -> None:
    """The binding is current for IFS stamp `changed` (the poll stops asking
    until it moves); `plan`: what ShipBob now has, when it changed."""
    with ctx.session() as session:
        binding = session.execute(select(Binding).where(
            Binding.kind == BindingKind.ORDER, Binding.ifs_key == reference_id)).scalar_one()
        values = {IFS_CHANGED: changed, **(plan.data() if plan is not None else {})}
        if any(binding.data.get(k) != v for k, v in values.items()):
            update_data(binding, **values)


# ------------------------------------------------------------- bindings

def _order_bindings(session: Session, order_no: str) -> list[Binding]:
    """The order bindings of one IFS order (one per site pushed)."""
    rows = session.execute(select(Binding).where(
        Binding.kind == BindingKind.ORDER,
        (Binding.ifs_key == order_no) | Binding.ifs_key.startswith(f"{order_no}-"),
    )).scalars().all()
    return [b for b in rows if (b.data or {}).get("order_no") == order_no]


def _bound_stamps(session: Session, order_nos: Sequence[str], sites: Sequence[str]) -> dict[str, set[str | None]]:
    """order_no -> the change stamps its bindings are current for (absent:
    never pushed by us). The references a push can give an order: its number,
    or `<number>-<site>` (connector.mappers.orders.reference_for)."""
    keys = [key for no in order_nos for key in (no, *(f"{no}-{site}" for site in sites))]
    wanted = set(order_nos)
    found: dict[str, set[str | None]] = {}
    for start in range(0, len(keys), 1000):
        for binding in session.execute(select(Binding).where(
                Binding.kind == BindingKind.ORDER, Binding.ifs_key.in_(keys[start:start + 1000]))).scalars():
            order_no = (binding.data or {}).get("order_no")
            if order_no in wanted:
                found.setdefault(order_no, set()).add((binding.data or {}).get(IFS_CHANGED))
    return found


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
