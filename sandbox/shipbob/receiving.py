"""Warehouse receiving orders (WROs): create, read, cancel, external-sync flag (shipbob.md §5).

WROs reference stock by `inventory_id`, never by SKU. The receive hook plays the
warehouse: boxes arrive, get counted and stowed (partially, possibly into a WRO split off
by staff that shares only the purchase order number), and the WRO goes Awaiting →
Processing → Completed. Completed WROs wait for the connector's `setExternalSync`.
Every box item stowed is a `ReceivingStow` inventory event ("<wro id> <box id>"), and the
WRO's changes are sent under the topic names `wro_webhook_topics` gives (none by default).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from flask import Blueprint, request

from . import paging, timeutil
from .errors import ApiError, conflict, field_map, not_found, problem
from .web import arg_bool, arg_date, arg_int, arg_ints, arg_list, json_body, world

bp = Blueprint("receiving", __name__)

MAX_UNIQUE_SKUS = 10_000  # "A WRO may have at most 10,000 unique SKUs"
STATUSES = ("Awaiting", "Processing", "Completed", "Cancelled", "Incomplete", "Arrived",
            "PartiallyArrived", "PartiallyArrivedAtHub", "ArrivedAtHub", "ProcessingAtHub",
            "InternalTransfer")


@dataclass
class BoxItem:
    inventory_id: int
    quantity: int
    lot_number: str | None = None
    lot_date: str | None = None
    received: int = 0
    stowed: int = 0


@dataclass
class Box:
    id: int
    number: int
    tracking_number: str | None
    items: list[BoxItem]
    status: str = "Awaiting"
    arrived: datetime | None = None
    received: datetime | None = None


@dataclass
class Wro:
    id: int
    fc_id: int
    purchase_order_number: str | None
    package_type: str
    box_packaging_type: str
    expected_arrival_date: str
    boxes: list[Box]
    created: datetime
    updated: datetime
    status: str = "Awaiting"
    history: list[dict] = field(default_factory=list)
    completed: datetime | None = None
    external_sync: datetime | None = None

    def totals(self) -> dict[int, list[int]]:
        """inventory_id -> [expected, received, stowed], in first-seen order."""
        out: dict[int, list[int]] = {}
        for box in self.boxes:
            for it in box.items:
                t = out.setdefault(it.inventory_id, [0, 0, 0])
                t[0] += it.quantity
                t[1] += it.received
                t[2] += it.stowed
        return out


class Receiving:
    def __init__(self, w):
        self.w = w
        self.wros: dict[int, Wro] = {}

    def create(self, body: dict) -> Wro:
        # boxes and box_items are nullable in the spec, yet a WRO without them means nothing.
        boxes = [(box, box.get("box_items") or []) for box in body.get("boxes") or []]
        unique = {it["inventory_id"] for _, items in boxes for it in items}
        if len(unique) > MAX_UNIQUE_SKUS:
            # ⚠ body undocumented: the receiving 404's ProblemDetails shape, carrying the code.
            raise ApiError(422, problem(
                422, "WRO_UNIQUE_SKU_LIMIT_EXCEEDED",
                f"A WRO may contain at most {MAX_UNIQUE_SKUS} unique SKUs; this one has {len(unique)}.",
                {"boxes": [f"WRO_UNIQUE_SKU_LIMIT_EXCEEDED: {len(unique)} > {MAX_UNIQUE_SKUS}"]}))
        errors = {}
        fc = self.w.config.fulfillment_center(body["fulfillment_center"]["id"])
        if fc is None:
            errors["fulfillment_center.id"] = [
                f"Fulfillment center {body['fulfillment_center']['id']} does not exist."]
        if not boxes:
            errors["boxes"] = ["A WRO needs at least one box."]
        for b, (_box, items) in enumerate(boxes):
            if not items:
                errors[f"boxes[{b}].box_items"] = ["A box needs at least one item."]
            for i, it in enumerate(items):
                if self.w.catalog.find_inventory(it["inventory_id"]) is None:
                    errors[f"boxes[{b}].box_items[{i}].inventory_id"] = [
                        f"Inventory item {it['inventory_id']} does not exist."]
        if errors:
            raise field_map(errors)
        now = timeutil.now()
        wro = Wro(self.w.ids.next("wro"), fc.id, body.get("purchase_order_number"),
                  body["package_type"], body["box_packaging_type"], body["expected_arrival_date"],
                  [Box(self.w.ids.next("box"), n, box.get("tracking_number"),
                       [BoxItem(it["inventory_id"], it["quantity"], it.get("lot_number"),
                                it.get("lot_date")) for it in items])
                   for n, (box, items) in enumerate(boxes, start=1)], now, now)
        self._set_status(wro, "Awaiting", now)
        for inv, (expected, _, _) in wro.totals().items():
            self.w.levels.at(inv, fc.id).awaiting += expected
        self.wros[wro.id] = wro
        self.w.webhooks.emit_wro_event("created", self.view(wro))
        return wro

    def get(self, wro_id: int) -> Wro:
        wro = self.wros.get(wro_id)
        if wro is None:
            raise not_found("Warehouse receiving order", wro_id)
        return wro

    def cancel(self, wro: Wro) -> None:
        if wro.status != "Awaiting":
            raise field_map({"": [f"WRO {wro.id} is {wro.status} and can no longer be cancelled."]}, 422)
        for inv, (expected, received, _) in wro.totals().items():
            self.w.levels.at(inv, wro.fc_id).awaiting -= expected - received
        for box in wro.boxes:
            box.status = "Cancelled"
        self._set_status(wro, "Cancelled", timeutil.now())

    def set_external_sync(self, ids: list[int], flag: bool) -> Wro:
        missing = [i for i in ids if i not in self.wros]
        if missing:
            raise field_map({"ids": [f"WRO {i} was not found." for i in missing]})
        now = timeutil.now()
        for i in ids:
            self.wros[i].external_sync = now if flag else None
            self.wros[i].updated = now
        return self.wros[ids[0]]

    # -- the warehouse (hook) ---------------------------------------------------------------

    def receive(self, wro: Wro, items: list[dict], split: bool = False,
                complete: bool = False) -> list[Wro]:
        """Receive and stow quantities (increments); returns the WROs touched."""
        if wro.status in ("Completed", "Cancelled"):
            raise conflict(f"WRO {wro.id} is {wro.status}")
        now = timeutil.now()
        received, stowed = Counter(), Counter()
        for it in items:  # "received" left out means: received what is being stowed
            received[int(it["inventory_id"])] += int(it.get("received", it.get("stowed", 0)))
            stowed[int(it["inventory_id"])] += int(it.get("stowed", 0))
        deltas = [(inv, received[inv], stowed[inv]) for inv in received]
        target = self._split(wro, deltas, now) if split else wro
        before = {(box.id, i): (it.received, it.stowed, box.status)
                  for box in target.boxes for i, it in enumerate(box.items)}
        totals = target.totals()
        for inv, rec, stow in deltas:
            expected, received, stowed = totals.get(inv, (0, 0, 0))
            if inv not in totals or received + rec > expected or stowed + stow > received + rec:
                raise conflict(f"WRO {target.id}: cannot receive {rec} / stow {stow} of inventory "
                               f"{inv} (expected {expected}, received {received}, stowed {stowed})")
        for inv, rec, stow in deltas:
            self._fill(target, inv, "received", rec, now)
            self._fill(target, inv, "stowed", stow, now)
            lv = self.w.levels.at(inv, target.fc_id)
            lv.awaiting -= rec
            lv.on_hand += stow
        self._record_stows(target, before)
        touched = [wro] if target is wro else [wro, target]
        for w in touched:
            self._advance(w, complete and w is target, now)
        return touched

    def _record_stows(self, wro: Wro, before: dict) -> None:
        """A `ReceivingStow` event per box item stowed now; box webhooks as boxes move."""
        for box in wro.boxes:
            arrived = stowed = False
            for i, it in enumerate(box.items):
                was_received, was_stowed, was_status = before.get((box.id, i), (0, 0, "Awaiting"))
                arrived = arrived or (was_status == "Awaiting" and box.status != "Awaiting")
                stowed = stowed or (was_status != "Completed" and box.status == "Completed")
                if it.stowed > was_stowed:
                    self.w.history.record(
                        "ReceivingStow", it.inventory_id, wro.fc_id, it.stowed - was_stowed,
                        reference=("WroAndBox", f"{wro.id} {box.id}"),
                        extra=[("WroId", str(wro.id)), ("BoxId", str(box.id))])
            if arrived:
                self.w.webhooks.emit_wro_event("box_arrived", self.view(wro))
            if stowed:
                self.w.webhooks.emit_wro_event("box_stowed", self.view(wro))

    @staticmethod
    def _fill(wro: Wro, inv: int, attr: str, qty: int, now) -> None:
        """Spread a quantity over the WRO's box items for `inv`, box by box."""
        for box in wro.boxes:
            for it in box.items:
                if qty and it.inventory_id == inv:
                    cap = it.quantity if attr == "received" else it.received
                    take = min(qty, cap - getattr(it, attr))
                    setattr(it, attr, getattr(it, attr) + take)
                    qty -= take
            if all(i.stowed == i.quantity for i in box.items):
                box.status = "Completed"
            elif any(i.stowed for i in box.items):
                box.status = "Stowing"
            elif any(i.received for i in box.items):
                box.status = "Arrived"
            if box.status != "Awaiting":
                box.arrived = box.arrived or now
                box.received = box.received or now

    def _split(self, wro: Wro, deltas, now) -> Wro:
        """Staff move the arriving quantities into a new, unlinked WRO with the same PO."""
        moved = Counter()
        for inv, rec, _ in deltas:
            moved[inv] += rec
        for inv, qty in moved.items():
            for box in reversed(wro.boxes):
                for it in box.items:
                    if it.inventory_id == inv and qty:
                        take = min(qty, it.quantity - it.received)
                        it.quantity -= take
                        qty -= take
            if qty:
                raise conflict(f"WRO {wro.id} has not {moved[inv]} unreceived of inventory {inv} to split off")
        for box in wro.boxes:
            box.items = [it for it in box.items if it.quantity]
        new = Wro(self.w.ids.next("wro"), wro.fc_id, wro.purchase_order_number, wro.package_type,
                  wro.box_packaging_type, wro.expected_arrival_date,
                  [Box(self.w.ids.next("box"), 1, None,
                       [BoxItem(inv, qty) for inv, qty in moved.items() if qty])], now, now)
        self._set_status(new, "Awaiting", now)
        self.wros[new.id] = new
        self.w.webhooks.emit_wro_event("created", self.view(new))
        return new

    def _advance(self, wro: Wro, complete: bool, now) -> None:
        totals = wro.totals().values()
        if not totals:  # everything was split off into another WRO
            return
        if complete or all(stowed == expected for expected, _, stowed in totals):
            for inv, (expected, received, _) in wro.totals().items():
                self.w.levels.at(inv, wro.fc_id).awaiting -= expected - received
            wro.completed = now
            self._set_status(wro, "Completed", now)
        elif any(received for _, received, _ in totals):
            self._set_status(wro, "Processing", now)
        wro.updated = now

    def _set_status(self, wro: Wro, status: str, now) -> None:
        if wro.status != status or not wro.history:
            first = not wro.history
            wro.status = status
            wro.history.append({"id": self.w.ids.next("status_history"), "status": status,
                                "timestamp": timeutil.iso(now)})
            if not first:
                self.w.webhooks.emit_wro_event("completed" if status == "Completed" else "updated",
                                               self.view(wro))
        wro.updated = now

    # -- views ------------------------------------------------------------------------------

    def view(self, wro: Wro) -> dict:
        fc = self.w.config.fulfillment_center(wro.fc_id)
        return {
            "id": wro.id, "status": wro.status, "package_type": wro.package_type,
            "box_packaging_type": wro.box_packaging_type,
            "expected_arrival_date": wro.expected_arrival_date,
            "insert_date": timeutil.iso(wro.created), "last_updated_date": timeutil.iso(wro.updated),
            "box_labels_uri": f"{request.host_url}{self.w.config.api_version}/receiving/{wro.id}/labels",
            "fulfillment_center": fc.model_dump(),
            "purchase_order_number": wro.purchase_order_number,
            "inventory_quantities": [
                {"inventory_id": inv, "sku": self.w.catalog.find_inventory(inv).sku,
                 "expected_quantity": e, "received_quantity": r, "stowed_quantity": s}
                for inv, (e, r, s) in wro.totals().items()],
            "status_history": list(wro.history),
            "external_sync_timestamp": timeutil.iso(wro.external_sync),
        }

    @staticmethod
    def boxes_view(wro: Wro) -> list[dict]:
        return [{"box_id": b.id, "box_number": b.number, "box_status": b.status,
                 "tracking_number": b.tracking_number, "arrived_date": timeutil.iso(b.arrived),
                 "received_date": timeutil.iso(b.received), "counting_started_date": None,
                 "box_items": [{"inventory_id": i.inventory_id, "quantity": i.quantity,
                                "received_quantity": i.received, "stowed_quantity": i.stowed,
                                "lot_number": i.lot_number, "lot_date": i.lot_date}
                               for i in b.items]}
                for b in wro.boxes]


