"""Flow 4a: IFS replenishment (released purchase orders for a ShipBob site)
becomes ShipBob warehouse receiving orders (WROs).

Never two WROs for the same units of an IFS order: a PO is sent as chunks of
at most 10,000 SKUs (ShipBob's per-WRO limit), chunk k>1 numbered `<PO>#<k>`.
What has been sent is what ShipBob holds under those purchase order numbers
(our bindings only mirror it), so a retry after a crash - even one that lost
our bookkeeping - adopts what was created and sends only the rest. Lines
whose SKU ShipBob does not know, or whose quantity is not a whole number of
units, are left out and the job is parked with them; a replay after the fix
sends them as a further chunk.

A PO changed in IFS after its WRO is examined again (connector/flows/po_watch.py
says how the poll finds it). Each run compares what the PO's lines expect
through ShipBob with what its WROs announce (connector/flows/wro_quantities.py):
a line increased, or added, gets a further chunk with exactly the extra units
(ShipBob has no endpoint that edits a WRO); a line cancelled or reduced, or the
whole order cancelled, leaves its WRO announcing more than IFS expects, which
only a person can correct at ShipBob, so the job is parked naming the order,
line, part and both quantities.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connector import jobs
from connector.bindings import BindingKind, bind, find_binding
from connector.context import Context
from connector.db.models import Binding, Flow, Job
from connector.errors import NeedsAttention
from connector.flows import po_watch
from connector.flows.wro_quantities import PartNeed, announced, excesses, is_live, needs_by_part
from connector.ifs.purchasing import PurchaseOrder
from connector.sku_lookup import inventory_ids_for

log = logging.getLogger(__name__)
WRO_SKU_LIMIT = 10_000
CHUNK_SEPARATOR = "#"
CHUNK_LOOKUP_BATCH = 10  # purchase order numbers per look-up


def base_po(purchase_order_number: str) -> str:
    """The IFS order key behind a WRO's purchase order number."""
    return purchase_order_number.split(CHUNK_SEPARATOR, 1)[0]


def chunk_name(po: str, index: int) -> str:
    return po if index == 1 else f"{po}{CHUNK_SEPARATOR}{index}"


def poll_replenishment(ctx: Context) -> list[int]:
    """Jobs for the newly released purchase orders, and the jobs of orders
    changed since their WROs were made (po_watch): the ids to wake."""
    released = list(ctx.purchasing.released_orders(ctx.settings.mapped_sites()))
    created = []
    with ctx.session() as session:
        for order in released:
            job_id = ensure_replenishment(session, order.order_no)
            if job_id is not None:
                created.append(job_id)
    woken = po_watch.changed_jobs(ctx, {order.order_no for order in released})
    return created + [job_id for job_id in woken if job_id not in created]


def ensure_replenishment(session: Session, po: str) -> int | None:
    """The job of one released purchase order, as the poll (and the IFS
    purchase-order-released event) records it; the new id, else None."""
    return jobs.ensure_job(session, Flow.REPLENISHMENT.value, po, ifs_ref=po)


def wro_bindings(session: Session, po: str) -> list[Binding]:
    return list(session.execute(
        select(Binding).where(
            Binding.kind == BindingKind.WRO,
            or_(Binding.ifs_key == po, Binding.ifs_key.like(f"{po}{CHUNK_SEPARATOR}%")),
        ).order_by(Binding.id)
    ).scalars())


def chunk_wros(ctx: Context, po: str) -> dict[int, list[dict[str, Any]]]:
    """Chunk index -> the WROs ShipBob has under that chunk's purchase order
    number (several when the warehouse split one). Chunks are created in
    order, so the numbers are looked up in batches until one is missing."""
    found: dict[int, list[dict[str, Any]]] = {}
    start = 1
    while True:
        numbers = {chunk_name(po, i): i for i in range(start, start + CHUNK_LOOKUP_BATCH)}
        for wro in ctx.shipbob.wros(PurchaseOrderNumbers=list(numbers)):
            index = numbers.get(wro.get("purchase_order_number") or "")
            if index is not None:
                found.setdefault(index, []).append(wro)
        if start + CHUNK_LOOKUP_BATCH - 1 not in found:
            return found
        start += CHUNK_LOOKUP_BATCH


