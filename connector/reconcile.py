"""What differs between IFS and ShipBob, read from both systems.

Each check lists its differences; a difference whose item is parked for
attention (with its reason) is "explained", anything else is "unexplained".
The CLI, the demo and the soak test all read the same report.

It looks back `days` (orders entered, returns completed, WROs created since
then): a year of history would cost thousands of ShipBob calls at 150/min.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from connector.bindings import BindingKind
from connector.context import Context
from connector.db.models import Binding, Flow, InventorySnapshot, Job, JobState, utcnow
from connector.errors import NeedsAttention
from connector.flows.inventory_sync import PO_PREFIX as INVENTORY_SYNC_PREFIX
from connector.flows.replenishment import CHUNK_LOOKUP_BATCH, CHUNK_SEPARATOR, base_po, chunk_name
from connector.flows.wro_quantities import PartNeed, is_live, needs_by_part
from connector.ifs.customer_orders import Address, CustomerOrder, OrderLine
from connector.ifs.deliveries import Voucher
from connector.ifs.errors import IfsNotFound
from connector.ifs.purchasing import PoLineKey
from connector.json_types import JsonObject
from connector.mappers.cancellations import cancelled_shipments, describe, plan_cancellations
from connector.mappers.order_edits import Edits, PushedPlan, differences, live_shipments
from connector.mappers.orders import plan_orders
from connector.mappers.returns import normalized_status
from connector.mappers.vouchers import SHIPPED, shipped_quantities, tracking_changes
from connector.shipbob.stock import item_stock_of


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


def reconcile(ctx: Context, days: int = DEFAULT_DAYS) -> list[CheckResult]:
    """The report over the last `days` days (0: all history)."""
    since = utcnow() - timedelta(days=days) if days > 0 else None
    parked = _parked(ctx)
    return [
        _orders_not_at_shipbob(ctx, parked, since),
        _edits_not_at_shipbob(ctx, since),
        *_shipments(ctx, parked, since),
        _returns_not_posted(ctx, parked, since),
        _receipts(ctx, parked, since),
        *_wros_against_purchase_orders(ctx, parked, since),
        _stock(ctx),
        _shipbob_cancels_not_in_ifs(ctx, parked, since),
        _committed_beyond_on_hand(ctx, parked),
    ]


Parked = dict[tuple[str, str], str]  # (flow, key) -> why it is parked or closed


def _parked(ctx: Context) -> Parked:
    with ctx.session() as session:
        rows = session.execute(select(Job.flow, Job.key, Job.state, Job.reason, Job.resolved_by,
                                      Job.resolution_note).where(Job.state.in_(_EXPLAINING)))
        return {(flow, key): f"parked for attention: {reason}" if state == JobState.ATTENTION.value
                else f"{state} by {by}: {note}" for flow, key, state, reason, by, note in rows}


# Job states that explain a difference: parked for a person, or closed by one.
_EXPLAINING = (JobState.ATTENTION.value, JobState.RESOLVED.value, JobState.IGNORED.value)


def _orders_not_at_shipbob(ctx: Context, parked: Parked, since: datetime | None) -> CheckResult:
    result = CheckResult("IFS orders released but not at ShipBob")
    for order in ctx.customer_orders.released(ctx.settings.mapped_sites(), since):
        result.checked += 1
        if not order.shipbob_ids:
            result.differences.append(Difference(order.order_no, "no ShipBob order id on the IFS order",
                                                 parked.get(("order_push", order.order_no))))
    return result


def _edits_not_at_shipbob(ctx: Context, since: datetime | None) -> CheckResult:
    """Released IFS orders with ShipBob ids: every shipment not shipped yet
    holds what IFS wants now (address, shipping method, units per SKU). A
    parked edit (picked before it came) still ships wrong, so it stays
    unexplained until a person closes the order's update item."""
    result = CheckResult("IFS edits not at ShipBob")
    sites = ctx.settings.mapped_sites()
    order_nos = {o.order_no for o in ctx.customer_orders.released_pushed_since(sites, since)}
    # The references a push gives an order: its number, or <number>-<site>.
    keys = sorted(k for no in order_nos for k in (no, *(f"{no}-{site}" for site in sites)))
    refs: dict[str, dict[str, str]] = defaultdict(dict)  # order -> reference -> ShipBob order id
    with ctx.session() as session:
        for start in range(0, len(keys), 1000):
            for binding in session.execute(select(Binding).where(
                    Binding.kind == BindingKind.ORDER, Binding.ifs_key.in_(keys[start:start + 1000]))).scalars():
                order_no = (binding.data or {}).get("order_no")
                if order_no in order_nos:
                    refs[order_no][binding.ifs_key] = binding.shipbob_id
        closed = {key: note for key, note in session.execute(select(Job.key, Job.resolution_note).where(
            Job.flow == Flow.ORDER_UPDATE.value, Job.state.in_(_CLOSED)))}
    ids = sorted({sb_id for per_order in refs.values() for sb_id in per_order.values()})
    at_shipbob = {str(o["id"]): o for start in range(0, len(ids), 50)
                  for o in ctx.shipbob.orders(IDs=ids[start:start + 50])}
    for order, lines, address in ctx.customer_orders.read_orders(sorted(refs)):
        try:
            wanted = _plans_now(ctx, order, lines, address)
        except NeedsAttention as exc:
            result.checked += 1
            result.differences.append(Difference(order.order_no, f"cannot be planned: {exc.reason}",
                                                 _closed_note(closed, order.order_no)))
            continue
        for ref, shipbob_id in sorted(refs[order.order_no].items()):
            diff = _order_differences(wanted.get(ref), at_shipbob.get(shipbob_id) or {})
            if diff is None:
                continue
            result.checked += 1
            if diff:
                result.differences.append(Difference(f"{order.order_no} (ShipBob order {shipbob_id})",
                                                     "; ".join(diff), _closed_note(closed, order.order_no)))
    return result


