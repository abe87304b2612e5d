"""Flow 3: a completed ShipBob return becomes an IFS goods return voucher.

Linked to the original order through original_shipment_id -> our shipment
binding -> the IFS order and its lines; nothing is guessed: a return with no
known shipment, items off the order or an IFS rule against it is parked. A
shipment of ours whose voucher is not in IFS yet (events are unordered) is a
wait, not a reason to park. The RMA is received at the IFS site of the
fulfillment center the goods came back to, where ShipBob holds them.

Exactly once: the RMA carries the ShipBob return id as ExternalRef and IFS is
checked for it before creating, and again before receiving. A poll of
completed returns covers a lost return.completed webhook.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from connector import jobs, kv
from connector.bindings import BindingKind, bind, find_by_shipbob
from connector.context import Context
from connector.db.models import Flow, Job, JobState, utcnow
from connector.errors import NeedsAttention, WaitingFor
from connector.ifs import odata
from connector.ifs.errors import IfsBusinessError
from connector.mappers.orders import tagged_ifs_order_no
from connector.mappers.returns import normalized_status, processed_actions, rma_lines
from connector.shipbob.errors import ShipBobNotFound
from connector.sku_lookup import inventory_ids_for

log = logging.getLogger(__name__)
RETURN_POLL = kv.PollCursor("poll.returns.cursor", first_lookback=timedelta(days=7),
                            overlap=timedelta(hours=1))


def run(ctx: Context, job: Job) -> str:
    return_id = int(job.key)
    ret = ctx.shipbob.get_return(return_id)
    status = normalized_status(ret)
    _record_state(ctx, job, status)
    if status == "Cancelled":
        return f"return {return_id} cancelled: nothing posted"
    if status != "Completed":
        return f"return {return_id} is {status}: waiting for completion"
    with ctx.session() as session:
        done = find_by_shipbob(session, BindingKind.RETURN, return_id)
        if done is not None:
            return f"return {return_id} already posted as RMA {done.ifs_key}"

    rma = _rma_in_ifs(ctx, return_id) or _create_rma(ctx, ret)
    rma_no = rma[ctx.names.returns.rma_key]
    if rma.get(ctx.names.returns.state_field) != ctx.names.returns.received_state:
        _release(ctx, rma_no)
        _receive(ctx, rma_no)
    with ctx.session() as session:
        bind(session, BindingKind.RETURN, str(rma_no), str(return_id), {"order_no": rma.get("OrderNo")})
    log.info("return voucher posted", extra={"return_id": return_id, "rma_no": rma_no,
                                             "ifs_order_no": rma.get("OrderNo")})
    return f"return {return_id} posted as RMA {rma_no} for order {rma.get('OrderNo')}"


def poll_completed_returns(ctx: Context, now: datetime | None = None) -> list[int]:
    """The fallback for lost return webhooks (ShipBob gives up after ~27 h,
    and return.completed is a return's last event): completed returns with no
    RMA of ours get their job run. Parked and failed jobs are left to a person.
    Returns the job ids to wake."""
    now = now or utcnow()
    with ctx.session() as session:
        since = RETURN_POLL.since(session, now)
    # Read every page first: no database transaction stays open across API calls.
    return_ids = [str(ret["id"]) for ret in ctx.shipbob.returns(
        Status=["Completed"], SortOrder="Asc", CompletedStartDate=since)]
    wake: dict[int, None] = {}
    with ctx.session() as session:
        for return_id in return_ids:
            if find_by_shipbob(session, BindingKind.RETURN, return_id) is not None:
                continue
            state = session.execute(select(Job.state).where(
                Job.flow == Flow.RETURN_VOUCHER.value, Job.key == return_id)).scalar_one_or_none()
            if state == JobState.FAILED.value:
                continue  # failed jobs wait for a person's replay
            requested = jobs.request_job(session, Flow.RETURN_VOUCHER.value, return_id,
                                         shipbob_refs=[return_id], hurry=False, revive_parked=False)
            if requested.wake:
                wake[requested.job_id] = None
        RETURN_POLL.advance(session, now)
    return list(wake)


def _record_state(ctx: Context, job: Job, status: str) -> None:
    with ctx.session() as session:
        row = session.get(Job, job.id)
        states = list(row.payload.get("states", []))
        if not states or states[-1]["status"] != status:
            states.append({"status": status, "seen_at": utcnow().isoformat()})
            row.payload = {**row.payload, "states": states}


def _rma_in_ifs(ctx: Context, return_id: int) -> dict | None:
    names = ctx.names.returns
    rows = ctx.ifs.query(names.projection, names.rma_set,
                         filter=odata.eq("ExternalRef", str(return_id)))
    return next(iter(rows), None)


def _original_order(ctx: Context, ret: dict) -> tuple[str, str, list[dict]]:
    """(IFS order no, site, bound lines) of the order the return came from:
    original_shipment_id -> our shipment binding -> our order binding."""
    return_id = ret["id"]
    shipment_id = ret.get("original_shipment_id")
    if not shipment_id:
        raise NeedsAttention(f"return {return_id} has no original shipment: no IFS order to return to")
    with ctx.session() as session:
        shipment = find_by_shipbob(session, BindingKind.SHIPMENT, shipment_id)
        order = find_by_shipbob(session, BindingKind.ORDER, shipment.data["order_id"]) if shipment else None
        if order is not None:
            return shipment.data["order_no"], order.data["site"], order.data["lines"]
    order_id = _our_unposted_shipment_order(ctx, shipment_id) if shipment is None else None
    if order_id is not None:
        stuck = _stuck_shipment_job(ctx, order_id)
        if stuck is not None:
            # Waiting would only wear this job out: the voucher needs a person first.
            raise NeedsAttention(f"return {return_id}: waits for the voucher of shipment {shipment_id}, "
                                 f"whose item {stuck} needs attention first; replay this after it")
        # Events are not ordered: the shipment's voucher is still on its way.
        raise WaitingFor(f"return {return_id}: the voucher for original shipment {shipment_id} "
                         "is not in IFS yet", Flow.SHIPMENT_VOUCHER.value, order_id)
    raise NeedsAttention(
        f"return {return_id}: original shipment {shipment_id} is not a shipment this connector posted"
    )


def _our_unposted_shipment_order(ctx: Context, shipment_id) -> str | None:
    """The ShipBob order id of a shipment of ours with no voucher yet, else None."""
    try:
        shipment = ctx.shipbob.get_shipment(shipment_id)
    except ShipBobNotFound:
        return None
    order_id = str(shipment.get("order_id") or "")
    with ctx.session() as session:
        if find_by_shipbob(session, BindingKind.ORDER, order_id) is not None:
            return order_id
    # Created by our order push, which has not bound it yet (its run was
    # stalled or killed after the create): the voucher waits for the push.
    return order_id if order_id and tagged_ifs_order_no(ctx.shipbob.get_order(order_id)) else None


def _stuck_shipment_job(ctx: Context, order_id: str) -> int | None:
    with ctx.session() as session:
        return session.execute(select(Job.id).where(
            Job.flow == Flow.SHIPMENT_VOUCHER.value, Job.key == order_id,
            Job.state.in_([JobState.ATTENTION.value, JobState.FAILED.value]))).scalar_one_or_none()


def _receiving_site(ctx: Context, ret: dict, order_site: str) -> str:
    """The IFS site of the fulfillment center the goods came back to (it may
    not be the one that shipped them): IFS must hold the stock where ShipBob
    does."""
    fc_id = (ret.get("fulfillment_center") or {}).get("id")
    if fc_id is None:
        return order_site
    sites = sorted(site for site, fc in ctx.mapping.sites.items() if fc == int(fc_id))
    if order_site in sites:
        return order_site
    if len(sites) == 1:
        return sites[0]
    raise NeedsAttention(
        f"return {ret['id']}: fulfillment center {fc_id} "
        + ("maps to several IFS sites (" + ", ".join(sites) + ")" if sites else "has no IFS site in the mapping")
    )


def _create_rma(ctx: Context, ret: dict) -> dict:
    return_id = ret["id"]
    order_no, order_site, bound_lines = _original_order(ctx, ret)
    site = _receiving_site(ctx, ret, order_site)
    skus = sorted({line["sku"] for line in bound_lines})
    by_inventory = {inv: sku for sku, inv in inventory_ids_for(ctx, skus).items()}
    processed = processed_actions(ret, by_inventory)

    co = ctx.names.customer_order
    order_path = odata.key_path(co.order_set, OrderNo=order_no)
    returnable = {
        (str(l["LineNo"]), str(l["RelNo"]), int(l.get("LineItemNo") or 0)):
            float(l.get("QtyShipped") or 0) - float(l.get("QtyReturned") or 0)
        for l in ctx.ifs.query(co.projection, f"{order_path}/{co.lines_nav}")
    }
    part_for_sku = {sku: ctx.mapping.part_for(sku) or sku for sku in skus}
    lines = rma_lines(return_id, processed, bound_lines, returnable, part_for_sku)
    if not lines:
        raise NeedsAttention(f"return {return_id} completed with nothing processed")
    names = ctx.names.returns
    # IFS has no idempotency key: look for the RMA again right before the
    # write (the fence then guards the write itself).
    existing = _rma_in_ifs(ctx, return_id)
    if existing is not None:
        return existing
    try:
        return ctx.ifs.create(names.projection, names.rma_set, {
            "OrderNo": order_no,
            "Contract": site,
            "ExternalRef": str(return_id),
            "Notes": f"ShipBob return {return_id} ({ret.get('reference_id')})",
            names.lines_nav: lines,
        })
    except IfsBusinessError as exc:
        # An IFS rule (e.g. units already on an open RMA) is data for a person.
        raise NeedsAttention(f"return {return_id}: IFS refused the RMA for order {order_no}: "
                             f"{exc.ifs_message or exc}") from None


def _release(ctx: Context, rma_no) -> None:
    """IFS receives only a released RMA (ifs-cloud.md §6); skipped when the
    mapping turns the step off or the RMA is released (or received) already."""
    names = ctx.names.returns
    if not names.release_action:
        return
    path = odata.key_path(names.rma_set, **{names.rma_key: rma_no})
    past_release = {names.released_state, names.received_state}
    try:
        ctx.ifs.bound_action(names.projection, path, names.release_action, {},
                             check=lambda rma: rma.get(names.state_field) in past_release)
    except IfsBusinessError as exc:
        raise NeedsAttention(f"IFS refused to release RMA {rma_no}: {exc.ifs_message or exc}") from None


def _receive(ctx: Context, rma_no) -> None:
    names = ctx.names.returns
    path = odata.key_path(names.rma_set, **{names.rma_key: rma_no})
    try:
        ctx.ifs.bound_action(names.projection, path, names.receive_action, {},
                             check=lambda rma: rma.get(names.state_field) == names.received_state)
    except IfsBusinessError as exc:
        raise NeedsAttention(f"IFS refused to receive RMA {rma_no}: {exc.ifs_message or exc}") from None
