"""Flow 1: an IFS customer order becomes ShipBob order(s), exactly once.

The recipe (OCA's exporter): find the existing binding -> read -> map ->
create (a duplicate reference is success) -> bind and commit -> write the
ShipBob id back onto the IFS order under its ETag. An order cancelled in IFS
after the push is cancelled at ShipBob, or flagged once ShipBob has picked it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from sqlalchemy import or_, select

from connector import jobs
from connector.bindings import BindingKind, bind, find_binding
from connector.context import Context
from connector.db.models import Binding, Job
from connector.errors import NeedsAttention, PermanentError
from connector.ifs import odata
from connector.ifs.client import Read
from connector.mappers.orders import ShipBobOrderPlan, plan_orders, reference_for
from connector.shipbob.errors import DuplicateReference
from connector.sku_lookup import inventory_ids_for

log = logging.getLogger(__name__)


def run(ctx: Context, job: Job) -> str:
    names = ctx.names.customer_order
    order_no = job.key
    order_path = odata.key_path(names.order_set, OrderNo=order_no)
    # The header (with its ETag), lines and delivery address in one round trip.
    header, lines, addresses = ctx.ifs.read_many(names.projection, [
        Read(order_path), Read(f"{order_path}/{names.lines_nav}"),
        Read(names.address_set, filter=odata.eq("OrderNo", order_no))])
    address = next(iter(addresses), None)
    if header.get("Objstate") == names.cancelled_state:
        return _cancel_at_shipbob(ctx, job, header)
    if header.get("Objstate") != names.released_state:
        if not _bound_shipbob_ids(ctx, order_no):
            return f"skipped: order is {header.get('Objstate')}"
        return _finish_after_shipping(ctx, job, order_path, header, lines, address)
    skus = {ctx.mapping.sku_for(line["PartNo"]) for line in lines} - {None}
    plans = plan_orders(header, lines, address, ctx.mapping, set(inventory_ids_for(ctx, skus)))

    shipbob_ids = [str(_ensure_shipbob_order(ctx, plan)) for plan in plans]
    # The header was read by key at the start: its ETag saves a GET, and a
    # concurrent edit since then only costs a 412 and a re-read.
    _write_back(ctx, order_path, ",".join(shipbob_ids), current=header)
    with ctx.session() as session:
        jobs.set_shipbob_refs(session, job.id, shipbob_ids)
    return f"ShipBob order(s) {', '.join(shipbob_ids)}"


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
            "lines": [asdict(line) for line in plan.lines],
        })
    return int(order["id"])


def _finish_after_shipping(ctx: Context, job: Job, order_path: str, header: dict,
                           lines: list[dict], address: dict | None) -> str:
    """Pushed (maybe in part) on an earlier try whose write-back or second
    site failed, and shipped before this retry: its voucher moved the order out
    of Released. Push the sites not pushed yet, then write every id back."""
    order_no = header["OrderNo"]
    with ctx.session() as session:
        missing = [line for line in lines if find_binding(session, BindingKind.ORDER, reference_for(
            order_no, line.get("Contract") or header["Contract"], header["Contract"])) is None]
    if missing:
        skus = {ctx.mapping.sku_for(line["PartNo"]) for line in missing} - {None}
        for plan in plan_orders(header, missing, address, ctx.mapping, set(inventory_ids_for(ctx, skus))):
            _ensure_shipbob_order(ctx, plan)
    shipbob_ids = _bound_shipbob_ids(ctx, order_no)
    _write_back(ctx, order_path, shipbob_ids, current=header)
    with ctx.session() as session:
        jobs.set_shipbob_refs(session, job.id, shipbob_ids.split(","))
    return f"ShipBob order(s) {shipbob_ids.replace(',', ', ')} (order is {header.get('Objstate')})"


def _bound_shipbob_ids(ctx: Context, order_no: str) -> str:
    """The ShipBob ids bound for this order's plans, in plan (site) order."""
    with ctx.session() as session:
        rows = session.execute(select(Binding).where(
            Binding.kind == BindingKind.ORDER,
            or_(Binding.ifs_key == order_no, Binding.ifs_key.startswith(f"{order_no}-")),
        )).scalars().all()
    mine = [b for b in rows if (b.data or {}).get("order_no") == order_no]
    return ",".join(b.shipbob_id for b in sorted(mine, key=lambda b: str((b.data or {}).get("site"))))


def _write_back(ctx: Context, order_path: str, shipbob_ids: str, current: dict | None = None) -> None:
    names = ctx.names.customer_order
    field = names.shipbob_id_field

    def apply(entity: dict) -> dict | None:
        return None if entity.get(field) == shipbob_ids else {field: shipbob_ids}

    ctx.ifs.update(names.projection, order_path, apply, current=current)


CANCEL_HANDLED = "cancel_handled"


def _cancel_at_shipbob(ctx: Context, job: Job, header: dict) -> str:
    """An IFS order cancelled after it was pushed: cancel it at ShipBob, which
    refuses (422) once the warehouse has picked or shipped it - then flag it."""
    order_no = header["OrderNo"]
    ids = [i for i in (header.get(ctx.names.customer_order.shipbob_id_field) or "").split(",") if i]
    ids = ids or [i for i in _bound_shipbob_ids(ctx, order_no).split(",") if i]
    cancelled, refused = [], []
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
        row = session.get(Job, job.id)
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

