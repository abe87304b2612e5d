"""Returns (RMAs): create, read, update, cancel; the warehouse side via hook (shipbob.md §5).

Status runs AwaitingArrival → Arrived → Processing → Completed, or Cancelled while still
AwaitingArrival; PUT and :cancel are refused (422 ApiError) once the return arrived.
Restocked units go back on hand at the return's FC. Every change sends `return.created`,
`return.updated` or `return.completed` with the GET /return/{id} body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import Blueprint

from . import paging, timeutil
from .errors import ApiError, conflict, not_found, returns_api_error, validation_problem
from .web import arg, arg_date, arg_int, arg_ints, arg_list, channel_header, json_body, world

bp = Blueprint("returns", __name__)

FLOW = ("AwaitingArrival", "Arrived", "Processing", "Completed")
ACTIONS = ("Restock", "Quarantine", "Dispose")


def _problem(field_name: str, message: str) -> ApiError:
    return validation_problem({field_name: [message]})


@dataclass
class ReturnItem:
    inventory_id: int
    quantity: int
    requested_action: str
    lot_number: str | None = None
    lot_date: str | None = None
    taken: list[dict] = field(default_factory=list)


@dataclass
class Return:
    id: int
    channel_id: int
    reference_id: str
    fc_id: int
    items: list[ReturnItem]
    original_shipment_id: int | None
    tracking_number: str | None
    created: datetime
    status: str = "AwaitingArrival"
    history: list[dict] = field(default_factory=list)
    dates: dict[str, datetime] = field(default_factory=dict)  # status -> when it was reached


class Returns:
    def __init__(self, w):
        self.w = w
        self.returns: dict[int, Return] = {}

    def create(self, channel, body: dict) -> Return:
        self._check(channel.id, body, None)
        now = timeutil.now()
        r = Return(self.w.ids.next("return"), channel.id, body["reference_id"], 0, [], None, None, now)
        self._apply(r, body)
        self._move(r, "AwaitingArrival", now)
        self.returns[r.id] = r
        self.w.webhooks.emit("return.created", self.view(r))
        return r

    def update(self, r: Return, body: dict) -> None:
        self._require_awaiting(r, "updated")
        self._check(r.channel_id, body, r)
        self._apply(r, body)
        self.w.webhooks.emit("return.updated", self.view(r))

    def cancel(self, r: Return) -> None:
        self._require_awaiting(r, "cancelled")
        self._move(r, "Cancelled", timeutil.now())
        self.w.webhooks.emit("return.updated", self.view(r))

    def get(self, return_id: int, channel=None) -> Return:
        r = self.returns.get(return_id)
        if r is None or (channel is not None and r.channel_id != channel.id):
            raise not_found("Return", return_id)
        return r

    def _require_awaiting(self, r: Return, verb: str) -> None:
        if r.status != "AwaitingArrival":
            raise returns_api_error(f"Return {r.id} is {r.status}; only a return awaiting "
                                    f"arrival can be {verb}.")

    def _check(self, channel_id: int, body: dict, current: Return | None) -> None:
        """Business rules beyond the schema, answered as 422 ApiError."""
        errors = []
        dup = next((x for x in self.returns.values() if x.channel_id == channel_id
                    and x.reference_id == body["reference_id"] and x is not current), None)
        if dup is not None:  # "Reference IDs must be unique by channel" (⚠ for returns)
            errors.append(f"A return with reference_id '{body['reference_id']}' already exists ({dup.id}).")
        if self.w.config.fulfillment_center(body["fulfillment_center"]["id"]) is None:
            errors.append(f"Fulfillment center {body['fulfillment_center']['id']} does not exist.")
        seen = set()
        for item in body["inventory"]:
            if item["id"] in seen:
                errors.append(f"Inventory {item['id']} is listed more than once.")
            seen.add(item["id"])
            if self.w.catalog.find_inventory(item["id"]) is None:
                errors.append(f"Inventory {item['id']} does not exist.")
            if item["quantity"] < 1:
                errors.append(f"Inventory {item['id']}: quantity must be at least 1.")
        shipment = body.get("original_shipment_id")
        if shipment is not None and shipment not in self.w.orders.shipments:
            errors.append(f"Shipment {shipment} does not exist.")
        if errors:
            raise returns_api_error("The return could not be saved.", errors)

    @staticmethod
    def _apply(r: Return, body: dict) -> None:
        r.reference_id = body["reference_id"]
        r.fc_id = body["fulfillment_center"]["id"]
        r.items = [ReturnItem(i["id"], i["quantity"], i["requested_action"], i.get("lot_number"),
                              i.get("lot_date")) for i in body["inventory"]]
        r.original_shipment_id = body.get("original_shipment_id")
        r.tracking_number = body.get("tracking_number")

    def _move(self, r: Return, status: str, now) -> None:
        r.status = status
        r.dates[status] = now
        r.history.append({"status": status, "timestamp": timeutil.iso(now)})

    # -- the warehouse (hook) ---------------------------------------------------------------

    def advance(self, r: Return, status: str, actions: list[dict]) -> None:
        if status not in FLOW[1:]:
            raise conflict(f"Unsupported status {status!r}: use Arrived, Processing or Completed")
        if r.status not in FLOW or FLOW.index(status) <= FLOW.index(r.status):
            raise conflict(f"Return {r.id} is {r.status} and cannot move to {status}")
        items = {i.inventory_id: i for i in r.items}
        for a in actions:
            item = items.get(a.get("inventory_id"))
            qty = int(a.get("quantity_processed", item.quantity if item else 0))
            if item is None or a.get("action") not in ACTIONS or qty < 1 or \
                    sum(t["quantity_processed"] for t in item.taken) + qty > item.quantity:
                raise conflict(f"Invalid action {a} for return {r.id}")
            self._take(r, item, a["action"], qty, a.get("action_reason"))
        now = timeutil.now()
        for step in FLOW[FLOW.index(r.status) + 1:FLOW.index(status) + 1]:
            if step == "Completed":
                for item in r.items:  # what nobody decided on follows the merchant's request
                    left = item.quantity - sum(t["quantity_processed"] for t in item.taken)
                    if left:
                        action = "Restock" if item.requested_action == "Default" else item.requested_action
                        self._take(r, item, action, left, "Requested action")
            self._move(r, step, now)
        topic = "return.completed" if status == "Completed" else "return.updated"
        self.w.webhooks.emit(topic, self.view(r))

    def _take(self, r: Return, item: ReturnItem, action: str, qty: int, reason) -> None:
        item.taken.append({"action": action, "action_reason": reason, "image_url": None,
                           "quantity_processed": qty})
        if action == "Restock":
            self.w.levels.at(item.inventory_id, r.fc_id).on_hand += qty
            self.w.history.record("InventoryRestocked", item.inventory_id, r.fc_id, qty,
                                  reference=("ReturnId", str(r.id)))

    # -- views ------------------------------------------------------------------------------

    def _common(self, r: Return) -> dict:
        fc = self.w.config.fulfillment_center(r.fc_id)
        channel = self.w.config.channel(r.channel_id)
        shipment = self.w.orders.shipments.get(r.original_shipment_id)
        order = self.w.orders.orders.get(shipment.order_id) if shipment else None
        return {
            "id": r.id, "reference_id": r.reference_id, "status": r.status, "return_type": "Regular",
            "original_shipment_id": r.original_shipment_id, "tracking_number": r.tracking_number,
            "fulfillment_center": {"id": fc.id, "name": fc.name},
            "channel": {"id": channel.id, "name": channel.name},
            "insert_date": timeutil.iso(r.created),
            "completed_date": timeutil.iso(r.dates.get("Completed")),
            "customer_name": order.body["recipient"].get("name") if order else None,
            "store_order_id": order.reference_id if order else None,
            "transactions": [],
        }

    def _item(self, i: ReturnItem) -> dict:
        v = self.w.catalog.find_inventory(i.inventory_id)
        return {"id": i.inventory_id, "name": v.name, "quantity": i.quantity,
                "action_requested": {"action": i.requested_action, "action_type": None,
                                     "instructions": None},
                "action_taken": list(i.taken)}

    def view_v1(self, r: Return) -> dict:
        """Returns.PublicReturnV1Dto: what POST and PUT answer."""
        return {**self._common(r), "invoice_amount": None,
                "inventory": [self._item(i) for i in r.items]}

    def view(self, r: Return) -> dict:
        """Returns.PublicReturnDto: what GET answers and webhooks carry."""
        d = r.dates
        return {
            **self._common(r),
            "awaiting_arrival_date": timeutil.iso(d.get("AwaitingArrival")),
            "arrived_date": timeutil.iso(d.get("Arrived")),
            "processing_date": timeutil.iso(d.get("Processing")),
            "cancelled_date": timeutil.iso(d.get("Cancelled")),
            "status_history": list(r.history), "shipment_tracking_number": None,
            "invoice": {"amount": None, "currency_code": None},
            "inventory": [{**self._item(i), "sku": self.w.catalog.find_inventory(i.inventory_id).sku,
                           "barcodes": [], "lot_information": {
                               "number": i.lot_number, "expiration": i.lot_date,
                               "minimumShelfLife": None}}
                          for i in r.items],
        }


# -- routes ---------------------------------------------------------------------------------

def _valid_body():
    body = json_body()
    errors = world().validator.request_errors("Returns.CreateReturnRequest", body)
    if errors:
        raise validation_problem(errors)
    return body


@bp.post("/return")
def create_return():
    w = world()
    channel = channel_header(required=True, scope="returns_write", error=_problem)
    body = _valid_body()
    with w.lock:
        return w.returns.view_v1(w.returns.create(channel, body)), 201


@bp.put("/return/<int:return_id>")
def update_return(return_id: int):
    w = world()
    channel = channel_header(required=False, error=_problem)
    body = _valid_body()
    with w.lock:
        r = w.returns.get(return_id, channel)
        w.returns.update(r, body)
        return w.returns.view_v1(r)


@bp.post("/return/<int:return_id>:cancel")
def cancel_return(return_id: int):
    w = world()
    with w.lock:
        r = w.returns.get(return_id)
        w.returns.cancel(r)
        return w.returns.view_v1(r)


@bp.get("/return/<int:return_id>")
def get_return(return_id: int):
    w = world()
    channel = channel_header(required=False, error=_problem)
    with w.lock:
        return w.returns.view(w.returns.get(return_id, channel))


@bp.get("/return")
def list_returns():
    w = world()
    channel = channel_header(required=False, error=_problem)
    page = arg_int("Cursor", 1, 1, 2**31 - 1)
    limit = arg_int("Limit", 50, 1, 250)
    keep = _filter()
    ascending = (arg("SortOrder") or "Desc").lower() == "asc"
    with w.lock:
        found = [r for r in w.returns.returns.values()
                 if (channel is None or r.channel_id == channel.id) and keep(r)]
        found.sort(key=lambda r: r.id, reverse=not ascending)
        chunk, headers = paging.numbered(found, page, limit, "Cursor", next_header=False)
        body = {"items": [w.returns.view(r) for r in chunk],
                **paging.numbered_links(page, limit, len(found), "Cursor")}
        return body, 200, headers


def _filter():
    """GET /return filters; status values may arrive spelled "Awaiting Arrival" (§5)."""
    ids, shipments = arg_ints("Ids"), arg_ints("OriginalShipmentIds")
    inventory, fcs = arg_ints("InventoryIds"), arg_ints("FulfillmentCenterIds")
    refs, tracking = arg_list("ReferenceIds"), arg_list("TrackingNumbers")
    statuses = {s.replace(" ", "").lower() for s in arg_list("Status") or []} or None
    types = arg_list("ReturnTypes")
    created = (arg_date("StartDate"), arg_date("EndDate"))
    completed = (arg_date("CompletedStartDate"), arg_date("CompletedEndDate"))

    def keep(r: Return) -> bool:
        return ((ids is None or r.id in ids) and (refs is None or r.reference_id in refs)
                and (statuses is None or r.status.lower() in statuses)
                and (shipments is None or r.original_shipment_id in shipments)
                and (tracking is None or r.tracking_number in tracking)
                and (fcs is None or r.fc_id in fcs)
                and (inventory is None or any(i.inventory_id in inventory for i in r.items))
                and (types is None or "Regular" in types)
                and timeutil.within(r.created, created) and timeutil.within(r.dates.get("Completed"), completed))
    return keep
