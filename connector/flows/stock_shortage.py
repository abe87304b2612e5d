"""Shortages are never silent. Before a push, what the order needs per SKU and
fulfillment center is held against ShipBob's fulfillable quantity, less what other
pushes have just taken (connector/stock_levels.py); the mapping's `shortage` decides:

- `flag`: the order is pushed and a `stock_shortage` item, keyed by the IFS order,
  is parked for a person naming SKU, center, need and available. It is a record of
  its own so that the push item stays done with its ShipBob ids, binding and
  write-back; running it (a replay, or stock arriving) re-checks ShipBob and ends
  done once the center holds what it has committed.
- `hold`: nothing is sent; the push item is parked with the same details and waits
  for stock (Job.waits_for `stock:arrival`). A WRO receipt or the inventory sync
  ending wakes every held order and flagged item after one bulk re-read of their
  SKUs; a replay re-checks too. Resolving or ignoring a held order drops it.
- `off`: no check, no stock look-ups.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterator, Sequence

from sqlalchemy import and_, or_, select, update

from connector import stock_levels
from connector.bindings import BindingKind, find_binding
from connector.context import Context
from connector.db.models import Flow, Job, JobAttempt, JobState, utcnow
from connector.db.session import dialect_insert
from connector.errors import ConnectorError, NeedsAttention
from connector.mappers.orders import ShipBobOrderPlan
from connector.stock_levels import Need, Shortfall

log = logging.getLogger(__name__)

HOLD = "stock:arrival"  # Job.waits_for of a push held for stock
HELD = "stock_hold"  # the push item's payload: the shortfalls it waits for
# The push item's payload from the check until the shortage item exists: a push that
# dies after creating the order still flags it on its next try.
UNFLAGGED = "stock_short"
SHORTFALLS, FLAGGED_AT = "shortfalls", "flagged_at"  # the stock_shortage item's payload
# Flows whose end may mean more stock at ShipBob: stowed WRO units, the daily sync.
STOCK_ARRIVES = frozenset({Flow.INBOUND_RECEIPT.value, Flow.INVENTORY_SYNC.value})


def needs_of(plans: Sequence[ShipBobOrderPlan]) -> list[Need]:
    """Units per (ShipBob order, SKU) at the plan's center."""
    needs: list[Need] = []
    for plan in plans:
        units: Counter[str] = Counter()
        for line in plan.lines:
            units[line.sku] += int(line.quantity)
        needs += [Need(plan.reference_id, sku, plan.fulfillment_center_id, qty) for sku, qty in units.items()]
    return needs


def describe(shortfalls: Sequence[Shortfall], sites: dict[str, str]) -> str:
    """`SKU 'P1' at fulfillment center 156 (site S01): need 5, available 2; ...`"""
    return "; ".join(
        f"SKU '{s.sku}' at fulfillment center {s.center}"
        + (f" (site {sites[s.holder]})" if s.holder in sites else "")
        + f": need {s.need}, available {s.available}" for s in shortfalls)


@contextlib.contextmanager
def checked(ctx: Context, job: Job, order_no: str, plans: Sequence[ShipBobOrderPlan]) -> Iterator[None]:
    """Around the push's creates: holds the order (raises NeedsAttention, nothing
    created) or lets it through and flags it once pushed. Plans already bound were
    checked when they were pushed."""
    policy = ctx.mapping.shortage
    with ctx.session() as session:
        unbound = [p for p in plans if find_binding(session, BindingKind.ORDER, p.reference_id) is None]
    needs = needs_of(unbound) if policy != "off" else []
    # Held: nothing reserved, so no other order is made short by one not pushed.
    shortfalls = stock_levels.reserve(ctx, needs, all_or_nothing=policy == "hold")
    sites = {p.reference_id: p.site for p in plans}
    if shortfalls and policy == "hold":
        _hold(ctx, job, order_no, shortfalls, sites)
    # An earlier try's shortfalls of orders it created but died before flagging; the
    # plans still to create were checked again just now.
    checked_now = {p.reference_id for p in unbound}
    unflagged = [*shortfalls, *(s for s in map(Shortfall.from_data, (job.payload or {}).get(UNFLAGGED) or [])
                                if s.holder not in checked_now)]
    _update(ctx, job, {HELD: None, UNFLAGGED: [s.as_data() for s in unflagged] or None}, held=False)
    try:
        yield
    except BaseException:
        _settle(ctx, unbound, needs)
        raise
    stock_levels.confirm(ctx, needs)
    if unflagged:
        _flag(ctx, order_no, plans, unflagged, sites)
        _update(ctx, job, {UNFLAGGED: None}, held=False)


def _settle(ctx: Context, plans: Sequence[ShipBobOrderPlan], needs: Sequence[Need]) -> None:
    """A push that failed part-way: what it created keeps its units, the rest are
    given back. Never hides the push's own error."""
    try:
        with ctx.session() as session:
            created = {p.reference_id for p in plans
                       if find_binding(session, BindingKind.ORDER, p.reference_id) is not None}
        stock_levels.confirm(ctx, [n for n in needs if n.holder in created])
        stock_levels.release(ctx, [n for n in needs if n.holder not in created])
    except Exception:  # noqa: BLE001 - unconfirmed reservations lapse on their own
        log.warning("stock reservations not settled after a failed push", exc_info=True)


# ---------------------------------------------------------------------- hold

def _hold(ctx: Context, job: Job, order_no: str, shortfalls: Sequence[Shortfall],
          sites: dict[str, str]) -> None:
    _update(ctx, job, {HELD: [s.as_data() for s in shortfalls]}, held=True)
    raise NeedsAttention(
        f"order {order_no} held for stock (mapping shortage: hold), not pushed: "
        f"{describe(shortfalls, sites)}; pushed once ShipBob has it (checked again after a "
        "WRO receipt or the inventory sync, or on replay)")


