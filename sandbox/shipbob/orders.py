"""Orders and their shipments: create, read, cancel, tracking-upload flags (shipbob.md §4).

An order is created with one shipment holding every line ("shipments usually exist
immediately"); the ship hook may split it later (fulfillment.py). The order status is
derived from its shipments, never stored, so the two cannot disagree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Blueprint

from . import paging, timeutil
from .errors import ApiError, bad_request, field_map, not_found
from .web import arg, arg_bool, arg_date, arg_int, arg_ints, arg_list, channel_header, json_body, world

bp = Blueprint("orders", __name__)

OPEN = ("Processing", "Exception", "OnHold")
DUPLICATE_REFERENCE = {"": ["Cannot insert order with existing ReferenceId"]}


@dataclass
class Line:
    product_id: int
    inventory_id: int
    sku: str
    name: str
    quantity: int
    reference_id: str | None = None
    external_line_id: int | None = None
    unit_price: float | None = None
    gtin: str | None = None
    upc: str | None = None
    uom: str | None = None


@dataclass
class Shipment:
    id: int
    order_id: int
    location_id: int
    items: Counter  # inventory_id -> quantity
    created: datetime
    updated: datetime
    status: str = "Processing"
    status_details: list = field(default_factory=list)
    tracking: dict | None = None
    is_tracking_uploaded: bool = False
    last_tracking_update: datetime | None = None
    actual_fulfillment_date: datetime | None = None
    delivery_date: datetime | None = None
    # The warehouse's progress while Processing (status details Picked / Packed).
    picked: datetime | None = None
    packed: datetime | None = None
    # Edits after creation (shipment_edits.py): this shipment's own ship-to and ship option.
    recipient: dict | None = None
    ship_option: str | None = None

    @property
    def editable(self) -> bool:
        """Open and not yet picked: "The shipment must not be picked, packed, or shipped"."""
        return self.status in OPEN and self.picked is None

    @property
    def holds_committed(self) -> bool:
        """Its units count in `committed` (a pick consumes the allocation; Exception stock
        sits in the exception bucket)."""
        return self.status in ("Processing", "OnHold") and self.picked is None


@dataclass
class Order:
    id: int
    channel_id: int
    reference_id: str
    body: dict  # the create request, echoed in views
    lines: list[Line]
    created: datetime
    updated: datetime
    shipment_ids: list[int] = field(default_factory=list)


class Orders:
    def __init__(self, w):
        self.w = w
        self.orders: dict[int, Order] = {}
        self.shipments: dict[int, Shipment] = {}
        self._by_reference: dict[tuple[int, str], int] = {}

    # -- create -----------------------------------------------------------------------------

    def create(self, channel, body: dict) -> Order:
        key = (channel.id, body["reference_id"])
        if key in self._by_reference:  # "Reference IDs must be unique by channel"
            raise ApiError(422, DUPLICATE_REFERENCE)
        variants = self._resolve_products(body["products"])
        location_id = self._pick_location(body.get("location_id"), variants, body["products"])
        now = timeutil.now()
        lines = [Line(product_id=v.product_id, inventory_id=v.inventory_id, sku=v.sku,
                      name=p.get("name") or v.name, quantity=p["quantity"],
                      reference_id=p.get("reference_id") or v.sku,
                      external_line_id=p.get("external_line_id"), unit_price=p.get("unit_price"),
                      gtin=p.get("gtin") or v.gtin, upc=p.get("upc") or v.upc,
                      uom=p.get("quantity_unit_of_measure_code"))
                 for p, v in zip(body["products"], variants)]
        order = Order(self.w.ids.next("order"), channel.id, body["reference_id"], body, lines,
                      now, now)
        items = Counter()
        for line in lines:
            items[line.inventory_id] += line.quantity
        self.add_shipment(order, location_id, items, now)
        self.orders[order.id] = order
        self._by_reference[key] = order.id
        return order

    def add_shipment(self, order: Order, location_id: int, items: Counter,
                     when: datetime, commit: bool = True) -> Shipment:
        s = Shipment(self.w.ids.next("shipment"), order.id, location_id, items, when, when)
        self.shipments[s.id] = s
        order.shipment_ids.append(s.id)
        if commit:
            for inv, qty in items.items():
                self.w.levels.at(inv, location_id).committed += qty
        return s

    def _resolve_products(self, products: list[dict]):
        """Match each line to a variant: by product id, or by SKU (reference_id); create a
        product for an unmatched reference that carries a name (shipbob.md §4)."""
        catalog, errors, out = self.w.catalog, {}, []
        for i, p in enumerate(products):
            if "reference_id" not in p:
                product = catalog.products.get(p["id"])
                if product is None:
                    errors[f"products[{i}].id"] = [f"Product {p['id']} does not exist."]
                out.append(product.variants[0] if product else None)
                continue
            sku = p.get("sku") or p["reference_id"]
            v = catalog.by_sku(sku)
            if v is None and not p.get("name"):
                errors[f"products[{i}].name"] = [
                    f"The name field is required: no ShipBob product matches '{sku}'."]
            out.append(v)
        if errors:
            raise field_map(errors)
        for i, (p, v) in enumerate(zip(products, out)):
            if v is None:
                sku = p.get("sku") or p["reference_id"]
                out[i] = catalog.by_sku(sku) or catalog.add(p["name"], "Regular", [
                    {"sku": sku, "name": p["name"], "gtin": p.get("gtin"), "upc": p.get("upc")}
                ]).variants[0]
        return out

    def _pick_location(self, wanted: int | None, variants, products) -> int:
        """`location_id` pins the FC; otherwise the first FC that can fill every line from
        fulfillable stock, else the one holding the most of it."""
        fcs = self.w.config.fulfillment_centers
        if wanted is not None:
            if self.w.config.fulfillment_center(wanted) is None:
                raise bad_request("location_id", f"Location {wanted} does not exist.")
            return wanted
        need = Counter()
        for v, p in zip(variants, products):
            need[v.inventory_id] += p["quantity"]

        def stock(fc):
            return [self.w.levels.per_fc(inv).get(fc.id) for inv in need]

        for fc in fcs:
            if all(lv and lv.fulfillable >= need[inv] for lv, inv in zip(stock(fc), need)):
                return fc.id
        return max(fcs, key=lambda fc: sum(lv.fulfillable for lv in stock(fc) if lv)).id

    # -- cancel -----------------------------------------------------------------------------

    def cancel(self, order: Order, notify: bool = True) -> dict:
        """`notify=False`: cancelled in ShipBob's dashboard, which sends no webhook."""
        ships = self.shipments_of(order)
        shipped = [s.id for s in ships if s.status == "Completed"]
        if shipped:
            raise field_map({"": [f"Order {order.id} cannot be cancelled: shipment(s) "
                                  f"{', '.join(map(str, shipped))} already shipped."]}, 422)
        picked = [self.not_cancellable(s) for s in ships if s.status in OPEN and s.picked]
        if picked:
            raise field_map({"": [f"Order {order.id} cannot be cancelled: {' '.join(picked)}"]}, 422)
        if self.status(order) == "Cancelled":
            raise field_map({"": [f"Order {order.id} is already cancelled."]}, 422)
        results = []
        for s in ships:
            if s.status in OPEN:
                self.cancel_shipment(s, notify)
                results.append({"shipment_id": s.id, "is_success": True,
                                "reason": "Order cancelled", "action": "Cancel"})
        return {"order_id": order.id, "order": self.order_view(order), "status": "Success",
                "canceled_shipment_results": results}

    def cancel_shipment(self, s: Shipment, notify: bool = True) -> None:
        refused = self.not_cancellable(s)
        if refused:
            raise field_map({"": [refused]}, 422)
        for inv, qty in s.items.items():
            self.release(s, inv, qty)
        s.status, s.status_details = "Cancelled", []
        self.touch(s)
        # API cancellations notify; manual/imported ones do not (shipbob.md §6).
        if notify:
            self.w.webhooks.emit_order_event("order.shipment.cancelled", self.orders[s.order_id], s)

    @staticmethod
    def not_cancellable(s: Shipment) -> str | None:
        """Why `s` cannot be cancelled (picked, packed, shipped or done), or None."""
        if s.status not in OPEN:
            return f"Shipment {s.id} is {s.status} and cannot be cancelled."
        if s.picked is not None:
            stage = "packed" if s.packed else "picked"
            return f"Shipment {s.id} is already {stage} and cannot be cancelled."
        return None

    def bucket(self, s: Shipment) -> str:
        """The level bucket holding an unpicked open shipment's units."""
        return "exception" if s.status == "Exception" else "committed"

    def release(self, s: Shipment, inventory_id: int, qty: int) -> None:
        """Give back `qty` units of an unpicked open shipment's allocation (negative: take)."""
        lv = self.w.levels.at(inventory_id, s.location_id)
        bucket = self.bucket(s)
        setattr(lv, bucket, getattr(lv, bucket) - qty)

    # -- reads ------------------------------------------------------------------------------

    def get(self, order_id: int, channel=None) -> Order:
        o = self.orders.get(order_id)
        if o is None or (channel is not None and o.channel_id != channel.id):
            raise not_found("Order", order_id)
        return o

    def get_shipment(self, shipment_id: int, channel=None) -> Shipment:
        s = self.shipments.get(shipment_id)
        if s is None or (channel is not None and self.orders[s.order_id].channel_id != channel.id):
            raise not_found("Shipment", shipment_id)
        return s

    def shipments_of(self, order: Order) -> list[Shipment]:
        return [self.shipments[i] for i in order.shipment_ids]

    def status(self, order: Order) -> str:
        live = [s.status for s in self.shipments_of(order) if s.status != "Cancelled"]
        if not live:
            return "Cancelled"
        done = live.count("Completed")
        if done == len(live):
            return "Fulfilled"
        if done:
            return "PartiallyFulfilled"
        return "Exception" if "Exception" in live else "Processing"

    def touch(self, s: Shipment, when: datetime | None = None) -> None:
        when = when or timeutil.now()
        s.updated = when
        self.orders[s.order_id].updated = when

    # -- views ------------------------------------------------------------------------------

    def order_view(self, o: Order) -> dict:
        b = o.body
        channel = self.w.config.channel(o.channel_id)
        return {
            "id": o.id, "created_date": timeutil.iso(o.created),
            "purchase_date": b.get("purchase_date"), "reference_id": o.reference_id,
            "order_number": b.get("order_number") or o.reference_id,
            "status": self.status(o), "type": b["type"],
            "channel": {"id": channel.id, "name": channel.name},
            "shipping_method": b["shipping_method"], "recipient": b["recipient"],
            "products": [{"id": ln.product_id, "reference_id": ln.reference_id,
                          "quantity": ln.quantity, "quantity_unit_of_measure_code": ln.uom,
                          "sku": ln.sku, "gtin": ln.gtin, "upc": ln.upc,
                          "unit_price": ln.unit_price, "external_line_id": ln.external_line_id}
                         for ln in o.lines if ln.quantity > 0],  # a line edited away is gone
            "tags": b.get("tags") or [], "gift_message": b.get("gift_message"),
            "shipping_terms": b.get("shipping_terms"), "financials": b.get("financials"),
            "retailer_program_data": b.get("retailer_program_data"),
            "shipments": [self.shipment_view(s) for s in self.shipments_of(o)],
        }

    def shipment_view(self, s: Shipment) -> dict:
        o = self.orders[s.order_id]
        fc = self.w.config.fulfillment_center(s.location_id)
        r = s.recipient or o.body["recipient"]
        names = {}
        for ln in o.lines:
            names.setdefault(ln.inventory_id, ln)
        committed = s.holds_committed
        return {
            "id": s.id, "order_id": o.id, "reference_id": o.reference_id,
            "recipient": {"name": r.get("name"), "full_name": r.get("name"),
                          "address": r.get("address"), "email": r.get("email"),
                          "phone_number": r.get("phone_number")},
            "created_date": timeutil.iso(s.created), "last_update_at": timeutil.iso(s.updated),
            "last_tracking_update_at": timeutil.iso(s.last_tracking_update),
            "status": s.status, "status_details": s.status_details,
            "location": {"id": fc.id, "name": fc.name},
            "invoice_amount": None, "invoice_currency_code": None, "insurance_value": None,
            "ship_option": s.ship_option or o.body["shipping_method"], "tracking": s.tracking,
            "products": [{
                "id": names[inv].product_id, "reference_id": names[inv].reference_id,
                "name": names[inv].name, "sku": names[inv].sku,
                "inventory_items": [{"id": inv, "name": names[inv].name, "quantity": qty,
                                     "quantity_committed": qty if committed else 0,
                                     "lot": None, "expiration_date": None,
                                     "serial_numbers": [], "is_dangerous_goods": False}],
            } for inv, qty in s.items.items()],
            "estimated_fulfillment_date": timeutil.iso(s.created + timedelta(days=2)),
            "estimated_fulfillment_date_status":
                "FulfilledOnTime" if s.status == "Completed" else "PendingOnTime",
            "actual_fulfillment_date": timeutil.iso(s.actual_fulfillment_date),
            "delivery_date": timeutil.iso(s.delivery_date),
            "is_tracking_uploaded": s.is_tracking_uploaded, "require_signature": False,
            "gift_message": o.body.get("gift_message"),
        }


