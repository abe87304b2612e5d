"""The documents still on their way when the inventory sync compares stock:
units one side counts on hand and the other does not yet.

- Shipments: ShipBob takes units off on hand when it picks them (status
  detail Picked or Packed, then Completed); IFS when our voucher is posted.
  Our orders' shipments that left on hand without a voucher in IFS count as
  shipped-not-posted. Found among the orders ShipBob changed in the last
  ORDER_LOOKBACK and the orders whose voucher item is still open.
- Receipts: ShipBob puts units on hand when it stows them; IFS when our
  receipt is posted. Per purchase order with WROs not yet marked synced:
  what was stowed beyond what our receipts in IFS add up to.
- Returns: ShipBob puts restocked units on hand while it processes a return;
  IFS when the RMA is received. Returns processing now or completed in the
  last RETURN_LOOKBACK, and those whose return item is still open, without
  an RMA of ours; only returns of our shipments (a voucher of ours, or one
  on its way): a return of a shipment IFS never knew of never reaches IFS.

A document an item of ours waits on counts while the item is open (a parked
one included: that item already says why the stock differs); once a person
resolves or ignores it, it no longer does, and the difference shows.

The sync reads IFS stock first and ShipBob's levels next; this reads after
both. What was posted before the IFS read is in IFS's stock, so it must not
count: `before_ifs_read` notes the last binding then, and what was bound
after it still counts as on its way. A document posted while ShipBob's
levels are read can still show as a difference for one run.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any, Iterable, Iterator, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.bindings import BindingKind
from connector.context import Context
from connector.db.models import Binding, Flow, Job, JobState, utcnow
from connector.flows.replenishment import base_po, chunk_wros
from connector.mappers.inventory import NO_PENDING, InFlight, Pending
from connector.mappers.orders import tagged_ifs_order_no
from connector.mappers.returns import normalized_status
from connector.mappers.vouchers import SHIPPED, shipped_quantities

# How far back ShipBob's changed orders are read for picked or shipped
# shipments without a voucher (a voucher job still open is read whatever its age).
ORDER_LOOKBACK = timedelta(days=2)
# How far back completed returns are read (an open return item: whatever its age).
RETURN_LOOKBACK = timedelta(days=7)
# Status details of a Processing shipment whose units already left on hand
# (developer.shipbob.com status reference: "Picking Completed", "Packing Completed").
PICKED_DETAILS = frozenset({"Picked", "Packed"})
LABELED = "LabeledCreated"  # a shipment status once labelled (ShipBob OpenAPI 2026-01, Orders.OrderStatusEnum)
RESTOCK = "restock"
RECEIVING_STATUSES = ["Processing", "Completed"]
OPEN_STATES = (JobState.PENDING.value, JobState.RUNNING.value, JobState.ATTENTION.value,
               JobState.FAILED.value)
CLOSED_STATES = (JobState.RESOLVED.value, JobState.IGNORED.value)
IDS_PER_CALL = 50   # ids per ShipBob look-up
IDS_PER_QUERY = 500  # values per SQL IN list


class InFlightReader:
    """`before_ifs_read()`, then `read()` once ShipBob's levels are read."""

    def __init__(self, ctx: Context, fcs: Iterable[int]):
        self.ctx = ctx
        self.fcs = frozenset(int(fc) for fc in fcs)
        self._mark = 0
        self._open: dict[Flow, set[str]] = {}
        self._unposted: set[str] = set()  # our shipments that left on hand, no voucher in IFS yet

    def before_ifs_read(self) -> None:
        with self.ctx.session() as session:
            self._mark = session.execute(select(func.max(Binding.id))).scalar_one_or_none() or 0
            self._open = {flow: _keys(session, flow, OPEN_STATES)
                          for flow in (Flow.SHIPMENT_VOUCHER, Flow.RETURN_VOUCHER)}

    def read(self, sku_of_inventory: Mapping[int, str]) -> InFlight:
        """Per (fulfillment center, SKU): what is on its way."""
        pending: InFlight = {}

        def add(fc: int, sku: str, units: Pending) -> None:
            if fc in self.fcs and sku and units:
                pending[(fc, sku)] = pending.get((fc, sku), NO_PENDING) + units

        for fc, sku, qty in self._shipped_not_posted():
            add(fc, sku, Pending(shipped=qty))
        for fc, sku, qty in self._stowed_not_received():
            add(fc, sku, Pending(stowed=qty))
        for fc, sku, qty in self._restocked_not_received(sku_of_inventory):
            add(fc, sku, Pending(restocked=qty))
        return pending

    # ------------------------------------------------------------ shipments

    def _shipped_not_posted(self) -> Iterator[tuple[int, str, float]]:
        shipbob = self.ctx.shipbob
        orders = {str(o["id"]): o for o in shipbob.orders(LastUpdateStartDate=utcnow() - ORDER_LOOKBACK)}
        with self.ctx.session() as session:
            wanted = self._open.get(Flow.SHIPMENT_VOUCHER, set()) | _keys(session, Flow.SHIPMENT_VOUCHER,
                                                                           OPEN_STATES)
        missing = sorted(k for k in wanted - orders.keys() if k.isdigit())
        for start in range(0, len(missing), IDS_PER_CALL):
            orders.update((str(o["id"]), o) for o in shipbob.orders(IDs=missing[start:start + IDS_PER_CALL]))
        left = {str(s["id"]): s for o in orders.values() for s in o.get("shipments") or [] if _left_on_hand(s)}
        if not left:
            return
        with self.ctx.session() as session:
            posted = _bound(session, BindingKind.SHIPMENT, left, self._mark)
            ours = _bound(session, BindingKind.ORDER, orders, None)
            closed = _keys(session, Flow.SHIPMENT_VOUCHER, CLOSED_STATES, orders)
        for order_id, order in orders.items():
            if order_id in closed or (order_id not in ours and tagged_ifs_order_no(order) is None):
                continue  # not ours (its stock never was IFS's), or a person closed its voucher item
            for shipment in order.get("shipments") or []:
                if str(shipment["id"]) not in left or str(shipment["id"]) in posted:
                    continue
                self._unposted.add(str(shipment["id"]))
                fc = _id(shipment.get("location"))
                for sku, qty in shipped_quantities(shipment).items():
                    yield fc, sku, qty

    # -------------------------------------------------------------- receipts

    def _stowed_not_received(self) -> Iterator[tuple[int, str, float]]:
        ctx = self.ctx
        pos = sorted({base_po(str(w.get("purchase_order_number") or ""))
                      for w in ctx.shipbob.wros(Statuses=RECEIVING_STATUSES, ExternalSync=False)} - {""})
        with ctx.session() as session:
            closed = _keys(session, Flow.INBOUND_RECEIPT, CLOSED_STATES, pos)
        for po in pos:
            if po in closed or ctx.purchasing.find_order(po) is None:
                continue  # a person closed it, or not an IFS purchase order
            part_of_line = {line.key: line.part_no for line in ctx.purchasing.lines(po)}
            received: dict[str, float] = defaultdict(float)
            for key, qty in ctx.purchasing.received_by_us(po).items():
                received[part_of_line.get(key, "")] += qty
            wros = sorted((w for chunk in chunk_wros(ctx, po).values() for w in chunk
                           if w.get("status") != "Cancelled"), key=lambda w: int(w["id"]))
            # Our receipts cover the oldest WROs first; the rest is on its way.
            for wro in wros:
                fc = _id(wro.get("fulfillment_center"))
                for item in wro.get("inventory_quantities") or []:
                    sku = str(item.get("sku") or "")
                    part = ctx.mapping.part_for(sku) or sku
                    stowed = float(item.get("stowed_quantity") or 0)
                    covered = min(stowed, received[part])
                    received[part] -= covered
                    if stowed > covered:
                        yield fc, sku, stowed - covered

    # --------------------------------------------------------------- returns

    def _restocked_not_received(self, sku_of_inventory: Mapping[int, str]) -> Iterator[tuple[int, str, float]]:
        shipbob = self.ctx.shipbob
        returns = {str(r["id"]): r for r in shipbob.returns(Status=["Processing"])}
        returns.update((str(r["id"]), r) for r in shipbob.returns(
            Status=["Completed"], CompletedStartDate=utcnow() - RETURN_LOOKBACK))
        with self.ctx.session() as session:
            wanted = self._open.get(Flow.RETURN_VOUCHER, set()) | _keys(session, Flow.RETURN_VOUCHER, OPEN_STATES)
        missing = sorted(k for k in wanted - returns.keys() if k.isdigit())
        for start in range(0, len(missing), IDS_PER_CALL):
            returns.update((str(r["id"]), r) for r in shipbob.returns(Ids=missing[start:start + IDS_PER_CALL]))
        returns = {k: r for k, r in returns.items() if normalized_status(r) in ("Processing", "Completed")}
        if not returns:
            return
        originals = {str(r.get("original_shipment_id") or "") for r in returns.values()} - {""}
        with self.ctx.session() as session:
            posted = _bound(session, BindingKind.RETURN, returns, self._mark)
            closed = _keys(session, Flow.RETURN_VOUCHER, CLOSED_STATES, returns)
            ours = _bound(session, BindingKind.SHIPMENT, originals, None) | (originals & self._unposted)
        for return_id, ret in returns.items():
            if return_id in posted or return_id in closed or str(ret.get("original_shipment_id") or "") not in ours:
                continue
            fc = _id(ret.get("fulfillment_center"))
            for item in ret.get("inventory") or []:
                sku = str(item.get("sku") or sku_of_inventory.get(int(item.get("id") or 0), ""))
                qty = sum(float(taken.get("quantity_processed") or 0) for taken in item.get("action_taken") or []
                          if str(taken.get("action") or "").strip().lower() == RESTOCK)
                if qty:
                    yield fc, sku, qty


