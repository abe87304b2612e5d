"""Flow 1: an IFS customer order becomes ShipBob order(s), exactly once.

The recipe (OCA's exporter): find the existing binding -> read -> map ->
create (a duplicate reference is success) -> bind and commit -> write the
ShipBob id back onto the IFS order under its ETag. An order cancelled in IFS
after the push is cancelled at ShipBob, or flagged once ShipBob has picked it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import or_, select

from connector import jobs
from connector.bindings import BindingKind, bind, find_binding
from connector.context import Context
from connector.db.models import Binding, Job
from connector.errors import NeedsAttention, PermanentError
from connector.flows import stock_shortage
from connector.ifs.customer_orders import Address, CustomerOrder, OrderLine
from connector.mappers.order_edits import pushed_facts
from connector.mappers.orders import ShipBobOrderPlan, plan_orders, reference_for, site_of
from connector.shipbob.errors import DuplicateReference
from connector.sku_lookup import inventory_ids_for

log = logging.getLogger(__name__)


def run(ctx: Context, job: Job) -> str:
    orders = ctx.customer_orders
    # The header (with its ETag), lines and delivery address in one round trip.
    order, lines, address = orders.read(job.key)
    if orders.is_cancelled(order):
        return _cancel_at_shipbob(ctx, job, order)
    if not orders.is_released(order):
        if not _bound_shipbob_ids(ctx, order.order_no):
            return f"skipped: order is {order.state}"
        return _finish_after_shipping(ctx, job, order, lines, address)
    plans = _plan(ctx, order, lines, address)
    # ShipBob short of what the order needs: held here, or flagged once pushed.
    with stock_shortage.checked(ctx, job, order.order_no, plans):
        shipbob_ids = [str(_ensure_shipbob_order(ctx, plan)) for plan in plans]
    # The header was read by key at the start: its ETag saves a GET, and a
    # concurrent edit since then only costs a 412 and a re-read.
    _write_back(ctx, order, shipbob_ids)
    _record_shipbob_ids(ctx, job, shipbob_ids)
    return f"ShipBob order(s) {', '.join(shipbob_ids)}"


def _plan(ctx: Context, order: CustomerOrder, lines: Sequence[OrderLine],
          address: Address | None) -> list[ShipBobOrderPlan]:
    """The ShipBob orders for the open ones of `lines`."""
    open_lines = [line for line in lines if ctx.customer_orders.is_open(line)]
    skus = {sku for line in open_lines if (sku := ctx.mapping.sku_for(line.part_no)) is not None}
    return plan_orders(order, open_lines, address, ctx.mapping, set(inventory_ids_for(ctx, skus)))


def _ensure_shipbob_order(ctx: Context, plan: ShipBobOrderPlan) -> int:
    with ctx.session() as session:
        existing = find_binding(session, BindingKind.ORDER, plan.reference_id)
        if existing is not None:
            return int(existing.shipbob_id)
    try:
        order = ctx.shipbob.create_order(plan.body)
    except DuplicateReference:
        # Created before (a retry after a crash, or by someone else): adopt it.
        found = ctx.shipbob.find_orders_by_reference([plan.reference_id])
        if not found:
            raise NeedsAttention(
                f"ShipBob reports reference {plan.reference_id} exists but cannot find it"
            ) from None
        order = found[0]
        log.info("adopted existing ShipBob order", extra={"reference_id": plan.reference_id,
                                                          "shipbob_order_id": order["id"]})
    with ctx.session() as session:
        bind(session, BindingKind.ORDER, plan.reference_id, str(order["id"]), {
            "order_no": plan.order_no,
            "site": plan.site,
            "fulfillment_center_id": plan.fulfillment_center_id,
            # What was sent (lines, recipient, shipping method) and the IFS
            # change stamp it came from: how order_update tells an edit.
            **pushed_facts(plan),
        })
    return int(order["id"])


def _finish_after_shipping(ctx: Context, job: Job, order: CustomerOrder, lines: Sequence[OrderLine],
                           address: Address | None) -> str:
    """Pushed (maybe in part) on an earlier try whose write-back or second
    site failed, and shipped before this retry: its voucher moved the order out
    of Released. Push the sites not pushed yet, then write every id back."""
    with ctx.session() as session:
        missing = [line for line in lines if find_binding(session, BindingKind.ORDER, reference_for(
            order.order_no, site_of(line, order), order.site)) is None]
    if missing:
        for plan in _plan(ctx, order, missing, address):
            _ensure_shipbob_order(ctx, plan)
    shipbob_ids = _bound_shipbob_ids(ctx, order.order_no)
    _write_back(ctx, order, shipbob_ids)
    _record_shipbob_ids(ctx, job, shipbob_ids)
    return f"ShipBob order(s) {', '.join(shipbob_ids)} (order is {order.state})"


def _bound_shipbob_ids(ctx: Context, order_no: str) -> list[str]:
    """The ShipBob ids bound for this order's plans, in plan (site) order."""
    with ctx.session() as session:
        rows = session.execute(select(Binding).where(
            Binding.kind == BindingKind.ORDER,
            or_(Binding.ifs_key == order_no, Binding.ifs_key.startswith(f"{order_no}-")),
        )).scalars().all()
    mine = [b for b in rows if (b.data or {}).get("order_no") == order_no]
    return [b.shipbob_id for b in sorted(mine, key=lambda b: str((b.data or {}).get("site")))]


def _write_back(ctx: Context, order: CustomerOrder, shipbob_ids: Sequence[str]) -> None:
    ctx.customer_orders.write_shipbob_ids(order, shipbob_ids)


def _record_shipbob_ids(ctx: Context, job: Job, shipbob_ids: Sequence[str]) -> None:
    """The job row shows the ShipBob ids (one text column, comma-joined)."""
    with ctx.session() as session:
        jobs.set_shipbob_refs(session, job.id, list(shipbob_ids))


CANCEL_HANDLED = "cancel_handled"


def _cancel_at_shipbob(ctx: Context, job: Job, order: CustomerOrder) -> str:
    """An IFS order cancelled after it was pushed: cancel it at ShipBob, which
    refuses (422) once the warehouse has picked or shipped it - then flag it."""
    order_no = order.order_no
    ids = list(order.shipbob_ids) or _bound_shipbob_ids(ctx, order_no)
    cancelled: list[str] = []
    refused: list[str] = []
    for order_id in ids:
        if ctx.shipbob.get_order(order_id).get("status") == "Cancelled":
            cancelled.append(order_id)
            continue
        try:
            result = ctx.shipbob.cancel_order(order_id)
        except PermanentError as exc:
            if getattr(exc, "status", None) != 422:
                raise
            refused.append(order_id)
            continue
        (cancelled if result.get("status") in ("Success", None) else refused).append(order_id)
    with ctx.session() as session:  # the poll stops asking about this order
        row = session.get_one(Job, job.id)
        row.payload = {**row.payload, CANCEL_HANDLED: True}
    log.info("IFS cancellation applied", extra={"ifs_order_no": order_no, "cancelled": cancelled,
                                                "refused": refused})
    if refused:
        raise NeedsAttention(
            f"order {order_no} was cancelled in IFS, but ShipBob order(s) {', '.join(refused)} "
            "were already picked or shipped and could not be cancelled")
    if not ids:
        return "cancelled in IFS before it was pushed: nothing to do"
    return f"cancelled in IFS: ShipBob order(s) {', '.join(cancelled)} cancelled"
