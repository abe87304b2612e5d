"""IFS events (an IFS Event Action of type REST Call) recorded as the very job
rows the polls record, so an event and a poll that both see an order make one
job, and the poll stays the safety net for an event that never came.

What each event does is exactly what the poll does for that one business key:

- `order-released`: `poll_unpushed` for one order (a new push job, or a known
  one that ended without pushing run again).
- `order-changed`: for a pushed order, `poll_edits` for one order (its
  edits go to ShipBob, connector.flows.order_update); for one not pushed
  yet, the same as `order-released`.
- `order-cancelled`: `poll_cancellations` for one order (a pushed order's
  job runs again and cancels at ShipBob; an order we never saw is ignored).
- `purchase-order-released`: `poll_replenishment` for one purchase order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.db.models import Flow, Job
from connector.flows.order_poll import request_cancelled, request_released
from connector.flows.order_update import is_pushed, request_update
from connector.flows.replenishment import ensure_replenishment


@dataclass(frozen=True)
class EventKind:
    flow: Flow
    record: Callable[[Session, str], int | None]  # returns the job id to wake, or None


def request_changed(session: Session, order_no: str) -> int | None:
    """An order changed in IFS: a pushed one's update job runs (its edits
    reach ShipBob), one not pushed yet is pushed if released."""
    if is_pushed(session, order_no):
        return request_update(session, order_no)
    return request_released(session, order_no)


EVENTS: dict[str, EventKind] = {
    "order-released": EventKind(Flow.ORDER_PUSH, request_released),
    "order-changed": EventKind(Flow.ORDER_PUSH, request_changed),
    "order-cancelled": EventKind(Flow.ORDER_PUSH, request_cancelled),
    "purchase-order-released": EventKind(Flow.REPLENISHMENT, ensure_replenishment),
}


@dataclass(frozen=True)
class Recorded:
    flow: str
    key: str
    job_id: int | None  # the key's job, None when the event needs none
    wake: bool          # a wake-up must be published once committed


def record_event(session: Session, event: str, key: str) -> Recorded:
    """Record one event in the caller's transaction; the caller commits,
    then publishes the wake-up (the row first: invariant 1)."""
    kind = EVENTS[event]
    woken = kind.record(session, key)
    if woken is not None:  # the job's own flow: an event may wake another flow's job
        flow = session.execute(select(Job.flow).where(Job.id == woken)).scalar_one()
        return Recorded(flow, key, woken, True)
    job_id = session.execute(
        select(Job.id).where(Job.flow == kind.flow.value, Job.key == key)
    ).scalar_one_or_none()
    return Recorded(kind.flow.value, key, job_id, False)
