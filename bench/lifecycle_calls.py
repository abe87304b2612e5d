"""What a ShipBob request was for, from its method, path and query alone
(bench/lifecycle.py counts the sandbox's requests with it).

Classifying by the request, not by the code that sent it, keeps the bench
measuring whatever the flows on main do: a flow added later lands in the
row its endpoint belongs to (or in "other: METHOD path" until it gets one).
Paths are ShipBob's 2026-01 API (developer.shipbob.com/2026-01/api); the
version segment is ignored, so subscriptions on 2026-07 count the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

# How a purpose is charged: to each order's life, to the polls (a cost per
# poll run, shared by the orders in the window), or once per installation.
PER_ORDER = "per order"
POLL = "poll"
ONE_OFF = "one-off"

_VERSION = re.compile(r"^/(?:\d{4}-\d{2}|experimental)/")
_ID = r"\d+"


@dataclass(frozen=True)
class Purpose:
    name: str
    charge: str  # PER_ORDER, POLL or ONE_OFF
    poll: str | None = None  # the poll's name in connector/polls.py (beat's "poll-<name>")


@dataclass(frozen=True)
class _Route:
    method: str
    path: re.Pattern[str]
    purpose: Purpose
    query_any: tuple[str, ...] = ()  # matches only with one of these query parameters


def _route(method: str, path: str, name: str, charge: str = PER_ORDER,
           query_any: tuple[str, ...] = (), poll: str | None = None) -> _Route:
    return _Route(method, re.compile(f"^{path}$"), Purpose(name, charge, poll), query_any)


# First match wins: the order list is told apart by its filters.
ROUTES: tuple[_Route, ...] = (
    _route("POST", "order", "order create"),
    _route("GET", "order", "order look-up by reference", query_any=("ReferenceIds",)),
    _route("GET", "order", "poll: changed orders (shipments poll)", POLL,
           query_any=("LastUpdateStartDate", "LastUpdateEndDate"), poll="shipments"),
    _route("GET", "order", "poll: untracked orders (tracking poll)", POLL,
           query_any=("HasTracking", "IsTrackingUploaded"), poll="tracking"),
    _route("GET", "order", "order list (other filters)"),
    _route("GET", f"order/{_ID}", "order read"),
    _route("GET", f"order/{_ID}/shipments?", "order's shipments read"),
    _route("POST", f"order/{_ID}:cancel", "order cancel"),
    _route("GET", f"shipment/{_ID}", "shipment read"),
    _route("GET", f"shipment/{_ID}:getLineItems", "edit: shipment lines read"),
    _route("PUT", f"shipment/{_ID}:updateAddress", "edit: address"),
    _route("POST", f"shipment/{_ID}:updateLineItems", "edit: line items"),
    _route("PUT", "shipment:bulkUpdateShippingService", "edit: shipping service"),
    _route("GET", "shipping-method", "edit: shipping methods read"),
    _route("POST", f"shipment/{_ID}:cancel", "shipment cancel"),
    _route("POST", "shipment:batchUpdateTrackingUpload", "tracking marked uploaded"),
    _route("GET", "product", "SKU look-up"),
    _route("GET", "inventory-level(?:/locations)?", "stock look-up"),
    _route("GET", f"inventory(?:/{_ID})?", "stock look-up"),
    _route("POST", "inventory/history:query", "poll: inventory history", POLL),
    _route("GET", "return", "poll: returns", POLL, poll="returns"),
    _route("GET", "receiving", "WRO look-up by purchase order", query_any=("PurchaseOrderNumbers",)),
    _route("GET", "receiving", "poll: receiving", POLL, poll="receiving"),
    _route("GET", "webhook", "webhook subscription", ONE_OFF),
    _route("POST", "webhook", "webhook subscription", ONE_OFF),
    _route("DELETE", f"webhook/{_ID}", "webhook subscription", ONE_OFF),
    _route("GET", "channel", "channels and locations", ONE_OFF),
    _route("GET", "fulfillment-center", "channels and locations", ONE_OFF),
)

TOKEN = Purpose("OAuth token", ONE_OFF)


def purpose(method: str, path: str, query: str = "") -> Purpose | None:
    """The purpose of one request to the ShipBob API; None for the sandbox's
    own /_sandbox hooks (the bench playing the warehouse, not the connector)."""
    if path.startswith("/_sandbox"):
        return None
    if path.startswith("/connect/"):
        return TOKEN
    resource = _VERSION.sub("", path, count=1).strip("/")
    params = parse_qs(query, keep_blank_values=True)
    for route in ROUTES:
        if route.method != method.upper() or not route.path.match(resource):
            continue
        if route.query_any and not any(p in params for p in route.query_any):
            continue
        return route.purpose
    template = re.sub(r"/\d+", "/{id}", resource)
    return Purpose(f"other: {method.upper()} /{template}", PER_ORDER)
