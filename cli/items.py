"""Finding an item by what the operator has at hand: its row ID, the IFS
order (or RMA, PO) number, or the ShipBob id."""

from __future__ import annotations

import click
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connector.db.models import Job


def find_items(session: Session, ref: str) -> list[Job]:
    """A number that is a row ID is that row; otherwise every item whose
    key, IFS reference or ShipBob reference is `ref`."""
    ref = ref.strip()
    if ref.isdigit():
        job = session.get(Job, int(ref))
        if job is not None:
            return [job]
    # A split order's push holds its ShipBob ids comma-separated.
    in_list = or_(Job.shipbob_ref == ref, Job.shipbob_ref.startswith(f"{ref},", autoescape=True),
                  Job.shipbob_ref.endswith(f",{ref}", autoescape=True),
                  Job.shipbob_ref.contains(f",{ref},", autoescape=True))
    query = select(Job).where(or_(Job.key == ref, Job.ifs_ref == ref, in_list)).order_by(Job.id)
    return list(session.execute(query).scalars())


def require_items(session: Session, ref: str) -> list[Job]:
    found = find_items(session, ref)
    if not found:
        raise click.ClickException(f"no item {ref} (give an item ID, an IFS order number or a ShipBob id)")
    return found


def find_item(session: Session, ref: str) -> Job:
    """Exactly one item, or a one-line error naming the candidates."""
    found = require_items(session, ref)
    if len(found) > 1:
        candidates = ", ".join(f"{j.id} ({j.flow} {j.key}, {j.state})" for j in found[:10])
        raise click.ClickException(f"{ref} matches {len(found)} items: {candidates}; give one item ID")
    return found[0]
