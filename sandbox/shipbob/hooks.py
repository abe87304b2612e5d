"""Test hooks under /_sandbox/ (no auth): play the warehouse, the carrier and the network.

POST /_sandbox/reset                           forget everything
POST /_sandbox/seed                            {"skus": [...]} | {"count": N, "seed": S},
                                               "levels": {"<sku>": {"<fc id>": qty}},
                                               "level_range": [lo, hi] (random default 0..200)
POST /_sandbox/oauth/code                      {"redirect_uri", "code_challenge", "scope"?,
                                               "client_id"?} -> {"code"} (PKCE S256)
POST /_sandbox/orders/{id}/ship                {"shipments": [[{"sku", "quantity"}], ...],
                                               "with_tracking": true}
POST /_sandbox/shipments/{id}/tracking         {"carrier"?, "carrier_service"?,
                                               "tracking_number"?, "tracking_url"?}
POST /_sandbox/orders/{id}/cancel              the merchant cancels it in ShipBob's dashboard:
                                               the API's rules, but no webhook
POST /_sandbox/shipments/{id}/cancel           the same for one shipment
POST /_sandbox/shipments/{id}/pick            the warehouse picks it: no cancel/edit after
POST /_sandbox/shipments/{id}/pack            packs it (picking it first if need be)
POST /_sandbox/shipments/{id}/deliver
POST /_sandbox/shipments/{id}/status           {"status": "Exception|OnHold|Processing",
                                               "reason"?}
POST /_sandbox/returns/{id}/advance            {"status": "Arrived|Processing|Completed",
                                               "actions": [{"inventory_id", "action",
                                               "quantity_processed", "action_reason"?}]}
POST /_sandbox/receiving/{id}/receive          {"items": [{"inventory_id", "received"?,
                                               "stowed"}], "split_into_new_wro": false,
                                               "complete": false}
POST /_sandbox/inventory/adjust                {"inventory_id" | "sku", "fulfillment_center_id",
                                               "quantity_change": +/-n, "reason"?}: a count
                                               correction (InventoryAdjusted event)
GET|POST /_sandbox/faults                      see faults.py; {"clear": true},
                                               {"expire_tokens": true}
POST /_sandbox/webhooks/flush                  {"fast_forward": false}
GET  /_sandbox/stats
GET  /_sandbox/dump/{orders|shipments|receiving|returns|webhook_deliveries|
                     webhook_messages|subscriptions|inventory|inventory_history}

Hook misuse answers 400 {"error"}; a state that forbids the step answers 409 {"error"}.
"""

from __future__ import annotations

from flask import Blueprint, request

from . import products
from .errors import ApiError, conflict
from .web import world

bp = Blueprint("sandbox_hooks", __name__)


def _body() -> dict:
    body = request.get_json(silent=True, force=True) if request.data else {}
    if not isinstance(body, dict):
        raise ApiError(400, {"error": "the body must be a JSON object"})
    return body


@bp.errorhandler(KeyError)
@bp.errorhandler(TypeError)
@bp.errorhandler(ValueError)
def _bad_input(exc):
    return {"error": f"bad hook input: {exc!r}"}, 400


@bp.post("/reset")
def reset():
    world().reset()
    return {"ok": True}


@bp.post("/seed")
def seed():
    w, body = world(), _body()
    with w.lock:
        return products.seed(w, skus=body.get("skus"), count=int(body.get("count") or 0),
                             seed_value=int(body.get("seed", 1)), levels=body.get("levels"),
                             level_range=tuple(body.get("level_range") or (0, 200)))


@bp.post("/oauth/code")
def oauth_code():
    w, body = world(), _body()
    code = w.tokens.mint_code(body.get("client_id") or w.config.oauth_client_id,
                              body["redirect_uri"], body["code_challenge"],
                              body.get("scope", "orders_read orders_write offline_access"))
    return {"code": code}


@bp.post("/orders/<int:order_id>/ship")
def ship(order_id: int):
    w, body = world(), _body()
    with w.lock:
        order = w.orders.get(order_id)
        w.fulfillment.ship(order, body.get("shipments"), bool(body.get("with_tracking", True)))
        return w.orders.order_view(order)


@bp.post("/orders/<int:order_id>/cancel")
def cancel_in_dashboard(order_id: int):
    """`order.shipment.cancelled` does not fire for manual cancellations (shipbob.md §6)."""
    w = world()
    with w.lock:
        order = w.orders.get(order_id)
        try:
            return w.orders.cancel(order, notify=False)
        except ApiError as exc:  # the API's refusal (422), as a hook's: 409
            raise conflict(" ".join(m for ms in exc.body.values() for m in ms)) from None


@bp.post("/shipments/<int:shipment_id>/cancel")
def cancel_shipment_in_dashboard(shipment_id: int):
    w = world()
    with w.lock:
        s = w.orders.get_shipment(shipment_id)
        refused = w.orders.not_cancellable(s)
        if refused:
            raise conflict(refused)
        w.orders.cancel_shipment(s, notify=False)
        return w.orders.shipment_view(s)


