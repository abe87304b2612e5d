"""Shipments cancelled at ShipBob, brought to IFS: part of flow 2, run by
the ShipBob order's shipment voucher job after its vouchers.

ShipBob cancels a shipment through its API (the `order.shipment.cancelled`
webhook) or its dashboard (no webhook: the shipments poll finds it). The
units it leaves open in IFS (connector/mappers/cancellations.py) are, per
the mapping's `on_shipbob_cancel`:

- `cancel_in_ifs`: cancelled in IFS by the customer order gateway's line
  cancellation step, under If-Match. The plan is recorded before the write
  and the step checks IFS for its effect first, so a retry after a crash or
  a duplicated webhook cancels once;
- `attention`: named in an attention item (the IFS order, the ShipBob order
  and shipment, the lines and units), for a person.

Each cancellation examined is recorded (a CANCEL binding with its outcome),
so the poll wakes the job only for cancellations not seen yet.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from connector.bindings import BindingKind, bind, find_by_shipbob, update_data
from connector.context import Context
from connector.ifs.customer_orders import Cancellation, LineCancel, LineKey
from connector.ifs.errors import IfsBusinessError
from connector.mappers.cancellations import cancelled_shipments, describe, plan_cancellations

log = logging.getLogger(__name__)

# A cancellation's outcome, in its binding.
PLANNED = "planned"            # recorded before the IFS write: a retry finishes it
CANCELLED_IN_IFS = "cancelled_in_ifs"
NOTHING_OPEN = "nothing_open"  # IFS had no units of it open (e.g. cancelled in IFS first)
ATTENTION = "attention"        # left for a person (the mapping asks so, or IFS refused)
SETTLED = (CANCELLED_IN_IFS, NOTHING_OPEN)


@dataclass
class CancelOutcome:
    cancelled: list[int] = field(default_factory=list)  # shipments whose units IFS cancelled now
    attention: list[str] = field(default_factory=list)  # what a person must look at


def bring_to_ifs(ctx: Context, order_no: str, order_id: int, shipments: Sequence[dict[str, Any]],
                 bound_lines: Sequence[dict[str, Any]]) -> CancelOutcome:
    """Handle the ShipBob order's cancelled shipments not settled yet. Its
    shipped shipments have their vouchers already (the caller posted them)."""
    outcome = CancelOutcome()
    cancelled = cancelled_shipments(shipments)
    if not cancelled:
        return outcome
    with ctx.session() as session:
        records = {int(s["id"]): dict(binding.data) for s in cancelled
                   if (binding := find_by_shipbob(session, BindingKind.CANCEL, s["id"])) is not None}
    pending = [int(s["id"]) for s in cancelled if records.get(int(s["id"]), {}).get("outcome") not in SETTLED]
    if not pending:
        return outcome
    orders = ctx.customer_orders
    order, ifs_lines, _address = orders.read(order_no)
    # An order cancelled in IFS (then at ShipBob by the order push) has nothing open.
    open_lines = [] if orders.is_cancelled(order) else [line for line in ifs_lines if orders.is_open(line)]
    plans = {plan.shipment_id: plan.lines for plan in plan_cancellations(shipments, bound_lines, open_lines)}
    for shipment_id in pending:
        record = records.get(shipment_id, {})
        if record.get("outcome") == PLANNED:
            # A run that did not finish: its plan, not a new one (IFS may show it done).
            lines = _stored_lines(record)
        else:
            lines = plans.get(shipment_id, ())
        what = (f"ShipBob shipment {shipment_id} of ShipBob order {order_id} was cancelled at ShipBob; "
                f"IFS order {order_no} still has {describe(lines)} open")
        if not lines:
            _record(ctx, order_no, order_id, shipment_id, NOTHING_OPEN, lines)
        elif ctx.mapping.on_shipbob_cancel == "attention" and record.get("outcome") != PLANNED:
            # (A recorded plan is finished whatever the policy now: it may have landed.)
            _record(ctx, order_no, order_id, shipment_id, ATTENTION, lines)
            outcome.attention.append(f"{what} (mapping on_shipbob_cancel: attention)")
        elif _cancel_in_ifs(ctx, order_no, order_id, shipment_id, lines, outcome, what):
            outcome.cancelled.append(shipment_id)
    return outcome


def _cancel_in_ifs(ctx: Context, order_no: str, order_id: int, shipment_id: int,
                   lines: tuple[LineCancel, ...], outcome: CancelOutcome, what: str) -> bool:
    _record(ctx, order_no, order_id, shipment_id, PLANNED, lines)  # the intent, before the write
    try:
        ctx.customer_orders.cancel_lines(Cancellation(order_no, str(shipment_id), lines))
    except IfsBusinessError as exc:
        # An IFS rule (a line reserved or picked in IFS, ...) is for a person.
        _record(ctx, order_no, order_id, shipment_id, ATTENTION, lines)
        outcome.attention.append(f"{what}: IFS refused to cancel them: {exc.ifs_message or exc}")
        return False
    _record(ctx, order_no, order_id, shipment_id, CANCELLED_IN_IFS, lines)
    log.info("ShipBob cancellation applied in IFS", extra={
        "ifs_order_no": order_no, "shipbob_order_id": order_id, "shipment_id": shipment_id,
        "lines": describe(lines)})
    return True


def _record(ctx: Context, order_no: str, order_id: int, shipment_id: int, outcome: str,
            lines: tuple[LineCancel, ...]) -> None:
    data = {"order_no": order_no, "order_id": order_id, "outcome": outcome,
            "lines": [{"line_no": c.key.line_no, "rel_no": c.key.rel_no, "line_item_no": c.key.line_item_no,
                       "qty": c.qty, "due_before": c.due_before} for c in lines]}
    with ctx.session() as session:
        binding = bind(session, BindingKind.CANCEL, f"{order_no}:{shipment_id}", str(shipment_id), data)
        update_data(binding, **data)


def _stored_lines(record: dict[str, Any]) -> tuple[LineCancel, ...]:
    return tuple(LineCancel(LineKey(str(c["line_no"]), str(c["rel_no"]), int(c["line_item_no"])),
                            float(c["qty"]), float(c["due_before"])) for c in record.get("lines") or [])


def examined(session: Session, shipment_id: int | str) -> bool:
    """Whether the flow has recorded this cancelled shipment (the poll's test)."""
    return find_by_shipbob(session, BindingKind.CANCEL, shipment_id) is not None
