"""Finding items by what an operator has at hand (a row ID, an IFS order,
RMA or PO number, a ShipBob order, shipment, return or WRO id), and the
items that belong to the same order. Used by the CLI and the console."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connector.db.models import Binding, Job

# Keys of Binding.data that name the order or PO a binding belongs to.
BINDING_REFS = ("order_no", "order_id", "po")


def find_items(session: Session, ref: str) -> list[Job]:
    """A number that is a row ID is that row; otherwise every item whose
    key, IFS reference or ShipBob reference is `ref`."""
    ref = ref.strip()
    if ref.isdigit():
        job = session.get(Job, int(ref))
        if job is not None:
            return [job]
    return _by_reference(session, {ref})


def _by_reference(session: Session, refs: set[str]) -> list[Job]:
    refs = {r for r in refs if r}
    if not refs:
        return []
    # A split order's push holds its ShipBob ids comma-separated.
    in_lists = [or_(Job.shipbob_ref.startswith(f"{r},", autoescape=True),
                    Job.shipbob_ref.endswith(f",{r}", autoescape=True),
                    Job.shipbob_ref.contains(f",{r},", autoescape=True)) for r in refs]
    query = select(Job).where(or_(Job.key.in_(refs), Job.ifs_ref.in_(refs), Job.shipbob_ref.in_(refs),
                                  *in_lists)).order_by(Job.id)
    return list(session.execute(query).scalars())


def related_items(session: Session, ref: str, rounds: int = 2) -> list[Job]:
    """Every item of the order `ref` names, across flows: its push (each
    site's part of a split order), the shipments' vouchers and the returns.
    Items name each other through their references and the bindings (IFS key
    <-> ShipBob id), followed `rounds` times."""
    found = {job.id: job for job in find_items(session, ref)}
    refs = {ref.strip()}
    for _ in range(rounds):
        for job in found.values():
            refs |= {job.key, job.ifs_ref or "", *(job.shipbob_ref or "").split(",")}
        refs.discard("")
        bound = session.execute(select(Binding).where(
            or_(Binding.ifs_key.in_(refs), Binding.shipbob_id.in_(refs)))).scalars()
        for binding in bound:
            # A shipment's binding is voucher <-> shipment; its data names the order.
            refs |= {binding.ifs_key, binding.shipbob_id,
                     *(str(binding.data[k]) for k in BINDING_REFS if isinstance(binding.data, dict) and binding.data.get(k))}
        for job in _by_reference(session, refs):
            found.setdefault(job.id, job)
    return sorted(found.values(), key=lambda j: j.id)
