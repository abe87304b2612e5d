"""Flow 2: ShipBob shipments become IFS fulfillment vouchers, exactly once.

One job per ShipBob order serialises all of its events. Each run re-fetches
the order (webhook bodies are hints) and converges IFS on it, per shipped
shipment:

1. find its voucher: our binding, else IFS by the shipment's external
   reference (which covers a crash between the IFS write and our bookkeeping);
2. none: spread the shipped units over the order lines still open in IFS and
   post the delivery (the mapping's posting step, connector/ifs/deliveries.py);
3. bring the voucher's tracking and delivery date up to date under its ETag.

Then the shipments cancelled at ShipBob are brought to IFS, or to a person
(connector/flows/shipment_cancel.py).

Events that arrive twice, late or out of order therefore end the same way.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from connector import jobs, kv
from connector.bindings import BindingKind, bind, find_binding, find_by_shipbob, update_data
from connector.context import Context
from connector.db.models import Binding, Flow, Job, utcnow
from connector.errors import NeedsAttention, WaitingFor
from connector.flows import shipment_cancel
from connector.ifs.customer_orders import CustomerOrders
from connector.ifs.deliveries import Deliveries, Voucher
from connector.mappers.cancellations import cancelled_shipments
from connector.mappers.orders import tagged_ifs_order_no
from connector.mappers.vouchers import HELD, SHIPPED, allocate, delivery, shipped_quantities, tracking_changes

log = logging.getLogger(__name__)

# ShipBob retries a webhook for about 27 h (shipbob.md §6): a first poll looks
# back past that.
SHIPMENT_POLL = kv.PollCursor("poll.shipments.cursor", first_lookback=timedelta(days=2),
                              overlap=timedelta(minutes=30))


def run(ctx: Context, job: Job) -> str:
    order_id = int(job.key)
    order = ctx.shipbob.get_order(order_id)
    with ctx.session() as session:
        binding = find_by_shipbob(session, BindingKind.ORDER, order_id)
        if binding is None:
            binding = find_binding(session, BindingKind.ORDER, order.get("reference_id") or "")
        bound = (str(binding.data["order_no"]), list(binding.data["lines"])) if binding else None
    if bound is None:
        ifs_order_no = tagged_ifs_order_no(order)
        if ifs_order_no:
            # Created by our order push, which has not bound it yet: wait for it.
            raise WaitingFor(f"ShipBob order {order_id} is not bound to an IFS order yet",
                             Flow.ORDER_PUSH.value, ifs_order_no)
        return f"ignored: ShipBob order {order_id} did not come from IFS"
    order_no, bound_lines = bound

    shipments = order.get("shipments") or ctx.shipbob.order_shipments(order_id)
    posted: list[int] = []
    updated: list[int] = []
    held: list[str] = []
    uploaded: list[int] = []
    for shipment in sorted(shipments, key=lambda s: s["id"]):
        status = shipment.get("status")
        if status in HELD:
            held.append(f"shipment {shipment['id']} is {status} at ShipBob")
        if status != SHIPPED:
            continue
        voucher_no, created = _ensure_voucher(ctx, order_no, order_id, shipment, bound_lines)
        if created:
            posted.append(shipment["id"])
        if _sync_tracking(ctx, voucher_no, shipment):
            updated.append(shipment["id"])
        if (shipment.get("tracking") or {}).get("tracking_number") and not shipment.get("is_tracking_uploaded"):
            uploaded.append(shipment["id"])
    if uploaded:
        # Only now that IFS has the tracking: the polling fallback stops here.
        ctx.shipbob.mark_tracking_uploaded(uploaded)
    # Shipments cancelled at ShipBob: after the vouchers, which take their units first.
    cancels = shipment_cancel.bring_to_ifs(ctx, order_no, order_id, shipments, bound_lines)
    if held or cancels.attention:
        raise NeedsAttention("; ".join(held + cancels.attention))
    cancelled = f", {len(cancels.cancelled)} cancellation(s) cancelled in IFS" if cancels.cancelled else ""
    return (f"IFS order {order_no}: {len(posted)} voucher(s) posted, {len(updated)} updated{cancelled}"
            f" for {len(shipments)} shipment(s); ShipBob status {order.get('status')}")


def _ensure_voucher(ctx: Context, order_no: str, order_id: int, shipment: dict[str, Any],
                    bound_lines: list[dict[str, Any]]) -> tuple[str, bool]:
    """The voucher key for a shipment, posting the delivery to IFS if needed."""
    shipment_id = shipment["id"]
    with ctx.session() as session:
        existing = find_by_shipbob(session, BindingKind.SHIPMENT, shipment_id)
        if existing is not None:
            return existing.ifs_key, False
    voucher, created = post_if_missing(ctx.deliveries, ctx.customer_orders, order_no, order_id,
                                       shipment, bound_lines)
    with ctx.session() as session:
        bind(session, BindingKind.SHIPMENT, voucher.key, str(shipment_id),
             {"order_no": order_no, "order_id": order_id})
    log.info("voucher %s", "posted" if created else "found in IFS",
             extra={"ifs_order_no": order_no, "shipbob_order_id": order_id,
                    "shipment_id": shipment_id, "voucher_no": voucher.key})
    return voucher.key, created


def post_if_missing(deliveries: Deliveries, orders: CustomerOrders, order_no: str, order_id: int,
                    shipment: dict[str, Any], bound_lines: list[dict[str, Any]]) -> tuple[Voucher, bool]:
    """The shipment's voucher in IFS, and whether it was posted now: when IFS
    has none, its units are spread over the order lines still open in IFS
    and the delivery is posted."""
    shipment_id = shipment["id"]
    voucher = deliveries.find(str(shipment_id))
    if voucher is not None:
        return voucher, False
    open_qty = {line.key: line.open_qty for line in orders.lines(order_no)}
    lines = allocate(shipment_id, shipped_quantities(shipment), bound_lines, open_qty)
    if not lines:
        raise NeedsAttention(f"shipment {shipment_id} has no quantities to post")
    return deliveries.post(delivery(order_no, order_id, shipment, lines)), True


def update_tracking(deliveries: Deliveries, voucher_key: str, shipment: dict[str, Any]) -> bool:
    """Bring the voucher's carrier, tracking and delivery date up to the
    shipment's; False when it had them already."""
    return deliveries.update(voucher_key, lambda voucher: tracking_changes(voucher, shipment))