def _update(ctx: Context, job: Job, values: dict[str, object], held: bool) -> None:
    """Set (None: drop) these payload keys on this run's item, and whether it waits
    for stock; no write when nothing changes."""
    payload = job.payload or {}
    changes = {k: v for k, v in values.items() if payload.get(k) != v}
    if not changes and (job.waits_for == HOLD) == held:
        return
    with ctx.session() as session:
        row = session.get_one(Job, job.id, with_for_update=True)
        if row.run_token != job.run_token:  # no longer this run's item
            return
        merged = {**row.payload, **changes}
        row.payload = {k: v for k, v in merged.items() if v is not None}
        if held:
            row.waits_for = HOLD
        elif row.waits_for == HOLD:
            row.waits_for = None
        # The run's own snapshot follows, so its next update compares with this one.
        job.payload, job.waits_for = dict(row.payload), row.waits_for


# ---------------------------------------------------------------------- flag

def _flag(ctx: Context, order_no: str, plans: Sequence[ShipBobOrderPlan],
          shortfalls: Sequence[Shortfall], sites: dict[str, str]) -> None:
    """The pushed order's shortage item, parked for a person (a new one replaces an
    earlier record of the same order)."""
    reason = f"order {order_no} was pushed short at ShipBob: {describe(shortfalls, sites)}"
    with ctx.session() as session:
        ids = [b.shipbob_id for p in plans
               if (b := find_binding(session, BindingKind.ORDER, p.reference_id)) is not None]
        now = utcnow()
        values = dict(state=JobState.ATTENTION.value, reason=reason, last_error=None, attempts=0,
                      ifs_ref=order_no, shipbob_refs=ids, lease_until=None, run_token=None,
                      waits_for=None, next_run_at=now, requested_at=now, updated_at=now,
                      payload={SHORTFALLS: [s.as_data() for s in shortfalls], FLAGGED_AT: time.time()})
        job_id = session.execute(
            dialect_insert(session)(Job).values(flow=Flow.STOCK_SHORTAGE.value, key=order_no,
                                                created_at=now, **values)
            .on_conflict_do_update(index_elements=["flow", "key"], set_=values)
            .returning(Job.id)).scalar_one()
        session.add(JobAttempt(job_id=job_id, started_at=now, finished_at=now, outcome="attention",
                               detail=reason))
    log.warning("order pushed short at ShipBob: %s", reason,
                extra={"ifs_order_no": order_no, "stock_shortage_job_id": job_id})


def run(ctx: Context, job: Job) -> str:
    """The stock_shortage item: is the shortage still there? Done once every short
    center holds what ShipBob has committed there; parked again otherwise."""
    shortfalls = [Shortfall.from_data(d) for d in job.payload.get(SHORTFALLS) or []]
    if not shortfalls:
        return "no shortage recorded"
    # Only a read made after the push knows its order.
    flagged_at = float(job.payload.get(FLAGGED_AT) or time.time())
    snaps = stock_levels.snapshots(ctx, {s.sku for s in shortfalls}, fresh_after=flagged_at)
    still = []
    for s in shortfalls:
        snap = snaps.get(s.sku)
        level = snap.centers.get(s.center) if snap else None
        if snap is None or snap.overcommitted(s.center) > 0 or level is None:
            now = (f"now on hand {level.on_hand}, committed {level.committed}" if level
                   else "now none there")
            still.append(f"SKU '{s.sku}' at fulfillment center {s.center}: need {s.need}, "
                         f"available {s.available} ({now})")
    if still:
        raise NeedsAttention(f"order {job.key} was pushed short at ShipBob and still is: "
                             + "; ".join(still))
    return ("stock arrived: ShipBob holds what it committed for "
            + ", ".join(sorted({f"SKU '{s.sku}' at {s.center}" for s in shortfalls})))


# ---------------------------------------------------------------------- wake

def wake_after(ctx: Context, flow: str) -> list[tuple[int, str, str]]:
    """After a job of `flow` ended done: if it may have brought stock, re-read the
    SKUs held orders and flagged items wait for (one bulk call) and make them due.
    Returns their (id, flow, key) to dispatch."""
    if flow not in STOCK_ARRIVES:
        return []
    with ctx.session() as session:
        waiting = session.execute(select(Job).where(
            Job.state == JobState.ATTENTION.value,
            or_(and_(Job.flow == Flow.ORDER_PUSH.value, Job.waits_for == HOLD),
                Job.flow == Flow.STOCK_SHORTAGE.value))).scalars().all()
        ids = [j.id for j in waiting]
        skus = {str(s["sku"]) for j in waiting for s in (j.payload.get(HELD) or j.payload.get(SHORTFALLS) or [])}
    if not ids:
        return []
    try:
        stock_levels.snapshots(ctx, skus, fresh_after=time.time())
    except ConnectorError as exc:  # the re-checks read ShipBob themselves
        log.warning("stock not re-read before waking held orders: %s", exc)
        stock_levels.forget(ctx, skus)
    now = utcnow()
    with ctx.session() as session:
        rows = session.execute(
            update(Job).where(Job.id.in_(ids), Job.state == JobState.ATTENTION.value)
            .values(state=JobState.PENDING.value, next_run_at=now, requested_at=now, attempts=0,
                    reason=None, waits_for=None, request_seq=Job.request_seq + 1)
            .returning(Job.id, Job.flow, Job.key)
            .execution_options(synchronize_session=False)).all()
    log.info("stock may have arrived (%s): %d held or flagged item(s) re-checked", flow, len(rows))
    return [(job_id, job_flow, key) for job_id, job_flow, key in rows]
