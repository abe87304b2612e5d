"""Flow 3: a completed ShipBob return becomes an IFS goods return voucher.

Linked to the original order through original_shipment_id -> our shipment
binding -> the IFS order and its lines; nothing is guessed: a return with no
known shipment, items off the order or an IFS rule against it is parked. A
shipment of ours whose voucher is not in IFS yet (events are unordered) is a
wait, not a reason to park. The RMA is received at the IFS site of the
fulfillment center the goods came back to, where ShipBob holds them.

The recipe (`post_rma`, on the gateways ctx.returns and ctx.customer_orders):
1. the RMA carrying the ShipBob return id as its external reference, if IFS
   has one; else
2. the processed units spread over the order lines of their SKU, within what
   each line shipped and has not had returned, and the RMA created with them
   (IFS is asked for it again right before the create: it has no
   idempotency key);
3. unless received already: released (a mapping step, skipped when released
   already), then received (the mapping's posting step).

A poll of completed returns covers a lost return.completed webhook.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import select

from connector import jobs, kv
from connector.bindings import BindingKind, bind, find_by_shipbob
from connector.context import Context
from connector.db.models import Flow, Job, JobState, utcnow
from connector.errors import NeedsAttention, WaitingFor
from connector.ifs.customer_orders import CustomerOrders
from connector.ifs.errors import IfsBusinessError
from connector.ifs.returns import Returns, Rma
from connector.mappers.orders import tagged_ifs_order_no
from connector.mappers.returns import Processed, normalized_status, processed_actions, rma_lines
from connector.shipbob.errors import ShipBobNotFound
from connector.sku_lookup import inventory_ids_for

log = logging.getLogger(__name__)
RETURN_POLL = kv.PollCursor("poll.returns.cursor", first_lookback=timedelta(days=7),
                            overlap=timedelta(hours=1))


@dataclass(frozen=True)
class RmaRequest:
    """What one completed ShipBob return asks of IFS, before IFS is asked."""

    return_id: int
    order_no: str
    site: str  # where the goods came back to
    notes: str
    processed: list[Processed]
    bound_lines: list[dict[str, Any]]  # the order binding's lines (line key + sku)
    part_for_sku: dict[str, str]


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

    rma = post_rma(ctx.returns, ctx.customer_orders, return_id, lambda: _rma_request(ctx, ret))
    with ctx.session() as session:
        bind(session, BindingKind.RETURN, rma.rma_no, str(return_id), {"order_no": rma.order_no})
    log.info("return voucher posted", extra={"return_id": return_id, "rma_no": rma.rma_no,
                                             "ifs_order_no": rma.order_no})
    return f"return {return_id} posted as RMA {rma.rma_no} for order {rma.order_no}"


def post_rma(returns: Returns, orders: CustomerOrders, return_id: int,
             request: Callable[[], RmaRequest]) -> Rma:
    """The RMA for this return, found or created (`request` is only built
    when IFS has none), then released and received unless received already."""
    rma = returns.find_by_external_ref(str(return_id)) or create_rma(returns, orders, request())
    if not returns.is_received(rma):
        _release(returns, rma)
        _receive(returns, rma)
    return rma


def create_rma(returns: Returns, orders: CustomerOrders, request: RmaRequest) -> Rma:
    return_id = request.return_id
    returnable = {line.key: line.returnable_qty for line in orders.lines(request.order_no)}
    lines = rma_lines(return_id, request.processed, request.bound_lines, returnable, request.part_for_sku)
    if not lines:
        raise NeedsAttention(f"return {return_id} completed with nothing processed")
    # IFS has no idempotency key: look for the RMA again right before the
    # write (the fence then guards the write itself).
    existing = returns.find_by_external_ref(str(return_id))
    if existing is not None:
        return existing
    try:
        return returns.create(order_no=request.order_no, site=request.site, external_ref=str(return_id),
                              notes=request.notes, lines=lines)
    except IfsBusinessError as exc:
        # An IFS rule (e.g. units already on an open RMA) is data for a person.
        raise NeedsAttention(f"return {return_id}: IFS refused the RMA for order {request.order_no}: "
                             f"{exc.ifs_message or exc}") from None


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
        if row is None:
            return  # deleted by an operator meanwhile: nothing to record on
        states = list(row.payload.get("states", []))
        if not states or states[-1]["status"] != status:
            states.append({"status": status, "seen_at": utcnow().isoformat()})
            row.payload = {**row.payload, "states": states}


def _original_order(ctx: Context, ret: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """(IFS order no, site, bound lines) of the order the return came from:
    original_shipment_id -> our shipment binding -> our order binding."""
    return_id = ret["id"]
    shipment_id = ret.get("original_shipment_id")
    if not shipment_id:
        raise NeedsAttention(f"return {return_id} has no original shipment: no IFS order to return to")
    with ctx.session() as session:
        shipment = find_by_shipbob(session, BindingKind.SHIPMENT, shipment_id)
        order = find_by_shipbob(session, BindingKind.ORDER, shipment.data["order_id"]) if shipment else None
        if shipment is not None and order is not None:
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


def _our_unposted_shipment_order(ctx: Context, shipment_id: int | str) -> str | None:
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


def _receiving_site(ctx: Context, ret: dict[str, Any], order_site: str) -> str:
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


def _rma_request(ctx: Context, ret: dict[str, Any]) -> RmaRequest:
    return_id = int(ret["id"])
    order_no, order_site, bound_lines = _original_order(ctx, ret)
    site = _receiving_site(ctx, ret, order_site)
    skus = sorted({line["sku"] for line in bound_lines})
    by_inventory = {inv: sku for sku, inv in inventory_ids_for(ctx, skus).items()}
    return RmaRequest(
        return_id=return_id, order_no=order_no, site=site,
        notes=f"ShipBob return {return_id} ({ret.get('reference_id')})",
        processed=processed_actions(ret, by_inventory), bound_lines=bound_lines,
        part_for_sku={sku: ctx.mapping.part_for(sku) or sku for sku in skus})


def _create_rma(ctx: Context, ret: dict[str, Any]) -> Rma:
    """Steps 1-2 alone (a test stops a worker between create and receipt)."""
    return create_rma(ctx.returns, ctx.customer_orders, _rma_request(ctx, ret))


def _release(returns: Returns, rma: Rma) -> None:
    """IFS receives only a released RMA (IFS docs, "About RMA"); the gateway skips
    the step when the mapping turns it off or the RMA is past it already."""
    try:
        returns.release(rma)
    except IfsBusinessError as exc:
        raise NeedsAttention(f"IFS refused to release RMA {rma.rma_no}: {exc.ifs_message or exc}") from None


def _receive(returns: Returns, rma: Rma) -> None:
    try:
        returns.receive(rma)
    except IfsBusinessError as exc:
        raise NeedsAttention(f"IFS refused to receive RMA {rma.rma_no}: {exc.ifs_message or exc}") from None
