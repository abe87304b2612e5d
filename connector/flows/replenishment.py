"""Flow 4a: IFS replenishment (released purchase orders for a ShipBob site)
becomes ShipBob warehouse receiving orders (WROs).

Never two WROs for one IFS order: a PO is sent as chunks of at most 10,000
SKUs (ShipBob's per-WRO limit), chunk k>1 numbered `<PO>#<k>`. What has been
sent is what ShipBob holds under those purchase order numbers (our bindings
only mirror it), so a retry after a crash - even one that lost our
bookkeeping - adopts what was created and sends only the rest. Lines whose
SKU ShipBob does not know, or whose quantity is not a whole number of units,
are left out and the job is parked with them; a replay after the fix sends
them as a further chunk.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connector import jobs
from connector.bindings import BindingKind, bind, find_binding
from connector.context import Context
from connector.db.models import Binding, Flow, Job
from connector.errors import NeedsAttention
from connector.ifs.purchasing import PurchaseOrder, PurchaseOrderLine
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
    created = []
    with ctx.session() as session:
        for order in ctx.purchasing.released_orders(ctx.settings.mapped_sites()):
            job_id = ensure_replenishment(session, order.order_no)
            if job_id is not None:
                created.append(job_id)
    return created


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
    header = ctx.purchasing.order(po)
    site = header.site
    if site is None or site not in ctx.mapping.sites:
        raise NeedsAttention(f"purchase order {po} site {site!r} has no fulfillment center in the mapping")
    lines = [line for line in ctx.purchasing.lines(po) if line.qty_due > line.qty_arrived]

    chunks = chunk_wros(ctx, po)
    sent = {int(q["inventory_id"]) for wros in chunks.values() for wro in wros
            for q in wro.get("inventory_quantities") or []}
    chunks_done = max(chunks, default=0)
    with ctx.session() as session:
        for index, wros in sorted(chunks.items()):
            _remember(session, po, chunk_name(po, index), wros)

    skus = {line.part_no: ctx.mapping.sku_for(line.part_no) for line in lines}
    inventory = inventory_ids_for(ctx, {s for s in skus.values() if s})
    wanted, problems = wanted_quantities(
        lines, {part: inventory.get(sku or "") for part, sku in skus.items()}, sent)
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
    if problems:
        raise NeedsAttention(
            f"purchase order {po}: {'; '.join(problems)}"
            + (f" (WRO {', '.join(created)} created for the rest)" if created else "")
        )
    return f"purchase order {po}: WRO {', '.join(created) or 'none new'}"


def wanted_quantities(lines: list[PurchaseOrderLine], inventory_of: dict[str, int | None],
                      sent: set[int]) -> tuple[dict[int, int], list[str]]:
    """Inventory id -> units still to send for the open `lines`, and why
    lines were left out. `inventory_of`: part -> ShipBob inventory id (None:
    unknown at ShipBob); `sent`: inventory ids a WRO already carries."""
    wanted: dict[int, int] = {}
    problems, held = [], set()
    for line in lines:
        label = f"line {line.key.label()} part {line.part_no}"
        inventory_id = inventory_of.get(line.part_no)
        if inventory_id is None:
            problems.append(f"{label}: SKU unknown at ShipBob")
            continue
        if inventory_id in sent:
            continue
        qty = line.open_qty
        if qty != int(qty):
            # ShipBob counts units: a fraction is a unit-of-measure question.
            problems.append(f"{label}: quantity {qty:g} is not a whole number of units")
            held.add(inventory_id)
            continue
        wanted[inventory_id] = wanted.get(inventory_id, 0) + int(qty)
    # A part goes out whole or not at all: what was sent is tracked per inventory id.
    return {i: qty for i, qty in wanted.items() if i not in held}, problems


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