def _left_on_hand(shipment: dict[str, Any]) -> bool:
    if shipment.get("status") in (SHIPPED, LABELED):
        return True
    details = {str(d.get("name")) for d in shipment.get("status_details") or [] if isinstance(d, dict)}
    return shipment.get("status") == "Processing" and bool(details & PICKED_DETAILS)


def _id(value: object) -> int:
    return int(value.get("id") or 0) if isinstance(value, dict) else 0


def _keys(session: Session, flow: Flow, states: tuple[str, ...],
          among: Iterable[str] | None = None) -> set[str]:
    """Keys of the flow's items in these states (only those `among`, if given)."""
    query = select(Job.key).where(Job.flow == flow.value, Job.state.in_(states))
    if among is None:
        return set(session.execute(query).scalars())
    wanted = sorted(among)
    found: set[str] = set()
    for start in range(0, len(wanted), IDS_PER_QUERY):
        found.update(session.execute(query.where(Job.key.in_(wanted[start:start + IDS_PER_QUERY]))).scalars())
    return found


def _bound(session: Session, kind: BindingKind, shipbob_ids: Iterable[str], up_to: int | None) -> set[str]:
    """Those of `shipbob_ids` with a binding of `kind` (made up to binding id `up_to`)."""
    wanted = sorted(shipbob_ids)
    query = select(Binding.shipbob_id).where(Binding.kind == kind)
    if up_to is not None:
        query = query.where(Binding.id <= up_to)
    found: set[str] = set()
    for start in range(0, len(wanted), IDS_PER_QUERY):
        found.update(session.execute(query.where(Binding.shipbob_id.in_(wanted[start:start + IDS_PER_QUERY])))
                     .scalars())
    return found