# -- routes ---------------------------------------------------------------------------------

@bp.post("/order")
def create_order():
    w = world()
    channel = channel_header(required=True, scope="orders_write")
    body = json_body()
    errors = w.validator.request_errors("Orders.CreateOrderModel", body)
    if errors:
        raise field_map(errors)
    with w.lock:
        return w.orders.order_view(w.orders.create(channel, body)), 201


@bp.get("/order")
def list_orders():
    w = world()
    channel = channel_header(required=False)
    page = arg_int("Page", 1, 1, 2**31 - 1)
    limit = arg_int("Limit", 50, 1, 250)
    keep = _filter(w)
    newest_first = (arg("SortOrder") or "Newest").lower() not in ("oldest", "asc", "ascending")
    with w.lock:
        found = [o for o in w.orders.orders.values()
                 if (channel is None or o.channel_id == channel.id) and keep(o)]
        found.sort(key=lambda o: o.id, reverse=newest_first)
        chunk, _ = paging.numbered(found, page, limit)  # 2026-01 sends no paging headers (§8)
        return [w.orders.order_view(o) for o in chunk]


def _filter(w):
    """A predicate for the GET /order query parameters (all AND-ed, shipbob.md §4)."""
    ids, refs = arg_ints("IDs"), arg_list("ReferenceIds")
    refs = set(refs) if refs is not None else None
    created = (arg_date("StartDate"), arg_date("EndDate"))
    updated = (arg_date("LastUpdateStartDate"), arg_date("LastUpdateEndDate"))
    tracked = (arg_date("LastTrackingUpdateStartDate"), arg_date("LastTrackingUpdateEndDate"))
    has_tracking, uploaded = arg_bool("HasTracking"), arg_bool("IsTrackingUploaded")

    def keep(o: Order) -> bool:
        if (ids is not None and o.id not in ids) or (refs is not None and o.reference_id not in refs):
            return False
        if not (timeutil.within(o.created, created) and timeutil.within(o.updated, updated)):
            return False
        with_tracking = [s for s in w.orders.shipments_of(o) if s.tracking]
        if has_tracking is not None and bool(with_tracking) != has_tracking:
            return False
        fully_uploaded = bool(with_tracking) and all(s.is_tracking_uploaded for s in with_tracking)
        if uploaded is not None and fully_uploaded != uploaded:
            return False
        if any(tracked):
            latest = max((s.last_tracking_update for s in with_tracking), default=None)
            if not timeutil.within(latest, tracked):
                return False
        return True

    return keep


