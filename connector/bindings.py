"""Bindings: our key <-> their id, unique both ways (OCA connector's Binding).

A binding is committed right after the external create, so the external id
survives any later failure; a unique violation means another worker bound the
same thing first, which is a retry, not an error.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.db.models import Binding
from connector.errors import NeedsAttention, TransientError


class BindingKind(StrEnum):
    ORDER = "order"        # IFS OrderNo (or OrderNo-Site) <-> ShipBob order id
    SHIPMENT = "shipment"  # IFS voucher <-> ShipBob shipment id
    RETURN = "return"      # IFS RMA <-> ShipBob return id
    WRO = "wro"            # IFS PO chunk <-> ShipBob WRO id
    CANCEL = "cancel"      # IFS order lines cancelled <-> ShipBob shipment cancelled


def find_binding(session: Session, kind: BindingKind, ifs_key: str) -> Binding | None:
    return session.execute(
        select(Binding).where(Binding.kind == kind, Binding.ifs_key == ifs_key)
    ).scalar_one_or_none()


def find_by_shipbob(session: Session, kind: BindingKind, shipbob_id: str | int) -> Binding | None:
    return session.execute(
        select(Binding).where(Binding.kind == kind, Binding.shipbob_id == str(shipbob_id))
    ).scalar_one_or_none()


def bind(session: Session, kind: BindingKind, ifs_key: str, shipbob_id: str, data: dict[str, Any] | None = None) -> Binding:
    existing = find_binding(session, kind, ifs_key)
    if existing is not None:
        if existing.shipbob_id != shipbob_id:
            # Two ShipBob records claim one IFS key: a person must look.
            raise NeedsAttention(f"{kind} {ifs_key} is bound to {existing.shipbob_id}, "
                                 f"but ShipBob also has {shipbob_id} for it")
        return existing
    binding = Binding(kind=kind, ifs_key=ifs_key, shipbob_id=shipbob_id, data=data or {})
    try:
        with session.begin_nested():
            session.add(binding)
    except IntegrityError:
        raise TransientError(f"{kind} {ifs_key} was bound concurrently; retrying") from None
    return binding


def update_data(binding: Binding, **values: Any) -> None:
    # Reassign: a JSON column only notices a new object.
    binding.data = {**binding.data, **values}