def _order_differences(wanted: PushedPlan | None, order: JsonObject) -> list[str] | None:
    """How a ShipBob order differs from what IFS wants (None: nothing left to
    ship there; shipped shipments are the voucher checks'). Address and method
    per shipment not shipped yet; units over every shipment not cancelled, as
    IFS counts an order's units until their voucher is posted."""
    shipments = live_shipments(order.get("shipments") or [])
    unshipped = [s for s in shipments if s.status != SHIPPED]
    if not unshipped:
        return None
    out: list[str] = []
    for s in unshipped if wanted is not None else []:
        where = f"shipment {s.id} " if len(unshipped) > 1 else ""
        out += [where + d for d in differences(wanted, s, Edits(address=True, shipping_method=True))]
    units = dict(sum((Counter(s.quantities) for s in shipments), Counter()))
    return out + differences(wanted, replace(unshipped[0], quantities=units), Edits(lines=True))


def _plans_now(ctx: Context, order: CustomerOrder, lines: list[OrderLine],
               address: Address | None) -> dict[str, PushedPlan]:
    """What IFS wants at ShipBob now, per reference (no SKU look-up: a SKU
    ShipBob lacks shows as a difference)."""
    open_lines = [line for line in lines if ctx.customer_orders.is_open(line)]
    if not open_lines:
        return {}
    skus = {sku for line in open_lines if (sku := ctx.mapping.sku_for(line.part_no)) is not None}
    return {p.reference_id: PushedPlan.of(p) for p in plan_orders(order, open_lines, address, ctx.mapping, skus)}


def _closed_note(closed: dict[str, str | None], order_no: str) -> str | None:
    return f"closed by a person: {closed[order_no]}" if order_no in closed else None


_CLOSED = (JobState.RESOLVED.value, JobState.IGNORED.value)


def _ifs_vouchers(ctx: Context) -> dict[str, list[Voucher]]:
    by_shipment: dict[str, list[Voucher]] = defaultdict(list)
    for voucher in ctx.deliveries.vouchers():
        by_shipment[str(voucher.external_ref)].append(voucher)
    return by_shipment


def _shipments(ctx: Context, parked: Parked, since: datetime | None) -> list[CheckResult]:
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
    compare: list[tuple[JsonObject, Voucher, str | None]] = []  # (shipment, its voucher, parked reason)
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
                behind = tracking_changes(posted[0], shipment)
                if behind:
                    tracking.differences.append(Difference(
                        str(shipment["id"]),
                        f"IFS voucher lacks {', '.join(ctx.deliveries.field_names(behind))}", reason))
    booked = ctx.deliveries.booked_quantities(voucher.key for _, voucher, _ in compare)
    for shipment, voucher, reason in compare:
        shipped = sum(shipped_quantities(shipment).values())
        on_voucher = booked[voucher.key]
        if shipped != on_voucher:
            quantities.differences.append(Difference(
                str(shipment["id"]), f"shipped {shipped}, voucher {on_voucher:g}", reason))
    doubled.checked = quantities.checked = tracking.checked = missing.checked
    return [missing, doubled, quantities, tracking]


