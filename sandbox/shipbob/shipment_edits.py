"""Edits to a shipment the warehouse has not picked yet (2026-01, Orders):

- `PUT /shipment/{id}:updateAddress`        (developer.shipbob.com/api/orders/update-shipment-address)
- `GET /shipment/{id}:getLineItems`         (…/api/orders/get-shipment-line-items)
- `POST /shipment/{id}:updateLineItems`     (…/api/orders/update-shipment-line-items): the
  complete list, "partial updates are not supported": a line left out is removed
- `PUT /shipment:bulkUpdateShippingService` (…/api/orders/bulk-update-shipping-service):
  `requested_shipping_service_id` is a `service_level.id` of `GET /shipping-method`

As ShipBob documents for updateLineItems, a refused update answers HTTP 200 with
`is_success: false` and `error {code, message}`; a 400 `Orders.ErrorResponse`
(`INVALID_PARAMETER`) is for a body that is missing or breaks the schema. A shipment that is
picked, packed, shipped or cancelled is refused with `CONFLICT` (⚠ ShipBob names no code for
it; the spec's enum has CONFLICT), an unknown one with `NOT_FOUND`, a rule broken with
`VALIDATION_ERROR`. Stock follows the edit (committed, or exception for an Exception
shipment), and 2026-07 sends `order.shipment.address.updated`,
`order.shipment.line_item.added|removed|updated` (one message per kind of change) and
`order.shipment.shipping_service.updated` with the shipment as body (⚠ unpublished bodies).
"""

from __future__ import annotations

from collections import Counter

from flask import Blueprint, request

from . import timeutil
from .errors import ApiError
from .orders import OPEN, Line, Order, Shipment
from .web import channel_header, world

bp = Blueprint("shipment_edits", __name__)

# updateAddress body field -> (recipient part, field there); absent keeps, null/"" clears.
_ADDRESS_FIELDS = {
    "street_address1": ("address", "address1"), "street_address2": ("address", "address2"),
    "city": ("address", "city"), "state": ("address", "state"),
    "zip_code": ("address", "zip_code"), "country_code": ("address", "country"),
    "company_name": ("address", "company_name"), "recipient_name": ("", "name"),
    "email": ("", "email"), "phone_number": ("", "phone_number"),
}
_LINE_TOPICS = {"AddLineItem": "order.shipment.line_item.added",
                "RemoveLineItem": "order.shipment.line_item.removed",
                "UpdateLineItem": "order.shipment.line_item.updated"}