def run(ctx: Context, job: Job) -> str:
    po = job.key
    purchasing = ctx.purchasing
    header = purchasing.order(po)
    site = header.site
    if site is None or site not in ctx.mapping.sites:
        raise NeedsAttention(f"purchase order {po} site {site!r} has no fulfillment center in the mapping")
    lines = purchasing.lines(po)
    order_closed = purchasing.is_order_closed(header)
    examined = po_watch.version(lines, order_closed, purchasing.is_closed)
    needs = needs_by_part(lines, purchasing.received_by_us(po), purchasing.is_closed, order_closed)

    chunks = chunk_wros(ctx, po)
    wros = [wro for found in chunks.values() for wro in found]
    chunks_done = max(chunks, default=0)
    with ctx.session() as session:
        for index, found in sorted(chunks.items()):
            _remember(session, po, chunk_name(po, index), found)

    skus = {part: ctx.mapping.sku_for(part) for part in needs}
    inventory = inventory_ids_for(ctx, {s for s in skus.values() if s})
    inventory_of = {part: inventory.get(sku or "") for part, sku in skus.items()}
    # A WRO someone cancelled at ShipBob is not sent again: what every WRO announced counts.
    wanted, problems = wanted_quantities(needs, inventory_of, announced(wros))
    ids = sorted(wanted)
    created = []
    for offset in range(0, len(ids), WRO_SKU_LIMIT):
        chunk = ids[offset:offset + WRO_SKU_LIMIT]
        name = chunk_name(po, chunks_done + 1)
        wro = _ensure_wro(ctx, name, header, ctx.mapping.sites[site], {i: wanted[i] for i in chunk})
        with ctx.session() as session:
            bind(session, BindingKind.WRO, name, str(wro["id"]), {"po": po, "inventory_ids": chunk})
        chunks_done += 1
        created.append(str(wro["id"]))
    # What the live WROs announce beyond the lines: a cancel or decrease after the WRO.
    too_many = [excess.describe() for excess in excesses(needs, inventory_of, [w for w in wros if is_live(w)])]
    if chunks_done:
        with ctx.session() as session:
            po_watch.record_examined(session, po, examined)
    if problems or too_many:
        state = f" ({header.state})" if order_closed else ""
        raise NeedsAttention(
            f"purchase order {po}{state}: {'; '.join(problems + too_many)}"
            + (f" (WRO {', '.join(created)} created for the rest)" if created else "")
            + ("; a WRO cannot be edited: cancel or correct it at ShipBob" if too_many else "")
        )
    if order_closed and not chunks_done:
        return f"purchase order {po}: {header.state}, nothing to send"
    return f"purchase order {po}: WRO {', '.join(created) or 'none new'}"


def wanted_quantities(needs: Mapping[str, PartNeed], inventory_of: Mapping[str, int | None],
                      sent: Mapping[int, float]) -> tuple[dict[int, int], list[str]]:
    """Inventory id -> units still to send, and why lines were left out.
    `needs`: part -> what its lines expect through ShipBob; `inventory_of`:
    part -> ShipBob inventory id (None: unknown at ShipBob); `sent`: units
    the order's WROs already announce per inventory id. A part goes out
    whole or not at all: a fraction of a unit is a unit-of-measure question."""
    need_of: dict[int, float] = {}
    parts_of: dict[int, list[PartNeed]] = {}
    problems: list[str] = []
    for part, need in needs.items():
        inventory_id = inventory_of.get(part)
        if inventory_id is None:
            problems.extend(f"line {line.line.key.label()} part {part}: SKU unknown at ShipBob"
                            for line in need.lines if line.need > 0)
            continue
        need_of[inventory_id] = need_of.get(inventory_id, 0.0) + need.need
        parts_of.setdefault(inventory_id, []).append(need)
    wanted: dict[int, int] = {}
    for inventory_id, total in need_of.items():
        extra = total - sent.get(inventory_id, 0.0)
        if extra <= 0:
            continue
        if extra != int(extra):
            # ShipBob counts units: a fraction is a unit-of-measure question.
            problems.extend(f"line {line.line.key.label()} part {line.line.part_no}: quantity {line.need:g} "
                            "is not a whole number of units"
                            for part in parts_of[inventory_id] for line in part.lines
                            if line.need != int(line.need))
            continue
        wanted[inventory_id] = int(extra)
    return wanted, problems


def _remember(session: Session, po: str, name: str, wros: list[dict[str, Any]]) -> None:
    """Bind a chunk found at ShipBob that our bookkeeping lost."""
    if find_binding(session, BindingKind.WRO, name) is None:
        first = min(wros, key=lambda w: w["id"])
        bind(session, BindingKind.WRO, name, str(first["id"]), {
            "po": po, "inventory_ids": sorted(int(q["inventory_id"])
                                              for q in first.get("inventory_quantities") or [])})


def _ensure_wro(ctx: Context, name: str, header: PurchaseOrder, fulfillment_center: int,
                quantities: dict[int, int]) -> dict[str, Any]:
    # Exact match only: the filter's matching rule is not documented.
    found = [w for w in ctx.shipbob.wros(PurchaseOrderNumbers=[name]) if w.get("purchase_order_number") == name]
    if found:
        return found[0]
    wro = ctx.shipbob.create_wro({
        "fulfillment_center": {"id": fulfillment_center},
        "package_type": ctx.mapping.wro_package_type,
        "box_packaging_type": ctx.mapping.wro_box_packaging_type,
        "expected_arrival_date": _arrival(header),
        "purchase_order_number": name,
        "boxes": [{
            "tracking_number": name,
            "box_items": [{"inventory_id": i, "quantity": q} for i, q in sorted(quantities.items())],
        }],
    })
    log.info("WRO created", extra={"purchase_order": name, "wro_id": wro["id"], "skus": len(quantities)})
    return wro


def _arrival(header: PurchaseOrder) -> str:
    wanted = header.wanted_receipt_date
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    if wanted:
        parsed = date.fromisoformat(str(wanted)[:10])
        if parsed >= tomorrow.date():
            return f"{parsed.isoformat()}T00:00:00Z"
    return tomorrow.strftime("%Y-%m-%dT00:00:00Z")