def _returns_not_posted(ctx: Context, parked: Parked, since: datetime | None) -> CheckResult:
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


def _receipts(ctx: Context, parked: Parked, since: datetime | None) -> CheckResult:
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


def _wros_against_purchase_orders(ctx: Context, parked: dict[tuple[str, str], str],
                                  since: datetime | None) -> list[CheckResult]:
    """Per IFS purchase order and SKU: what its live WROs announce against
    what its lines expect through ShipBob (connector/flows/wro_quantities.py),
    for the orders with a WRO created since `since` (all their WROs, older
    chunks and the warehouse's split-offs included). A SKU on two WROs that
    together announce more than the lines expect is a doubled WRO; a top-up
    after an increase carries only the extra, so it is not one.

    A WRO cannot be edited, so a difference on a WRO stays until a person
    corrects it at ShipBob or closes the order's item (`resolve`/`ignore`);
    the attention item alone does not explain it. A SKU on no WRO yet is
    explained by the order's parked item (an unknown SKU, a fraction)."""
    doubled = CheckResult("purchase orders with two WROs for the same lines")
    quantities = CheckResult("WRO quantities that differ from the PO lines")
    wros = _purchase_order_wros(ctx, since)
    purchasing = ctx.purchasing
    headers = purchasing.orders_by_number(wros)  # a number IFS does not have is not ours
    if not headers:
        return [doubled, quantities]
    lines = purchasing.lines_of(headers)
    received: dict[PoLineKey, float] = defaultdict(float)
    for receipt in purchasing.our_receipts():
        received[receipt.key] += receipt.qty
    closed_by_person = _closed_by_a_person(ctx, Flow.REPLENISHMENT)
    for po, header in sorted(headers.items()):
        order_closed = purchasing.is_order_closed(header)
        needs = needs_by_part(lines[po], received, purchasing.is_closed, order_closed)
        expect: dict[str, list[PartNeed]] = defaultdict(list)
        for part, part_need in needs.items():
            expect[ctx.mapping.sku_for(part) or part].append(part_need)
        live = [wro for wro in wros[po] if is_live(wro)]
        announce: dict[str, float] = defaultdict(float)
        carried_by: dict[str, set[int]] = defaultdict(set)
        for wro in live:
            for item in wro.get("inventory_quantities") or []:
                sku = str(item.get("sku") or item["inventory_id"])
                announce[sku] += float(item.get("expected_quantity") or 0)
                carried_by[sku].add(int(wro["id"]))
        for sku in sorted(set(expect) | set(announce)):
            quantities.checked += 1
            need = sum(part.need for part in expect.get(sku, []))
            got = announce.get(sku, 0.0)
            if abs(got - need) < QTY_TOLERANCE:
                continue
            on = sorted(carried_by.get(sku, ()))
            lines_text = ", ".join(part.describe() for part in expect.get(sku, [])) or "no line of the order"
            detail = (f"WRO {', '.join(map(str, on)) or 'none'} announce(s) {got:g}, "
                      f"{lines_text} expect(s) {need:g} through ShipBob")
            reason = closed_by_person.get(po) if on else parked.get((Flow.REPLENISHMENT.value, po))
            target = doubled if len(on) > 1 and got > need else quantities
            target.differences.append(Difference(f"{po}/{sku}", detail, reason))
    doubled.checked = quantities.checked
    return [doubled, quantities]


QTY_TOLERANCE = 1e-6


def _purchase_order_wros(ctx: Context, since: datetime | None) -> dict[str, list[dict[str, Any]]]:
    """Base purchase order number -> every WRO under its chunk numbers, for
    the orders with a WRO created since `since`. The orders' numbers are
    read again in full: an older chunk, or the WRO a split-off came from,
    may predate the window."""
    highest: dict[str, int] = {}
    for wro in ctx.shipbob.wros(InsertStartDate=since):
        number = wro.get("purchase_order_number") or ""
        po = base_po(number)
        if not number or po.startswith(f"{INVENTORY_SYNC_PREFIX}-"):
            continue
        index = _chunk_index(number)
        if index is not None:
            highest[po] = max(highest.get(po, 0), index)
    names = {chunk_name(po, i): po for po, top in highest.items() for i in range(1, top + 1)}
    ordered = sorted(names)
    found: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for start in range(0, len(ordered), CHUNK_LOOKUP_BATCH):
        for wro in ctx.shipbob.wros(PurchaseOrderNumbers=ordered[start:start + CHUNK_LOOKUP_BATCH]):
            of = names.get(wro.get("purchase_order_number") or "")
            if of is not None:  # exact numbers only
                found[of][int(wro["id"])] = wro
    return {po: [wro for _, wro in sorted(by_id.items())] for po, by_id in found.items()}


