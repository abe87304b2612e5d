"""What differs between IFS and ShipBob, read from both systems.

Each check lists its differences; a difference whose item is parked for
attention (with its reason) is "explained", anything else is "unexplained".
The CLI, the demo and the soak test all read the same report.

It looks back `days` (orders entered, returns completed, WROs created since
then): a year of history would cost thousands of ShipBob calls at 150/min.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from connector.bindings import BindingKind
from connector.context import Context
from connector.db.models import Binding, InventorySnapshot, Job, JobState, utcnow
from connector.flows.replenishment import base_po
from connector.ifs import odata
from connector.ifs.client import Read
from connector.ifs.errors import IfsNotFound
from connector.ifs.purchasing import PoLineKey
from connector.mappers.returns import normalized_status
from connector.mappers.vouchers import SHIPPED, shipped_quantities, voucher_changes


@dataclass
class Difference:
    key: str
    detail: str
    explained_by: str | None = None  # why it differs on purpose (parked, reported)


@dataclass
class CheckResult:
    name: str
    checked: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def unexplained(self) -> list[Difference]:
        return [d for d in self.differences if d.explained_by is None]


DEFAULT_DAYS = 30
VOUCHER_LINE_READS = 50  # navigation reads per $batch call


def reconcile(ctx: Context, days: int = DEFAULT_DAYS) -> list[CheckResult]:
    """The report over the last `days` days (0: all history)."""
    since = utcnow() - timedelta(days=days) if days > 0 else None
    parked = _parked(ctx)
    return [
        _orders_not_at_shipbob(ctx, parked, since),
        *_shipments(ctx, parked, since),
        _returns_not_posted(ctx, parked, since),
        _receipts(ctx, parked, since),
        _stock(ctx),
    ]


def _parked(ctx: Context) -> dict[tuple[str, str], str]:
    with ctx.session() as session:
        rows = session.execute(select(Job.flow, Job.key, Job.state, Job.reason, Job.resolved_by,
                                      Job.resolution_note).where(Job.state.in_(_EXPLAINING)))
        return {(flow, key): f"parked for attention: {reason}" if state == JobState.ATTENTION.value
                else f"{state} by {by}: {note}" for flow, key, state, reason, by, note in rows}


# Job states that explain a difference: parked for a person, or closed by one.
_EXPLAINING = (JobState.ATTENTION.value, JobState.RESOLVED.value, JobState.IGNORED.value)


def _orders_not_at_shipbob(ctx: Context, parked, since: datetime | None) -> CheckResult:
    names = ctx.names.customer_order
    released = odata.enum_literal(names.projection, names.state_enum, names.released_state)
    result = CheckResult("IFS orders released but not at ShipBob")
    rows = ctx.ifs.query(
        names.projection, names.order_set,
        filter=odata.and_(f"Objstate eq {released}", odata.any_of("Contract", ctx.settings.mapped_sites()),
                          odata.ge(names.changed_field, since) if since else None),
        select=["OrderNo", names.shipbob_id_field], orderby=["OrderNo asc"],
    )
    for row in rows:
        result.checked += 1
        if not row.get(names.shipbob_id_field):
            key = row["OrderNo"]
            result.differences.append(Difference(key, "no ShipBob order id on the IFS order",
                                                 parked.get(("order_push", key))))
    return result


def _ifs_vouchers(ctx: Context) -> dict[str, list[dict]]:
    names = ctx.names.fulfillment
    by_shipment: dict[str, list[dict]] = defaultdict(list)
    for voucher in ctx.ifs.query(names.voucher_projection, names.voucher_set,
                                 orderby=[f"{names.voucher_key} asc"]):
        by_shipment[str(voucher.get("ExternalRef"))].append(voucher)
    return by_shipment


def _shipments(ctx: Context, parked, since: datetime | None) -> list[CheckResult]:
    query = select(Binding.shipbob_id).where(Binding.kind == BindingKind.ORDER)
    if since:
        query = query.where(Binding.created_at >= since)
    with ctx.session() as session:
        order_ids = list(session.execute(query).scalars())
    vouchers = _ifs_vouchers(ctx)
    missing = CheckResult("ShipBob shipments without an IFS voucher")
    doubled = CheckResult("IFS vouchers posted more than once")
    quantities = CheckResult("voucher quantities that differ from the shipment")
    tracking = CheckResult("vouchers behind ShipBob on tracking or delivery")
    compare: list[tuple[dict, dict, str | None]] = []  # (shipment, its voucher, parked reason)
    for start in range(0, len(order_ids), 50):
        for order in ctx.shipbob.orders(IDs=order_ids[start:start + 50]):
            for shipment in order.get("shipments") or []:
                if shipment.get("status") != SHIPPED:
                    continue
                missing.checked += 1
                posted = vouchers.get(str(shipment["id"]), [])
                reason = parked.get(("shipment_voucher", str(order["id"])))
                if not posted:
                    missing.differences.append(Difference(str(shipment["id"]),
                                                          f"order {order.get('reference_id')}", reason))
                    continue
                if len(posted) > 1:
                    doubled.differences.append(Difference(str(shipment["id"]), f"{len(posted)} vouchers"))
                compare.append((shipment, posted[0], reason))
                behind = voucher_changes(posted[0], shipment)
                if behind:
                    tracking.differences.append(Difference(
                        str(shipment["id"]), f"IFS voucher lacks {', '.join(sorted(behind))}", reason))
    booked = _voucher_quantities(ctx, [voucher for _, voucher, _ in compare])
    for shipment, voucher, reason in compare:
        shipped = sum(shipped_quantities(shipment).values())
        on_voucher = booked[str(voucher[ctx.names.fulfillment.voucher_key])]
        if shipped != on_voucher:
            quantities.differences.append(Difference(
                str(shipment["id"]), f"shipped {shipped}, voucher {on_voucher:g}", reason))
    doubled.checked = quantities.checked = tracking.checked = missing.checked
    return [missing, doubled, quantities, tracking]


def _voucher_quantities(ctx: Context, vouchers: list[dict]) -> dict[str, float]:
    """Voucher key -> units on its lines. The lines are a collection
    navigation, which no collection read carries (OData inlines a navigation
    only on $expand, and IFS expands one-to-one navigations only, ifs-cloud.md
    §8), so they are read through the navigation: VOUCHER_LINE_READS of them
    per $batch call."""
    names = ctx.names.fulfillment
    keys = list(dict.fromkeys(str(v[names.voucher_key]) for v in vouchers))
    booked: dict[str, float] = {}
    for start in range(0, len(keys), VOUCHER_LINE_READS):
        chunk = keys[start:start + VOUCHER_LINE_READS]
        reads = [Read(f"{odata.key_path(names.voucher_set, **{names.voucher_key: key})}/"
                      f"{names.voucher_lines_nav}") for key in chunk]
        for key, lines in zip(chunk, ctx.ifs.read_many(names.voucher_projection, reads)):
            booked[key] = sum(float(line.get(names.voucher_line_qty_field) or 0) for line in lines)
    return booked


def _returns_not_posted(ctx: Context, parked, since: datetime | None) -> CheckResult:
    rmas = Counter(ctx.returns.external_refs())
    result = CheckResult("completed ShipBob returns without an IFS return voucher (or doubled)")
    for ret in ctx.shipbob.returns(CompletedStartDate=since):
        if normalized_status(ret) != "Completed":
            continue
        result.checked += 1
        count = rmas.get(str(ret["id"]), 0)
        if count != 1:
            result.differences.append(Difference(
                str(ret["id"]), f"{count} IFS return vouchers", parked.get(("return_voucher", str(ret["id"])))))
    return result


def _receipts(ctx: Context, parked, since: datetime | None) -> CheckResult:
    """Per purchase order and part: stowed at ShipBob == received by us in IFS."""
    stowed: dict[tuple[str, str], float] = defaultdict(float)
    for wro in ctx.shipbob.wros(InsertStartDate=since):
        if wro.get("status") == "Cancelled" or not wro.get("purchase_order_number"):
            continue
        po = base_po(wro["purchase_order_number"])
        for item in wro.get("inventory_quantities") or []:
            part = ctx.mapping.part_for(item.get("sku") or "") or item.get("sku")
            stowed[(po, part)] += float(item.get("stowed_quantity") or 0)
    lines_part: dict[PoLineKey, str] = {}
    for po in sorted({po for po, _ in stowed}):
        try:
            lines_part.update((line.key, line.part_no) for line in ctx.purchasing.lines(po))
        except IfsNotFound:  # a WRO whose PO is not in IFS (not ours) is not compared
            stowed = {k: v for k, v in stowed.items() if k[0] != po}
    received: dict[tuple[str, str], float] = defaultdict(float)
    for receipt in ctx.purchasing.our_receipts():
        part = lines_part.get(receipt.key)
        if part:
            received[(receipt.key.order_no, part)] += receipt.qty
    result = CheckResult("stowed at ShipBob vs received in IFS, per purchase order and part")
    for (po, part), qty in sorted(stowed.items()):
        result.checked += 1
        if received.get((po, part), 0) != qty:
            result.differences.append(Difference(
                f"{po}/{part}", f"stowed {qty:g}, received {received.get((po, part), 0):g}",
                parked.get(("inbound_receipt", po))))
    return result


def _stock(ctx: Context) -> CheckResult:
    """The latest inventory sync: drift it found and did not act on."""
    result = CheckResult("stock drift left unhandled by the last inventory sync")
    with ctx.session() as session:
        snapshot = session.execute(
            select(InventorySnapshot).where(InventorySnapshot.dry_run == 0)
            .order_by(InventorySnapshot.id.desc()).limit(1)
        ).scalar_one_or_none()
    if snapshot is None:
        return result
    summary = snapshot.summary or {}
    result.checked = int(summary.get("skus_compared", 0))
    for row in summary.get("unhandled", []):
        result.differences.append(Difference(str(row.get("sku")), str(row.get("status")),
                                             "reported by the inventory sync: " + str(row.get("detail", ""))))
    return result
