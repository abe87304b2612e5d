"""Finding an item by what the operator has at hand: its row ID, the IFS
order (or RMA, PO) number, or the ShipBob id. The lookup itself is
connector.items (the console uses it too)."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from connector.db.models import Job
from connector.items import find_items


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