@bp.post("/shipments/<int:shipment_id>/tracking")
def tracking(shipment_id: int):
    w, body = world(), _body()
    with w.lock:
        s = w.orders.get_shipment(shipment_id)
        w.fulfillment.add_tracking(s, body)
        return w.orders.shipment_view(s)


@bp.post("/shipments/<int:shipment_id>/pick")
def pick(shipment_id: int):
    w = world()
    with w.lock:
        s = w.orders.get_shipment(shipment_id)
        w.fulfillment.pick(s)
        return w.orders.shipment_view(s)


@bp.post("/shipments/<int:shipment_id>/pack")
def pack(shipment_id: int):
    w = world()
    with w.lock:
        s = w.orders.get_shipment(shipment_id)
        w.fulfillment.pack(s)
        return w.orders.shipment_view(s)


@bp.post("/inventory/adjust")
def adjust_inventory():
    """A counted correction of on-hand at one FC, as the warehouse would book it."""
    w, body = world(), _body()
    with w.lock:
        variant = (w.catalog.find_inventory(int(body["inventory_id"])) if "inventory_id" in body
                   else w.catalog.by_sku(str(body["sku"])))
        fc = int(body["fulfillment_center_id"])
        change = int(body["quantity_change"])
        if variant is None or w.config.fulfillment_center(fc) is None or change == 0:
            raise ApiError(400, {"error": "need a known inventory_id or sku, a known "
                                          "fulfillment_center_id and a non-zero quantity_change"})
        level = w.levels.at(variant.inventory_id, fc)
        if level.on_hand + change < 0:
            raise conflict(f"{variant.sku} has {level.on_hand} on hand at {fc}; cannot take {-change}")
        level.on_hand += change
        reason = body.get("reason")
        event = w.history.record("InventoryAdjusted", variant.inventory_id, fc, change,
                                 reference=("AdjustmentReason", str(reason)) if reason else None)
        return w.history.view(event)


@bp.post("/shipments/<int:shipment_id>/deliver")
def deliver(shipment_id: int):
    w = world()
    with w.lock:
        s = w.orders.get_shipment(shipment_id)
        w.fulfillment.deliver(s)
        return w.orders.shipment_view(s)


@bp.post("/shipments/<int:shipment_id>/status")
def shipment_status(shipment_id: int):
    w, body = world(), _body()
    with w.lock:
        s = w.orders.get_shipment(shipment_id)
        w.fulfillment.set_status(s, body["status"], body.get("reason"))
        return w.orders.shipment_view(s)


@bp.post("/returns/<int:return_id>/advance")
def advance_return(return_id: int):
    w, body = world(), _body()
    with w.lock:
        r = w.returns.get(return_id)
        w.returns.advance(r, body["status"], body.get("actions") or [])
        return w.returns.view(r)


@bp.post("/receiving/<int:wro_id>/receive")
def receive(wro_id: int):
    w, body = world(), _body()
    with w.lock:
        touched = w.receiving.receive(w.receiving.get(wro_id), body.get("items") or [],
                                      bool(body.get("split_into_new_wro")),
                                      bool(body.get("complete")))
        return {"wros": [w.receiving.view(x) for x in touched]}


@bp.route("/faults", methods=["GET", "POST"])
def faults():
    w = world()
    if request.method == "GET":
        return w.faults.snapshot()
    body = _body()
    if body.get("clear"):
        w.faults.clear()
    if body.get("expire_tokens"):
        w.tokens.expire_all()
    return w.faults.update(body)


@bp.post("/webhooks/flush")
def flush():
    # No world lock here: a receiver may call back into the API while we wait on it.
    return world().dispatcher.flush(fast_forward=bool(_body().get("fast_forward")))


@bp.get("/stats")
def stats():
    w = world()
    return {**w.stats.snapshot(), "webhooks": w.dispatcher.summary()}


@bp.get("/dump/<kind>")
def dump(kind: str):
    w = world()
    with w.lock:
        views = {
            "orders": lambda: [w.orders.order_view(o) for o in w.orders.orders.values()],
            "shipments": lambda: [w.orders.shipment_view(s) for s in w.orders.shipments.values()],
            "receiving": lambda: [{**w.receiving.view(x), "boxes": w.receiving.boxes_view(x)}
                                  for x in w.receiving.wros.values()],
            "returns": lambda: [w.returns.view(r) for r in w.returns.returns.values()],
            "webhook_deliveries": lambda: list(w.dispatcher.attempts),
            "webhook_messages": lambda: [m.view() for m in w.dispatcher.messages],
            "subscriptions": lambda: [s.view() for s in w.webhooks.subscriptions.values()],
            "inventory": lambda: [w.levels.locations_view(v, w.config.fulfillment_centers, None)
                                  | w.levels.total_view(v)
                                  for v in w.catalog.variant_list],
            "inventory_history": lambda: [w.history.view(e) for e in w.history.events],
        }
        if kind not in views:
            return {"error": f"unknown dump {kind!r}; one of {sorted(views)}"}, 404
        return views[kind]()
