"""`GET /shipping-method`: the merchant's ship option mappings (2026-01 Orders,
developer.shipbob.com/api/orders/get-shipping-methods), from `shipping_methods` in the
config. `service_level.id` is what `shipment:bulkUpdateShippingService` takes."""

from __future__ import annotations

from flask import Blueprint

from . import paging
from .web import arg_int, world

bp = Blueprint("shipping_methods", __name__)


@bp.get("/shipping-method")
def list_shipping_methods():
    w = world()
    page = arg_int("Page", 1, 1, 2**31 - 1)
    limit = arg_int("Limit", 50, 1, 250)
    chunk, _ = paging.numbered(w.config.shipping_methods, page, limit)  # a bare array, like /order
    return [{"id": m.id, "name": m.name, "active": m.active, "default": m.default,
             "service_level": {"id": m.service_level_id, "name": m.service_level_name}}
            for m in chunk]