def _sync_tracking(ctx: Context, voucher_no: str, shipment: dict[str, Any]) -> bool:
    changed = update_tracking(ctx.deliveries, voucher_no, shipment)
    # The binding remembers what IFS now has, so the shipment poll can tell
    # a shipment IFS is behind on without asking IFS.
    with ctx.session() as session:
        binding = find_by_shipbob(session, BindingKind.SHIPMENT, shipment["id"])
        if binding is not None and not _ifs_is_current(binding, shipment):
            update_data(binding, **_shipment_facts(shipment))
    return changed


def _shipment_facts(shipment: dict[str, Any]) -> dict[str, Any]:
    return {"tracking": (shipment.get("tracking") or {}).get("tracking_number"),
            "delivered": shipment.get("delivery_date")}


def _ifs_is_current(binding: Binding | None, shipment: dict[str, Any]) -> bool:
    return binding is not None and all(
        binding.data.get(k) == v for k, v in _shipment_facts(shipment).items())


def poll_untracked(ctx: Context) -> list[int]:
    """The fallback for missed webhooks: shipped orders whose tracking IFS has
    not got yet (shipbob.md §4 tracking poll)."""
    # Read every page first: no database transaction stays open across API calls.
    order_ids = [str(order["id"]) for order in ctx.shipbob.orders(HasTracking=True, IsTrackingUploaded=False)]
    with ctx.session() as session:
        return _request_jobs(session, order_ids)


def _request_jobs(session: Session, order_ids: list[str]) -> list[int]:
    """Request the voucher job of each order of ours; the ids of those to wake."""
    wake = []
    for order_id in order_ids:
        if find_by_shipbob(session, BindingKind.ORDER, order_id) is None:
            continue  # not an order of ours (or not bound yet: the next poll sees it)
        requested = jobs.request_job(session, Flow.SHIPMENT_VOUCHER.value, order_id,
                                     shipbob_refs=[order_id], hurry=False, revive_parked=False)
        if requested.wake:
            wake.append(requested.job_id)
    return wake


def poll_shipment_changes(ctx: Context, now: datetime | None = None) -> list[int]:
    """The fallback for webhooks lost for good (shipbob.md §4, §6): orders
    ShipBob changed since the last poll that have a shipped shipment IFS has
    no voucher for, or whose tracking or delivery IFS has not got, or a
    cancelled shipment not examined yet. Covers what the tracking poll
    cannot see: a delivery, a shipment shipped without tracking, and a
    cancellation in ShipBob's dashboard (which fires no webhook). Returns
    the job ids to wake."""
    now = now or utcnow()
    with ctx.session() as session:
        since = SHIPMENT_POLL.since(session, now)
    # Read every page first: no database transaction stays open across API calls.
    # No SortOrder: its values for /order are undocumented. An order that
    # changes while we page may shift out of view; it is in the next overlap.
    changed = {str(order["id"]): order.get("shipments") or []
               for order in ctx.shipbob.orders(LastUpdateStartDate=since)}
    with ctx.session() as session:
        behind = [order_id for order_id, shipments in changed.items()
                  if not all(_ifs_is_current(find_by_shipbob(session, BindingKind.SHIPMENT, s["id"]), s)
                             for s in shipments if s.get("status") == SHIPPED)
                  or not all(shipment_cancel.examined(session, s["id"]) for s in cancelled_shipments(shipments))]
        wake = _request_jobs(session, behind)
        SHIPMENT_POLL.advance(session, now)
    return wake
