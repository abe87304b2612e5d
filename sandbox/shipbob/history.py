"""Inventory history: the movements that change on-hand stock, and
`POST /inventory/history:query` (new in 2026-01; ShipBob's "Query Inventory History Events",
developer.shipbob.com/api/inventory/query-inventory-history-events and its guide
developer.shipbob.com/guides/inventory-history).

The flows record what they do to on-hand here: a pick (`OrderPicked`, the pick hook or a
shipment shipped unpicked), a WRO box stowed (`ReceivingStow`: "when stowing occurs,
ShipBob's On Hand quantity increases"), a return restocked (`InventoryRestocked`) and a
counted adjustment (`InventoryAdjusted`, a hook). Each event carries an `increment` (units
arriving) or a `decrement` (units leaving, negative `quantity_change`) and the guide's
`primary_reference` (`OrderId` / `WroAndBox` "<wro id> <box id>").

Paging is by event id: `cursor` (in the body, or the query, which wins) returns the events
after that `inventory_audit_event_id`, oldest first; `next` is set while more remain.
⚠ Choices where ShipBob is silent: the page size (`inventory_history_page_size`), the 400
body (ASP.NET ValidationProblemDetails), picks carrying no `increment`, and references
other than the guide's two (`ReturnId`, `AdjustmentReason`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Blueprint, g, request

from . import timeutil
from .errors import validation_problem
from .web import world

bp = Blueprint("inventory_history", __name__)

CATEGORIES = ("OrderPicked", "InventoryAdjusted", "InventoryFacilityUpdated", "AttributeUpdated",
              "InventoryReceived", "InventoryRestocked", "ReceivingStow", "KittingStow")
MAX_RANGE = timedelta(days=90)  # "Maximum range is 90 days"; also the default start


@dataclass
class Event:
    id: int
    category: str
    inventory_id: int
    sku: str
    facility_id: int
    quantity: int  # the change of on-hand: negative leaves, positive arrives
    at: datetime
    user_id: int
    committed: int = 0  # the change of committed that came with it (a pick consumes it)
    order_id: int | None = None
    reference: tuple[str, str] | None = None
    extra: list[tuple[str, str]] = field(default_factory=list)


class InventoryHistory:
    def __init__(self, w):
        self.w = w
        self.events: list[Event] = []  # in id order

    def record(self, category: str, inventory_id: int, facility_id: int, quantity: int, *,
               committed: int = 0, order_id: int | None = None,
               reference: tuple[str, str] | None = None,
               extra: list[tuple[str, str]] | None = None) -> Event:
        variant = self.w.catalog.find_inventory(inventory_id)
        event = Event(self.w.ids.next("audit_event"), category, inventory_id,
                      variant.sku if variant else "", facility_id, quantity, timeutil.now(),
                      self.w.config.user_id, committed, order_id, reference, list(extra or []))
        self.events.append(event)
        return event

    def view(self, e: Event) -> dict:
        details = {
            "facility_id": e.facility_id,
            # A bin in the FC: ShipBob's shelf ids are internal; one per item and FC here.
            "location_id": e.facility_id * 1_000_000 + e.inventory_id % 1_000_000,
            "sku": e.sku, "quantity_change": e.quantity,
            "committed_quantity_change": e.committed,
            "inventory_status": "Available", "lot_number": None, "expiration_date": None,
            "operational_stage": None, "pack_description_id": None, "yuki_id": None,
        }
        return {
            "inventory_audit_event_id": e.id, "inventory_id": e.inventory_id,
            "event_category": e.category, "event_datetime": timeutil.iso(e.at),
            "shipbob_order_id": e.order_id, "merchant_user_id": e.user_id,
            "increment": details if e.quantity > 0 else None,
            "decrement": details if e.quantity < 0 else None,
            "additional_reference": [{"key": k, "value": v} for k, v in e.extra],
            # In ShipBob's inventory-history guide, not in the 2026-01 schema.
            "primary_reference": ({"type": e.reference[0], "value": e.reference[1]}
                                  if e.reference else None),
        }


@dataclass
class Query:
    facility_id: int
    start: datetime
    end: datetime
    cursor: int = 0
    category: str | None = None
    inventory_ids: set[int] | None = None
    user_id: int | None = None

    def keeps(self, e: Event) -> bool:
        return (e.facility_id == self.facility_id and self.start <= e.at <= self.end
                and (self.category is None or e.category == self.category)
                and (self.inventory_ids is None or e.inventory_id in self.inventory_ids)
                and (self.user_id is None or e.user_id == self.user_id))


def _query(w) -> Query:
    """The request as a Query, or a 400 naming every problem."""
    body = request.get_json(silent=True, force=True) if request.data else None
    if not isinstance(body, dict):
        raise validation_problem({"": ["A JSON object request body is required."]})
    errors = w.validator.request_errors("FulfillmentCenterInventoryService.MerchantHistoryRequest", body)
    if body.get("facility_id") is None and "facility_id" not in errors:
        errors["facility_id"] = ["The facility_id field is required."]
    category = body.get("event_category")
    if category is not None and category not in CATEGORIES and "event_category" not in errors:
        errors["event_category"] = [f"'{category}' is not one of {', '.join(CATEGORIES)}."]
    cursor = body.get("cursor")
    raw = next((v for k, v in request.args.items() if k.lower() == "cursor" and v != ""), None)
    if raw is not None:  # the query's cursor (a `next` link) wins over the body's
        try:
            cursor = int(raw)
        except ValueError:
            errors["cursor"] = [f"The value '{raw}' is not valid for cursor."]
    if errors:
        raise validation_problem(errors)
    now = timeutil.now()
    end = timeutil.parse(body["end_date"]) if body.get("end_date") else now
    start = timeutil.parse(body["start_date"]) if body.get("start_date") else end - MAX_RANGE
    if start > end:
        raise validation_problem({"start_date": ["start_date must not be after end_date."]})
    if end - start > MAX_RANGE:
        raise validation_problem({"start_date": ["The date range may span at most 90 days."]})
    ids = body.get("inventory_ids")
    return Query(body["facility_id"], start, end, int(cursor or 0), category,
                 set(ids) if ids else None, body.get("merchant_user_id"))


def _link(cursor: int | None) -> str:
    return f"{request.path}?cursor={cursor}" if cursor else request.path


@bp.post("/inventory/history:query")
def query_history():
    w = world()
    q = _query(w)
    size = w.config.inventory_history_page_size
    with w.lock:
        matching = [e for e in w.history.events if q.keeps(e)]
    before = [e for e in matching if e.id <= q.cursor]
    after = [e for e in matching if e.id > q.cursor]
    page = after[:size]
    g.page_items = len(page)
    return {
        "data": [w.history.view(e) for e in page],
        "first": _link(None) if matching else None,
        "last": _link(matching[-size - 1].id if len(matching) > size else None) if matching else None,
        "next": _link(page[-1].id) if len(after) > size else None,
        "prev": (_link(before[-size - 1].id if len(before) > size else None)
                 if before and matching else None),
    }