@bp.get("/order/<int:order_id>")
def get_order(order_id: int):
    w = world()
    channel = channel_header(required=False)
    with w.lock:
        return w.orders.order_view(w.orders.get(order_id, channel))


@bp.get("/order/<int:order_id>/shipment")
def list_order_shipments(order_id: int):
    w = world()
    channel = channel_header(required=False)
    with w.lock:
        o = w.orders.get(order_id, channel)
        return [w.orders.shipment_view(s) for s in w.orders.shipments_of(o)]


@bp.get("/order/<int:order_id>/shipment/<int:shipment_id>")
def get_order_shipment(order_id: int, shipment_id: int):
    w = world()
    channel = channel_header(required=False)
    with w.lock:
        s = w.orders.get_shipment(shipment_id, channel)
        if s.order_id != order_id:
            raise not_found("Shipment", shipment_id)
        return w.orders.shipment_view(s)


@bp.get("/shipment/<int:shipment_id>")
def get_shipment(shipment_id: int):
    w = world()
    channel = channel_header(required=False)
    with w.lock:
        return w.orders.shipment_view(w.orders.get_shipment(shipment_id, channel))


@bp.post("/order/<int:order_id>:cancel")
def cancel_order(order_id: int):
    w = world()
    with w.lock:
        return w.orders.cancel(w.orders.get(order_id))


