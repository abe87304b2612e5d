"""Finding items by what an operator has at hand (a row ID, an IFS order,
RMA or PO number, a ShipBob order, shipment, return or WRO id), and the
items that belong to the same order. Used by the CLI and the console."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, Text, cast, exists, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, array
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
    query = select(Job).where(or_(Job.key.in_(refs), Job.ifs_ref.in_(refs),
                                  _shipbob_refs_hold_any(session, refs))).order_by(Job.id)
    return list(session.execute(query).scalars())


def _shipbob_refs_hold_any(session: Session, refs: Collection[str]) -> ColumnElement[bool]:
    """Job.shipbob_refs (a JSON array of strings) holds one of `refs`: PostgreSQL's
    jsonb `?|`, SQLite's json_each."""
    wanted = sorted(refs)
    if session.get_bind().dialect.name == "postgresql":
        holds: ColumnElement[bool] = cast(Job.shipbob_refs, JSONB).has_any(cast(array(wanted), ARRAY(Text)))
        return holds
    element = func.json_each(Job.shipbob_refs).table_valued("value")
    return exists().select_from(element).where(element.c.value.in_(wanted))


def related_items(session: Session, ref: str, rounds: int = 2) -> list[Job]:
    """Every item of the order `ref` names, across flows: its push (each
    site's part of a split order), the shipments' vouchers and the returns.
    Items name each other through their references and the bindings (IFS key
    <-> ShipBob id), followed `rounds` times."""
    found = {job.id: job for job in find_items(session, ref)}
    refs = {ref.strip()}
    for _ in range(rounds):
        for job in found.values():
            refs |= {job.key, job.ifs_ref or "", *(job.shipbob_refs or ())}
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
