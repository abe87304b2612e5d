"""Flow 2: ShipBob shipments become IFS fulfillment vouchers, exactly once.

One job per ShipBob order serialises all of its events. Each run re-fetches
the order (webhook bodies are hints) and converges IFS on it: post a voucher
for every shipped shipment that IFS does not have yet (IFS is checked by
ExternalRef before writing, which covers a crash between the IFS write and our
bookkeeping), then bring tracking and delivery up to date under the ETag.
Events that arrive twice, late or out of order therefore end the same way.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from connector import jobs, kv
from connector.bindings import BindingKind, bind, find_binding, find_by_shipbob, update_data
from connector.context import Context
from connector.db.models import Binding, Flow, Job, utcnow
from connector.errors import NeedsAttention, TransientError, WaitingFor
from connector.ifs import odata
from connector.mappers.orders import tagged_ifs_order_no
from connector.mappers.vouchers import HELD, SHIPPED, allocate, shipped_quantities, voucher_body, voucher_changes

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
        order_no = binding.data["order_no"] if binding else None
        bound_lines = binding.data["lines"] if binding else []
    if binding is None:
        ifs_order_no = tagged_ifs_order_no(order)
        if ifs_order_no:
            # Created by our order push, which has not bound it yet: wait for it.
            raise WaitingFor(f"ShipBob order {order_id} is not bound to an IFS order yet",
                             Flow.ORDER_PUSH.value, ifs_order_no)
        return f"ignored: ShipBob order {order_id} did not come from IFS"

    shipments = order.get("shipments") or ctx.shipbob.order_shipments(order_id)
    posted, updated, held, uploaded = [], [], [], []
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
    if held:
        raise NeedsAttention("; ".join(held))
    return (f"IFS order {order_no}: {len(posted)} voucher(s) posted, {len(updated)} updated"
            f" for {len(shipments)} shipment(s); ShipBob status {order.get('status')}")


def _ensure_voucher(ctx: Context, order_no: str, order_id: int, shipment: dict,
                    bound_lines: list[dict]) -> tuple[str, bool]:
    """The voucher number for a shipment, posting it to IFS if needed."""
    shipment_id = shipment["id"]
    with ctx.session() as session:
        existing = find_by_shipbob(session, BindingKind.SHIPMENT, shipment_id)
        if existing is not None:
            return existing.ifs_key, False
    names = ctx.names
    voucher = _voucher_in_ifs(ctx, shipment_id)
    created = voucher is None
    if created:
        order_path = odata.key_path(names.customer_order.order_set, OrderNo=order_no)
        lines = list(ctx.ifs.query(names.customer_order.projection,
                                   f"{order_path}/{names.customer_order.lines_nav}"))
        open_qty = {
            (str(l["LineNo"]), str(l["RelNo"]), int(l.get("LineItemNo") or 0)):
                float(l.get("BuyQtyDue") or 0) - float(l.get("QtyShipped") or 0)
            for l in lines
        }
        voucher_lines = allocate(shipment_id, shipped_quantities(shipment), bound_lines, open_qty)
        if not voucher_lines:
            raise NeedsAttention(f"shipment {shipment_id} has no quantities to post")
        ctx.ifs.bound_action(
            names.customer_order.projection, order_path, names.fulfillment.action,
            voucher_body(order_id, shipment, voucher_lines),
            check=lambda _order: _voucher_in_ifs(ctx, shipment_id) is not None,
        )
        voucher = _voucher_in_ifs(ctx, shipment_id)
        if voucher is None:
            raise TransientError(f"IFS accepted the voucher for shipment {shipment_id} but does not list it yet")
    voucher_no = str(voucher[names.fulfillment.voucher_key])
    with ctx.session() as session:
        bind(session, BindingKind.SHIPMENT, voucher_no, str(shipment_id),
             {"order_no": order_no, "order_id": order_id})
    log.info("voucher %s", "posted" if created else "found in IFS",
             extra={"ifs_order_no": order_no, "shipbob_order_id": order_id,
                    "shipment_id": shipment_id, "voucher_no": voucher_no})
    return voucher_no, created


def _voucher_in_ifs(ctx: Context, shipment_id: int) -> dict | None:
    names = ctx.names.fulfillment
    rows = ctx.ifs.query(names.voucher_projection, names.voucher_set,
                         filter=odata.eq("ExternalRef", str(shipment_id)))
    return next(iter(rows), None)


def _sync_tracking(ctx: Context, voucher_no: str, shipment: dict) -> bool:
    names = ctx.names.fulfillment
    path = odata.key_path(names.voucher_set, **{names.voucher_key: voucher_no})
    result = ctx.ifs.update(names.voucher_projection, path, lambda v: voucher_changes(v, shipment))
    # The binding remembers what IFS now has, so the shipment poll can tell
    # a shipment IFS is behind on without asking IFS.
    with ctx.session() as session:
        binding = find_by_shipbob(session, BindingKind.SHIPMENT, shipment["id"])
        if not _ifs_is_current(binding, shipment):
            update_data(binding, **_shipment_facts(shipment))
    return result is not None


def _shipment_facts(shipment: dict) -> dict:
    return {"tracking": (shipment.get("tracking") or {}).get("tracking_number"),
            "delivered": shipment.get("delivery_date")}


def _ifs_is_current(binding: Binding | None, shipment: dict) -> bool:
    return binding is not None and all(
        binding.data.get(k) == v for k, v in _shipment_facts(shipment).items())


def poll_untracked(ctx: Context) -> list[int]:
    """The fallback for missed webhooks: shipped orders whose tracking IFS has
    not got yet (shipbob.md §4 tracking poll)."""
    # Read every page first: no database transaction stays open across API calls.
    order_ids = [str(order["id"]) for order in ctx.shipbob.orders(HasTracking=True, IsTrackingUploaded=False)]
    with ctx.session() as session:
        return _request_jobs(session, order_ids)


def _request_jobs(session, order_ids: list[str]) -> list[int]:
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
    no voucher for, or whose tracking or delivery IFS has not got. Covers
    what the tracking poll cannot see: a delivery, and a shipment shipped
    without tracking. Returns the job ids to wake."""
    now = now or utcnow()
    with ctx.session() as session:
        since = SHIPMENT_POLL.since(session, now)
    # Read every page first: no database transaction stays open across API calls.
    # No SortOrder: its values for /order are undocumented. An order that
    # changes while we page may shift out of view; it is in the next overlap.
    shipped = {
        str(order["id"]): [s for s in order.get("shipments") or [] if s.get("status") == SHIPPED]
        for order in ctx.shipbob.orders(LastUpdateStartDate=since)
    }
    with ctx.session() as session:
        behind = [order_id for order_id, shipments in shipped.items()
                  if not all(_ifs_is_current(find_by_shipbob(session, BindingKind.SHIPMENT, s["id"]), s)
                             for s in shipments)]
        wake = _request_jobs(session, behind)
        SHIPMENT_POLL.advance(session, now)
    return wake