def _error(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def _invalid(message: str) -> ApiError:
    return ApiError(400, _error("INVALID_PARAMETER", message))


def _body(schema: str) -> dict:
    """The JSON body, checked against `schema`; otherwise a 400 Orders.ErrorResponse."""
    body = request.get_json(silent=True, force=True) if request.data else None
    if not isinstance(body, dict):
        raise _invalid("Request body is invalid or missing required fields")
    errors = world().validator.request_errors(schema, body)
    if errors:
        raise _invalid("; ".join(f"{field or 'body'}: {' '.join(messages)}"
                                 for field, messages in errors.items()))
    return body


def _result(shipment_id: int, error: dict | None = None, **extra) -> dict:
    return {"id": shipment_id, "is_success": error is None, "error": error, **extra}


def _refusal(s: Shipment | None, shipment_id: int) -> dict | None:
    """Why `s` cannot be edited, as an Orders.ErrorResponse, or None."""
    if s is None:
        return _error("NOT_FOUND", f"Shipment {shipment_id} was not found")
    if s.status not in OPEN:
        return _error("CONFLICT", f"Shipment {s.id} is {s.status} and can no longer be updated")
    if s.picked is not None:
        stage = "packed" if s.packed else "picked"
        return _error("CONFLICT", f"Shipment {s.id} is already {stage} and can no longer be updated")
    return None


def _find(shipment_id: int) -> Shipment | None:
    """The shipment, None when unknown or another channel's (header optional)."""
    w = world()
    channel = channel_header(required=False)
    s = w.orders.shipments.get(shipment_id)
    if s is None or (channel is not None and w.orders.orders[s.order_id].channel_id != channel.id):
        return None
    return s


# -- address ----------------------------------------------------------------------------------

def update_address(w, s: Shipment, body: dict) -> None:
    order = w.orders.orders[s.order_id]
    current = s.recipient or order.body["recipient"]
    recipient = dict(current)
    address = dict(current.get("address") or {})
    for key, (part, name) in _ADDRESS_FIELDS.items():
        if key in body:
            (address if part else recipient)[name] = body[key] or None
    recipient["address"] = address
    s.recipient = recipient
    w.orders.touch(s)
    w.webhooks.emit_order_event("order.shipment.address.updated", order, s)


@bp.put("/shipment/<int:shipment_id>:updateAddress")
def update_shipment_address(shipment_id: int):
    w = world()
    body = _body("Orders.UpdateAddressRequest")
    with w.lock:
        s = _find(shipment_id)
        refused = _refusal(s, shipment_id)
        if refused is None:
            update_address(w, s, body)
        return _result(shipment_id, refused)


# -- line items -------------------------------------------------------------------------------

def line_items_view(w, s: Shipment) -> list[dict]:
    out = []
    for inv, qty in s.items.items():
        v = w.catalog.find_inventory(inv)
        out.append({"inventory_id": inv, "quantity": qty,
                    "committed_quantity": qty if s.holds_committed else 0,
                    "is_hazmat": False, "is_lot": bool(v and v.is_lot), "lot": None,
                    "product_variant": {"id": v.id if v else 0, "name": v.name if v else None,
                                        "sku": v.sku if v else None},
                    "serial_numbers": []})
    return out


def _line_errors(w, s: Shipment, items: list[dict]) -> list[str]:
    problems, seen = [], set()
    for i, it in enumerate(items):
        inv = it["inventory_id"]
        if inv in seen:
            problems.append(f"items[{i}]: inventory {inv} is listed twice")
        seen.add(inv)
        if w.catalog.find_inventory(inv) is None:
            problems.append(f"items[{i}]: inventory {inv} does not exist")
        if it["quantity"] < 1:
            problems.append(f"items[{i}]: quantity must be at least 1 (leave a line out to remove it)")
        fc = it.get("fulfillment_center_id")
        if fc is not None and fc != s.location_id:
            problems.append(f"items[{i}]: fulfillment_center_id {fc} is not the shipment's ({s.location_id})")
    if len({bool(it.get("is_manually_assigned_lot")) for it in items}) > 1:
        problems.append("is_manually_assigned_lot must be the same on every line item")
    return problems


def update_line_items(w, s: Shipment, items: list[dict]) -> list[dict]:
    """Replace the shipment's lines with `items`; answers the changes made."""
    wanted = Counter({it["inventory_id"]: it["quantity"] for it in items})
    order = w.orders.orders[s.order_id]
    changes = []
    for inv in list(dict.fromkeys([*s.items, *wanted])):
        before, after = s.items.get(inv, 0), wanted.get(inv, 0)
        if before == after:
            continue
        action = "AddLineItem" if not before else "RemoveLineItem" if not after else "UpdateLineItem"
        changes.append({"action": action, "inventory_id": inv,
                        "previous_value": str(before) if before else None,
                        "new_value": str(after) if after else None})
        w.orders.release(s, inv, before - after)
        _resize_order_lines(w, order, inv, after - before)
    s.items = wanted
    if changes:
        w.orders.touch(s)
        for action in dict.fromkeys(c["action"] for c in changes):
            w.webhooks.emit_order_event(_LINE_TOPICS[action], order, s)
    return changes


def _resize_order_lines(w, order: Order, inventory_id: int, delta: int) -> None:
    """The order's own lines follow the shipment: grow the first line of the item (or add
    one), shrink its lines from the last."""
    lines = [ln for ln in order.lines if ln.inventory_id == inventory_id]
    if delta > 0:
        if lines:
            lines[0].quantity += delta
        else:
            v = w.catalog.find_inventory(inventory_id)
            order.lines.append(Line(product_id=v.product_id, inventory_id=inventory_id, sku=v.sku,
                                    name=v.name, quantity=delta, reference_id=v.sku,
                                    gtin=v.gtin, upc=v.upc))
        return
    for ln in reversed(lines):
        take = min(ln.quantity, -delta)
        ln.quantity -= take
        delta += take


@bp.get("/shipment/<int:shipment_id>:getLineItems")
def get_line_items(shipment_id: int):
    w = world()
    with w.lock:
        s = _find(shipment_id)
        if s is None:
            raise ApiError(404, _error("NOT_FOUND", "Shipment not found"))
        return line_items_view(w, s)


@bp.post("/shipment/<int:shipment_id>:updateLineItems")
def update_shipment_line_items(shipment_id: int):
    w = world()
    body = _body("Orders.UpdateLineItemsRequest")  # an empty list breaks minItems: 400
    with w.lock:
        s = _find(shipment_id)
        refused = _refusal(s, shipment_id)
        if refused is None:
            problems = _line_errors(w, s, body["items"])
            if problems:
                refused = _error("VALIDATION_ERROR", "; ".join(problems))
        if refused is not None:
            return _result(shipment_id, refused, shipment_line_items=None)
        return _result(shipment_id, shipment_line_items=update_line_items(w, s, body["items"]))


# -- shipping service -------------------------------------------------------------------------

@bp.put("/shipment:bulkUpdateShippingService")
def bulk_update_shipping_service():
    w = world()
    body = _body("Orders.BulkUpdateShippingServiceRequest")  # no shipment ids: 400
    method = w.config.shipping_service(body["requested_shipping_service_id"])
    if method is None or not method.active:
        raise _invalid(f"requested_shipping_service_id {body['requested_shipping_service_id']} "
                       "is not an active shipping service of this account")
    results = []
    with w.lock:
        for sid in dict.fromkeys(body["shipment_ids"]):
            s = _find(sid)
            refused = _refusal(s, sid)
            if refused is None:
                s.ship_option = method.name
                w.orders.touch(s, timeutil.now())
                w.webhooks.emit_order_event("order.shipment.shipping_service.updated",
                                            w.orders.orders[s.order_id], s)
            results.append(_result(sid, refused))
    ok = sum(r["is_success"] for r in results)
    return {"results": results,
            "summary": {"total": len(results), "successful": ok, "failed": len(results) - ok}}