# -- routes ---------------------------------------------------------------------------------

@bp.post("/receiving")
def create_wro():
    w = world()
    body = json_body()
    errors = w.validator.request_errors("Receiving.CreateReceivingOrderModel", body)
    if errors:
        raise field_map(errors)
    with w.lock:
        return w.receiving.view(w.receiving.create(body)), 201


@bp.get("/receiving")
def list_wros():
    w = world()
    page = arg_int("Page", 1, 1, 2**31 - 1)
    limit = arg_int("Limit", 50, 1, 250)
    keep = _filter()
    with w.lock:
        found = [x for x in w.receiving.wros.values() if keep(x)]
        chunk, headers = paging.numbered(found, page, limit)
        return [w.receiving.view(x) for x in chunk], 200, headers


def _filter():
    ids, fcs = arg_ints("IDs"), arg_ints("FulfillmentCenterIds")
    statuses, pos = arg_list("Statuses"), arg_list("PurchaseOrderNumbers")
    bad = [s for s in statuses or [] if s not in STATUSES]
    if bad:
        raise field_map({"Statuses": [f"'{s}' is not a valid WRO status." for s in bad]})
    synced = arg_bool("ExternalSync")
    inserted = (arg_date("InsertStartDate"), arg_date("InsertEndDate"))
    completed = (arg_date("CompletedStartDate"), arg_date("CompletedEndDate"))

    def keep(x: Wro) -> bool:
        return ((ids is None or x.id in ids) and (fcs is None or x.fc_id in fcs)
                and (statuses is None or x.status in statuses)
                and (pos is None or x.purchase_order_number in pos)
                and (synced is None or (x.external_sync is not None) == synced)
                and timeutil.within(x.created, inserted) and timeutil.within(x.completed, completed))
    return keep


@bp.get("/receiving/<int:wro_id>")
def get_wro(wro_id: int):
    w = world()
    with w.lock:
        return w.receiving.view(w.receiving.get(wro_id))


@bp.get("/receiving/<int:wro_id>/boxes")
def get_wro_boxes(wro_id: int):
    w = world()
    with w.lock:
        return w.receiving.boxes_view(w.receiving.get(wro_id))


@bp.post("/receiving/<int:wro_id>:cancel")
def cancel_wro(wro_id: int):
    w = world()
    with w.lock:
        wro = w.receiving.get(wro_id)
        w.receiving.cancel(wro)
        return w.receiving.view(wro)


@bp.post("/receiving:setExternalSync")
def set_external_sync():
    w = world()
    body = json_body()
    errors = w.validator.request_errors("Receiving.UpdateExternalSyncModel", body)
    if not errors and not body.get("ids"):
        errors = {"ids": ["The ids field is required."]}
    if errors:
        raise field_map(errors)
    with w.lock:
        # The spec answers with one WarehouseReceivingOrderViewModel, not a list: the first id's.
        wro = w.receiving.set_external_sync(body["ids"], bool(body.get("is_external_sync")))
        return w.receiving.view(wro)
