"""Flow 4b: stowed WRO quantities become IFS purchase receipts.

One job per IFS purchase order. ShipBob may split a WRO into unlinked WROs
with the same purchase order number, so receipts are matched by purchase
order number and SKU, never by WRO id (shipbob.md §5); the PO's WROs (its
10,000-SKU chunks and what the warehouse split off) are found at ShipBob by
those numbers. Each run computes, per PO line, what ShipBob has stowed in
total and what our receipts in IFS already add up to, and posts only the
difference: partial receipts accumulate, duplicates and restarts post nothing
twice, and nothing beyond what was stowed - or beyond what the line still has
open in IFS - is ever received (the rest is parked with the reason). WROs are
marked externally synced only after IFS has their receipts.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from connector import jobs
from connector.context import Context
from connector.db.models import Flow, Job
from connector.errors import NeedsAttention
from connector.flows.inventory_sync import PO_PREFIX as INVENTORY_SYNC_PREFIX
from connector.flows.replenishment import base_po, chunk_wros
from connector.ifs.errors import IfsBusinessError
from connector.ifs.purchasing import RECEIPT_REF_PREFIX as RECEIPT_REF_PREFIX  # reconcile reads it here
from connector.ifs.purchasing import NewReceipt, PurchaseOrderLine, Purchasing

log = logging.getLogger(__name__)
SYNCABLE = {"Completed"}  # WRO statuses


def poll_receiving(ctx: Context) -> list[int]:
    # Read every page first: no database transaction stays open across API calls.
    pos = {base_po(wro.get("purchase_order_number") or "")
           for wro in ctx.shipbob.wros(Statuses=["Processing", "Completed"], ExternalSync=False)} - {""}
    wake: dict[int, None] = {}  # one wake-up per PO, however many WROs it has
    with ctx.session() as session:
        for po in sorted(pos):
            requested = jobs.request_job(session, Flow.INBOUND_RECEIPT.value, po, ifs_ref=po,
                                         hurry=False, revive_parked=False)
            if requested.wake:
                wake[requested.job_id] = None
    return list(wake)


def _close_inventory_sync_wros(ctx: Context, po: str) -> str:
    """The inventory sync's own WROs refill stock IFS already counts, so there
    is nothing to receive; marking them synced keeps them out of the poll."""
    # Its 10,000-SKU chunks (`<po>#k`) too: the poll keys them all by `po`.
    done = [w["id"] for w in ctx.shipbob.wros(Statuses=sorted(SYNCABLE), ExternalSync=False)
            if base_po(w.get("purchase_order_number") or "") == po]
    if done:
        ctx.shipbob.set_external_sync(done)
    return f"inventory sync WRO {po}: {len(done)} completed WRO(s) marked synced"


def run(ctx: Context, job: Job) -> str:
    po = job.key  # polls and webhooks key jobs by the base purchase order number
    if po.startswith(f"{INVENTORY_SYNC_PREFIX}-"):
        return _close_inventory_sync_wros(ctx, po)
    purchasing = ctx.purchasing
    if purchasing.find_order(po) is None:
        return f"ignored: {po} is not an IFS purchase order"
    lines = purchasing.lines(po)

    # Every WRO under the PO's numbers, split-off ones included: by PO, never by WRO id.
    wros = [w for chunk in chunk_wros(ctx, po).values() for w in chunk if w.get("status") != "Cancelled"]
    stowed = _stowed_by_part(ctx, wros)
    receipts, excess = receive_stowed(purchasing, po, lines, stowed)

    syncable = [w["id"] for w in wros if w.get("status") in SYNCABLE and not w.get("external_sync_timestamp")]
    if syncable:
        ctx.shipbob.set_external_sync(syncable)
    if excess:
        raise NeedsAttention(f"purchase order {po}: " + "; ".join(excess) + " (not received in IFS)")
    return f"purchase order {po}: {receipts} receipt(s) posted from {len(wros)} WRO(s)"


def _stowed_by_part(ctx: Context, wros: list[dict[str, Any]]) -> dict[str, float]:
    stowed: dict[str, float] = defaultdict(float)
    unmapped = []
    for wro in wros:
        for item in wro.get("inventory_quantities") or []:
            qty = float(item.get("stowed_quantity") or 0)
            if qty <= 0:
                continue
            part = ctx.mapping.part_for(item.get("sku") or "")
            if part is None:
                unmapped.append(str(item.get("sku")))
                continue
            stowed[part] += qty
    if unmapped:
        raise NeedsAttention(f"stowed SKU(s) {', '.join(sorted(set(unmapped)))} map to no IFS part")
    return stowed


def receive_stowed(purchasing: Purchasing, po: str, lines: list[PurchaseOrderLine],
                   stowed: dict[str, float]) -> tuple[int, list[str]]:
    """Per PO line (of the stowed part, in line order), post what ShipBob
    stowed less what our receipts in IFS already add up to, within what the
    line has open. Returns the receipts posted, and what was stowed beyond
    the order (per part)."""
    lines_by_part: dict[str, list[PurchaseOrderLine]] = defaultdict(list)
    for line in lines:
        lines_by_part[line.part_no].append(line)
    posted = purchasing.received_by_us(po)

    receipts, excess = 0, []
    for part, qty in sorted(stowed.items()):
        remaining = qty
        for line in lines_by_part.get(part, []):
            ours = posted.get(line.key, 0)
            # Room on the line: what it orders less what arrived by other
            # means (a receipt booked by hand in IFS).
            others = max(0.0, line.qty_arrived - ours)
            room = 0.0 if purchasing.is_closed(line) else line.qty_due - others
            # What we already received on the line counts against the stowed
            # total even if the line has since closed: never give it twice.
            target = max(0.0, min(remaining, room), min(remaining, ours))
            remaining -= target
            delta = target - ours
            if delta > 0:
                _post_receipt(purchasing, NewReceipt(line.key, delta, cumulative=target, posted_before=ours))
                receipts += 1
        if remaining > 0:
            excess.append(f"{remaining:g} of {part} stowed beyond what the order has open in IFS")
    return receipts, excess


def _post_receipt(purchasing: Purchasing, receipt: NewReceipt) -> None:
    key = receipt.key
    try:
        purchasing.post_receipt(receipt)
    except IfsBusinessError as exc:
        # An IFS rule (a closed order, ...) is data for a person, not a dead job.
        raise NeedsAttention(f"purchase order {key.order_no} line {key.label()}: IFS refused a receipt "
                             f"of {receipt.qty:g}: {exc.ifs_message or exc}") from None
    log.info("receipt posted", extra={"purchase_order": key.order_no, "line": key.label(), "qty": receipt.qty})
