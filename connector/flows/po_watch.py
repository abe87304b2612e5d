"""Purchase orders changed in IFS after their WROs were made: which ones the
replenishment poll hands back to their job.

The choice: re-check the purchase orders that have WROs, while they are open,
from IFS alone - not a "changed since" stamp. IFS documents no last-changed
field on purchase order lines that a $filter could use (the flat line set,
PurchaseOrderLineEntity, is on /int/ only on 25R1 per
silverhouse3/ifs-cloud-powerbi-odata docs/endpoints.md, and a header's stamp
need not move when a line does), so a stamp would be a tenant-specific guess
that fails silently when it is wrong. Re-checking costs IFS reads, never a
ShipBob call:

- every replenishment run that leaves a purchase order with WROs records the
  version it examined: a digest of each line's part, ordered quantity and
  whether it takes receipts, and whether the order does (kv table);
- each poll reads the lines of those orders (one $batch per 50 orders) and,
  for the ones that left the released list, their headers; an order whose
  version differs from the recorded one has its job run again (a parked or
  person-closed job is reopened: the change is news);
- an order no longer released whose last version has been examined is
  forgotten, so an order is re-read only while it is open, not for ever.

Receipts, ours or booked by hand, do not change the version: they are not a
change to the order (reconcile compares them). Exactly once: a version is
recorded only after the run's writes were made (each behind the fence, and
looked up by purchase order number first) or found unneeded, and a run that
lost its lease records nothing; a stale record costs one more idempotent run.
The attention item for a cancelled line is the job itself, parked: one per
purchase order, and no poll wakes it again for a version already examined.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import jobs, kv
from connector.bindings import BindingKind
from connector.context import Context
from connector.db.models import Binding, Flow, Job, JobState
from connector.ifs.purchasing import PurchaseOrderLine

EXAMINED_PREFIX = "replenishment.examined."
GONE = "gone"  # the version of a purchase order IFS no longer has
KEYS_PER_QUERY = 500


def version(lines: Iterable[PurchaseOrderLine], order_closed: bool,
            is_closed: Callable[[PurchaseOrderLine], bool]) -> str:
    """What decides the order's WROs, as a short digest."""
    rows = sorted(f"{line.key.line_no}\t{line.key.release_no}\t{line.part_no}\t{line.qty_due!r}\t"
                  f"{is_closed(line)}" for line in lines)
    return hashlib.sha256("\n".join([f"order closed: {order_closed}", *rows]).encode()).hexdigest()[:32]


def record_examined(session: Session, po: str, examined_version: str) -> None:
    kv.upsert(session, EXAMINED_PREFIX + po, examined_version)


def examined(session: Session) -> dict[str, str]:
    """Purchase order -> the version its job last examined."""
    return kv.with_prefix(session, EXAMINED_PREFIX)


def changed_jobs(ctx: Context, released: set[str]) -> list[int]:
    """Ids of the replenishment jobs to wake because their purchase order
    changed since it was examined; `released`: the released orders the poll
    just read."""
    purchasing = ctx.purchasing
    with ctx.session() as session:
        recorded = examined(session)
        # WROs made before versions were recorded: examined once, then watched.
        unrecorded = _with_wros(session, released - set(recorded))
    if not recorded and not unrecorded:
        return []
    headers = purchasing.orders_by_number([po for po in recorded if po not in released])
    present = [po for po in recorded if po in released or po in headers]
    lines = purchasing.lines_of(present) if present else {}
    changed, settled = [], []
    for po, before in sorted(recorded.items()):
        if po not in released and po not in headers:
            now = GONE
        else:
            closed = po in headers and purchasing.is_order_closed(headers[po])
            now = version(lines[po], closed, purchasing.is_closed)
        if now != before:
            changed.append(po)
        if po not in released and (now == before or now == GONE):
            settled.append((po, before))
    woken = []
    with ctx.session() as session:
        for po, before in settled:
            kv.delete_if(session, EXAMINED_PREFIX + po, before)
        for po in sorted({*changed, *unrecorded}):
            job_id = _examine_again(session, po)
            if job_id is not None:
                woken.append(job_id)
    return woken


def _with_wros(session: Session, pos: set[str]) -> set[str]:
    """Those of `pos` that have a WRO (the first chunk is bound under the number itself)."""
    found: set[str] = set()
    wanted = sorted(pos)
    for start in range(0, len(wanted), KEYS_PER_QUERY):
        found.update(session.execute(select(Binding.ifs_key).where(
            Binding.kind == BindingKind.WRO, Binding.ifs_key.in_(wanted[start:start + KEYS_PER_QUERY]))).scalars())
    return found


def _examine_again(session: Session, po: str) -> int | None:
    """Run the order's job again; its id when a wake-up must be sent."""
    flow = Flow.REPLENISHMENT.value
    job = session.execute(select(Job).where(Job.flow == flow, Job.key == po)).scalar_one_or_none()
    if job is None:
        return jobs.ensure_job(session, flow, po, ifs_ref=po)
    if job.state in (JobState.DONE.value, JobState.ATTENTION.value):
        requested = jobs.request_job(session, flow, po, hurry=False)
        return requested.job_id if requested.wake else None
    if job.state in (JobState.RESOLVED.value, JobState.IGNORED.value):
        jobs.replay(session, job.id)
        return job.id
    # Pending or running: that run reads the order as it is now. Failed: it
    # waits for a person's replay, which reads it too.
    return None