@bp.post("/shipment/<int:shipment_id>:cancel")
def cancel_shipment(shipment_id: int):
    w = world()
    with w.lock:
        s = w.orders.get_shipment(shipment_id)
        w.orders.cancel_shipment(s)
        return w.orders.shipment_view(s)


@bp.post("/order/<int:order_id>/shipment/<int:shipment_id>:cancel")
def cancel_order_shipment(order_id: int, shipment_id: int):
    w = world()
    with w.lock:
        s = w.orders.get_shipment(shipment_id)
        if s.order_id != order_id:
            raise not_found("Shipment", shipment_id)
        w.orders.cancel_shipment(s)
        return w.orders.shipment_view(s)


@bp.post("/shipment:batchCancel")
def batch_cancel_shipments():
    """Each shipment cancelled or refused on its own; 200 with a result per id."""
    w = world()
    channel = channel_header(required=True, scope="orders_write")
    body = json_body()
    errors = w.validator.request_errors("Orders.CancelShipmentsModel", body)
    if not errors and not body.get("shipment_ids"):
        errors = {"shipment_ids": ["The shipment_ids field is required."]}
    if errors:
        raise field_map(errors, 422)  # the spec declares no 400 here, only 422
    results = []
    with w.lock:
        for sid in body["shipment_ids"]:
            s = w.orders.shipments.get(sid)
            if s is None or w.orders.orders[s.order_id].channel_id != channel.id:
                reason = f"Shipment {sid} was not found."
            else:
                reason = w.orders.not_cancellable(s)
                if reason is None:
                    w.orders.cancel_shipment(s)
            results.append({"shipment_id": sid, "is_success": reason is None,
                            "reason": reason or "Shipment cancelled", "action": "Cancel"})
    return {"results": results}


@bp.post("/shipment:batchUpdateTrackingUpload")
def batch_update_tracking_upload():
    w = world()
    body = json_body()
    if w.validator.request_errors("Orders.BulkUpdateTrackingUploadModel", body) \
            or not body.get("shipment_ids"):
        # The spec declares this 400 as a bare JSON string.
        raise ApiError(400, "shipment_ids must be a non-empty list of shipment ids")
    flag = bool(body.get("is_tracking_uploaded"))
    results = []
    with w.lock:
        for sid in body["shipment_ids"]:
            s = w.orders.shipments.get(sid)
            if s is not None:
                s.is_tracking_uploaded = flag
            results.append({"shipmentId": sid, "isSuccess": s is not None,
                            "error": None if s else {"code": "NotFound",
                                                     "message": f"Shipment {sid} was not found"}})
    ok = sum(r["isSuccess"] for r in results)
    return {"results": results,
            "summary": {"total": len(results), "successful": ok, "failed": len(results) - ok}}