def _chunk_index(number: str) -> int | None:
    """1 for `<PO>`, k for `<PO>#k`; None for a number the connector does not make."""
    _, separator, index = number.partition(CHUNK_SEPARATOR)
    if not separator:
        return 1
    return int(index) if index.isdigit() and int(index) > 1 else None


def _closed_by_a_person(ctx: Context, flow: Flow) -> dict[str, str]:
    """Key -> who closed the flow's item and why, for items a person resolved or ignored."""
    with ctx.session() as session:
        rows = session.execute(select(Job.key, Job.state, Job.resolved_by, Job.resolution_note).where(
            Job.flow == flow.value, Job.state.in_((JobState.RESOLVED.value, JobState.IGNORED.value))))
        return {key: f"{state} by {by}: {note}" for key, state, by, note in rows}


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


def _shipbob_cancels_not_in_ifs(ctx: Context, parked: Parked, since: datetime | None) -> CheckResult:
    """Shipments cancelled at ShipBob whose units IFS still has open
    (connector/mappers/cancellations.py), for the ShipBob orders pushed
    since `since`; explained while the order's shipment item is parked."""
    result = CheckResult("ShipBob cancellations not in IFS")
    query = select(Binding.shipbob_id, Binding.data).where(Binding.kind == BindingKind.ORDER)
    if since:
        query = query.where(Binding.created_at >= since)
    with ctx.session() as session:
        bound = {str(shipbob_id): data or {} for shipbob_id, data in session.execute(query)}
    order_ids = sorted(bound)
    orders = ctx.customer_orders
    for start in range(0, len(order_ids), 50):
        for order in ctx.shipbob.orders(IDs=order_ids[start:start + 50]):
            shipments = order.get("shipments") or []
            if not cancelled_shipments(shipments):
                continue
            data = bound[str(order["id"])]
            order_no = str(data.get("order_no"))
            unposted = {int(s["id"]) for s in shipments
                        if s.get("status") == SHIPPED and ctx.deliveries.find(str(s["id"])) is None}
            ifs_order, lines, _address = orders.read(order_no)
            open_lines = [] if orders.is_cancelled(ifs_order) else [line for line in lines if orders.is_open(line)]
            for plan in plan_cancellations(shipments, data.get("lines") or [], open_lines, unposted):
                result.checked += 1
                if plan.lines:
                    result.differences.append(Difference(
                        str(plan.shipment_id),
                        f"ShipBob order {order['id']}: IFS order {order_no} still has {describe(plan.lines)} open",
                        parked.get((Flow.SHIPMENT_VOUCHER.value, str(order["id"])))))
    return result


def _committed_beyond_on_hand(ctx: Context, parked: Parked) -> CheckResult:
    """ShipBob's levels per SKU and fulfillment center: more units committed
    to open orders than on hand is an oversold SKU (an order that cannot
    ship as it stands). Explained by an item that names the SKU: a flagged
    shortage, or a parked order. Reads every level page: one ShipBob call per
    250 SKUs."""
    result = CheckResult("committed beyond on hand at ShipBob, per SKU and fulfillment center")
    order_reasons = [reason for (flow, _key), reason in parked.items()
                     if flow in (Flow.STOCK_SHORTAGE.value, Flow.ORDER_PUSH.value)]
    for item in ctx.shipbob.inventory_level_locations():
        stock = item_stock_of(item)
        if stock is None:
            continue
        sku = stock.sku or str(stock.inventory_id)
        for center in stock.centers.values():
            result.checked += 1
            if center.committed > max(center.on_hand, 0):
                word = re.compile(rf"(?<![\w-]){re.escape(sku)}(?![\w-])")
                reason = next((r for r in order_reasons if word.search(r)), None)
                result.differences.append(Difference(
                    f"{sku} at FC {center.location_id}",
                    f"committed {center.committed}, on hand {center.on_hand}", reason))
    return result
