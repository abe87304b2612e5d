"""The ShipBob Developer API (2026-01) as the connector uses it
(shared/api/shipbob.md §3-§8). Method names are a contract for the flows.

Every call goes through `Transport`: the pool-wide rate limiter, auth,
retries and the error taxonomy. List methods are generators that fetch one
page at a time; list filters take Python lists and bools.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import urlsplit

import requests

from connector.coordination import Coordinator
from connector.errors import PermanentError, TransientError
from connector.json_types import JsonObject
from connector.shipbob.auth import TokenStore, build_auth
from connector.shipbob.json_fields import integer, mapping, mappings
from connector.shipbob.pagination import MAX_PAGES, items_of, linked_pages, numbered_pages
from connector.shipbob.query import chunked, listable
from connector.shipbob.shipment_edits import (
    LineItemChange,
    ShipmentAddress,
    ShipmentLineItem,
    ShipmentUpdateRefused,
    ShipmentUpdateResult,
    ShippingMethod,
    bulk_results_of,
    changes_of,
    checked,
    line_items_body,
    line_items_of,
    shipping_methods_of,
)
from connector.shipbob.stock import HistoryPage, ItemStock, history_event_of, history_query, item_stock_of
from connector.shipbob.transport import Limits, Transport

if TYPE_CHECKING:
    from connector.settings import Settings

# One call of a paged list: its filters -> the items, page after page.
ListFetch = Callable[[Mapping[str, object]], Iterator[JsonObject]]

ORDER_PAGE = 250        # §4: Limit 1-250
RECEIVING_PAGE = 250
RETURN_PAGE = 250
PRODUCT_PAGE = 250      # §5: PageSize 1-250
CHANNEL_PAGE = 250
# Batched look-ups (`SKU=any:a,b`, `ReferenceIds=a,b`, ...): values per call.
BATCH = 50
# How far back a key a list filter cannot carry is looked for, by creation
# date, unless the caller gives that date filter (`StartDate`, ...) itself.
KEY_LOOKBACK = timedelta(days=90)
# Inventory ids per `InventoryIds=` call (one page of PRODUCT_PAGE; chunked()
# also keeps the URL short, about 170 seven-digit ids).
LEVELS_BATCH = PRODUCT_PAGE
# Shipments per bulkUpdateShippingService call (⚠ ShipBob states no limit for it;
# 2026-07's bulk instructions endpoint caps at 250).
SHIPMENT_BATCH = 250


class ShipBobClient:
    def __init__(self, settings: Settings, coordinator: Coordinator, token_store: TokenStore | None = None,
                 session: requests.Session | None = None, limits: Limits | None = None):
        self.settings = settings
        self.coordinator = coordinator
        self.session = session or requests.Session()
        self.auth = build_auth(settings, coordinator, token_store, self.session)
        self.transport = Transport(settings, coordinator, self.auth, self.session, limits)

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    # -- plumbing -------------------------------------------------------------

    def _call(self, method: str, path: str, *, query: Mapping[str, object] | None = None,
              json: object = None, idempotent: bool = True,
              reference_id: str | None = None) -> object:
        resp = self.transport.send(method, path, query=query, json=json,
                                   idempotent=idempotent, reference_id=reference_id)
        return _decode(method, path, resp)

    def _object(self, method: str, path: str, *, json: object = None, idempotent: bool = True,
                reference_id: str | None = None) -> JsonObject:
        """A call whose answer is one JSON object (an order, a WRO, ...)."""
        body = self._call(method, path, json=json, idempotent=idempotent, reference_id=reference_id)
        if not isinstance(body, dict):
            raise TransientError(f"ShipBob {method} {_where(path)}: the answer is not a JSON object "
                                 f"({type(body).__name__})")
        return body

    def _fetch(self, path: str, query: Mapping[str, object] | None) -> tuple[object, Mapping[str, str]]:
        resp = self.transport.send("GET", path, query=query)
        return _decode("GET", path, resp), resp.headers

    def _numbered(self, path: str, filters: Mapping[str, object], *, page_param: str,
                  limit_param: str, default_limit: int) -> Iterator[JsonObject]:
        asked = filters.get(limit_param)
        limit = int(asked) if isinstance(asked, (int, str)) and asked else default_limit
        return numbered_pages(self._fetch, path, filters, page_param=page_param,
                              limit_param=limit_param, limit=limit)

    def _linked(self, path: str, query: Mapping[str, object]) -> Iterator[JsonObject]:
        return linked_pages(self._fetch, path, query, base_url=self.base_url)

    # -- channels and locations (§3) -----------------------------------------

    def channels(self) -> list[JsonObject]:
        """Every channel; pick the one whose `scopes` include `orders_write`."""
        return list(self._linked("channel", {"RecordsPerPage": CHANNEL_PAGE}))

    def fulfillment_centers(self) -> list[JsonObject]:
        return items_of(self._call("GET", "fulfillment-center"))

    # -- orders and shipments (§4) --------------------------------------------

    def create_order(self, body: Mapping[str, Any]) -> JsonObject:
        """POST /order -> 201 order. A duplicate `reference_id` raises
        DuplicateReference: adopt the order via find_orders_by_reference."""
        return self._object("POST", "order", json=body, reference_id=body.get("reference_id"))

    def find_orders_by_reference(self, reference_ids: list[str]) -> list[JsonObject]:
        """The orders whose reference_id is exactly one of `reference_ids`."""
        return list(self.orders(ReferenceIds=list(reference_ids)))

    def orders(self, **filters: object) -> Iterator[JsonObject]:
        """GET /order with §4 filters (ReferenceIds, IDs, HasTracking,
        IsTrackingUploaded, LastUpdateStartDate, ...); Page/Limit handled here.
        ReferenceIds match exactly, whatever characters they hold."""
        return self._by_key(self._orders, filters, "ReferenceIds", "reference_id", "StartDate", unique=True)

    def _orders(self, filters: Mapping[str, object]) -> Iterator[JsonObject]:
        return self._numbered("order", filters, page_param="Page", limit_param="Limit",
                              default_limit=ORDER_PAGE)

    def _by_key(self, fetch: ListFetch, filters: Mapping[str, object],
                param: str, field: str, created_param: str, unique: bool) -> Iterator[JsonObject]:
        """`fetch(filters)`, with the list filter `param` (values of `field`)
        matched exactly. Values a comma-separated list cannot carry
        (query.listable: `K,123` would be asked as `K` and `123`) are found by
        listing what was created since `created_param` (default: the last
        KEY_LOOKBACK) and keeping exact matches."""
        values = filters.get(param)
        if values is None:
            return fetch(filters)
        if isinstance(values, str):
            wanted = [values]
        elif isinstance(values, Iterable):
            wanted = [str(v) for v in values]
        else:
            raise TypeError(f"{param} must be a string or a list of them, not {type(values).__name__}")
        return self._matching(fetch, filters, param, field, created_param, unique, wanted)

    def _matching(self, fetch: ListFetch, filters: Mapping[str, object], param: str, field: str,
                  created_param: str, unique: bool, values: list[str]) -> Iterator[JsonObject]:
        others = {k: v for k, v in filters.items() if k != param}
        for batch in chunked([v for v in values if listable(v)], BATCH):
            wanted = set(batch)
            yield from (item for item in fetch({**others, param: batch}) if item.get(field) in wanted)
        wanted = {v for v in values if not listable(v)}
        if not wanted:
            return
        since = others.get(created_param) or datetime.now(timezone.utc) - KEY_LOOKBACK
        for item in fetch({**others, created_param: since}):
            if item.get(field) in wanted:
                yield item
                if unique:  # one per value: stop listing once every value is found
                    wanted.discard(item.get(field))
                    if not wanted:
                        return

    def get_order(self, order_id: int | str) -> JsonObject:
        return self._object("GET", f"order/{order_id}")

    def order_shipments(self, order_id: int | str) -> list[JsonObject]:
        return items_of(self._call("GET", f"order/{order_id}/shipment"))

    def get_shipment(self, shipment_id: int | str) -> JsonObject:
        return self._object("GET", f"shipment/{shipment_id}")

    def cancel_order(self, order_id: int | str) -> JsonObject:
        """POST /order/{id}:cancel -> {order_id, status, canceled_shipment_results}."""
        return self._object("POST", f"order/{order_id}:cancel")

    def mark_tracking_uploaded(self, shipment_ids: Iterable[int | str]) -> object:
        """shipment:batchUpdateTrackingUpload for the tracking poll (§4)."""
        ids = [int(i) for i in shipment_ids]
        if not ids:
            return None
        return self._call("POST", "shipment:batchUpdateTrackingUpload",
                          json={"shipment_ids": ids, "is_tracking_uploaded": True})

    # -- products and inventory (§5) ------------------------------------------

    def products(self, skus: Iterable[str] | None = None) -> Iterator[JsonObject]:
        """Every product, or those with a variant SKU in `skus` (batched)."""
        if skus is None:
            yield from self._linked("product", {"PageSize": PRODUCT_PAGE})
            return
        skus = [str(s) for s in skus]
        for batch in chunked([s for s in skus if listable(s)], BATCH):
            yield from self._linked("product", {"SKU": "any:" + ",".join(batch),
                                                "PageSize": PRODUCT_PAGE})
        # `SKU=<one sku>` is not a list (§5): one call per SKU the list cannot carry.
        for sku in dict.fromkeys(s for s in skus if s and not listable(s)):
            yield from self._linked("product", {"SKU": sku, "PageSize": PRODUCT_PAGE})

    def variants_by_sku(self, skus: Iterable[str]) -> dict[str, JsonObject]:
        """{sku: variant} for the SKUs ShipBob knows; unknown SKUs are absent.
        One call per ~50 SKUs (`SKU=any:a,b,...`), never one per SKU."""
        wanted = {str(s) for s in skus if s}
        by_fold = {s.casefold(): s for s in wanted}
        found: dict[str, JsonObject] = {}
        for product in self.products(sorted(wanted)):
            for variant in product.get("variants") or []:
                sku = str(variant.get("sku") or "")
                key = sku if sku in wanted else by_fold.get(sku.casefold())
                if key is not None and key not in found:
                    found[key] = variant
        return found

    def inventory_levels(self, inventory_ids: Iterable[int | str] | None = None) -> Iterator[JsonObject]:
        if inventory_ids is None:
            yield from self._linked("inventory-level", {"PageSize": PRODUCT_PAGE})
            return
        for batch in chunked((str(i) for i in inventory_ids), BATCH):
            yield from self._linked("inventory-level", {"InventoryIds": batch,
                                                        "PageSize": PRODUCT_PAGE})

    def inventory_level_locations(self, location_id: int | str | None = None) -> Iterator[JsonObject]:
        """Levels with `locations[]` per fulfillment center (§5)."""
        return self._linked("inventory-level/locations",
                            {"LocationId": location_id, "PageSize": PRODUCT_PAGE})

    # -- receiving / WROs (§5) ------------------------------------------------

    def create_wro(self, body: Mapping[str, Any]) -> JsonObject:
        """POST /receiving. Not retried on an ambiguous failure: check
        `wros(PurchaseOrderNumbers=[po])` before trying again."""
        return self._object("POST", "receiving", json=body, idempotent=False)

    def wros(self, **filters: object) -> Iterator[JsonObject]:
        """GET /receiving (Statuses, ExternalSync, PurchaseOrderNumbers, IDs, ...);
        PurchaseOrderNumbers match exactly (several WROs may share one)."""
        return self._by_key(self._wros, filters, "PurchaseOrderNumbers", "purchase_order_number",
                            "InsertStartDate", unique=False)

    def _wros(self, filters: Mapping[str, object]) -> Iterator[JsonObject]:
        return self._numbered("receiving", filters, page_param="Page", limit_param="Limit",
                              default_limit=RECEIVING_PAGE)

    def get_wro(self, wro_id: int | str) -> JsonObject:
        return self._object("GET", f"receiving/{wro_id}")

    def wro_boxes(self, wro_id: int | str) -> list[JsonObject]:
        return items_of(self._call("GET", f"receiving/{wro_id}/boxes"))

    def set_external_sync(self, ids: Iterable[int | str], value: bool = True) -> object:
        """receiving:setExternalSync once the receipt is booked in IFS (§5)."""
        wro_ids = [int(i) for i in ids]
        if not wro_ids:
            return None
        return self._call("POST", "receiving:setExternalSync",
                          json={"ids": wro_ids, "is_external_sync": bool(value)})

    # -- returns (§5) -----------------------------------------------------------

    def create_return(self, body: Mapping[str, Any]) -> JsonObject:
        """POST /return. Not retried on an ambiguous failure: check
        `returns(ReferenceIds=[ref])` before trying again."""
        return self._object("POST", "return", json=body, idempotent=False)

    def returns(self, **filters: object) -> Iterator[JsonObject]:
        """GET /return (Ids, ReferenceIds, Status, ...); Cursor is the page number.
        ReferenceIds match exactly."""
        return self._by_key(self._returns, filters, "ReferenceIds", "reference_id", "StartDate",
                            unique=True)

    def _returns(self, filters: Mapping[str, object]) -> Iterator[JsonObject]:
        return self._numbered("return", filters, page_param="Cursor", limit_param="Limit",
                              default_limit=RETURN_PAGE)

    def get_return(self, return_id: int | str) -> JsonObject:
        return self._object("GET", f"return/{return_id}")

    def cancel_return(self, return_id: int | str) -> object:
        return self._call("POST", f"return/{return_id}:cancel")

    # -- webhooks (§6) ----------------------------------------------------------
    # Subscriptions live under SHIPBOB_WEBHOOK_API_VERSION, which may be newer
    # than the other calls' version (README "ShipBob webhook topics").

    def create_webhook(self, topics: list[str], url: str, secret: str | None = None,
                       description: str | None = None) -> JsonObject:
        """POST /webhook -> 200 `{id (string), secret, ...}`. Store the secret:
        GET /webhook never returns it."""
        body: dict[str, object] = {"topics": list(topics), "url": url}
        if secret is not None:
            body["secret"] = secret
        if description is not None:
            body["description"] = description
        return self._object("POST", self._webhook_path("webhook"), json=body, idempotent=False)

    def webhooks(self) -> Iterator[JsonObject]:
        base = self._webhook_base()
        return linked_pages(self._fetch, base + "webhook", {"RecordsPerPage": CHANNEL_PAGE},
                            base_url=base)

    def delete_webhook(self, webhook_id: int | str) -> None:
        self._call("DELETE", self._webhook_path(f"webhook/{webhook_id}"))

    def _webhook_base(self) -> str:
        """The versioned base URL of the subscription calls."""
        version = self.settings.shipbob_webhook_api_version
        if not version:
            return self.base_url
        return f"{self.settings.shipbob_base_url.rstrip('/')}/{version}/"

    def _webhook_path(self, path: str) -> str:
        base = self._webhook_base()
        return path if base == self.base_url else base + path

    # -- edits after export and cancellation (2026-01 Orders; docs/shipbob-lifecycle.md) --
    # Each refused once the warehouse has picked the shipment: ShipmentUpdateRefused.

    def shipment_line_items(self, shipment_id: int) -> list[ShipmentLineItem]:
        """GET /shipment/{id}:getLineItems: the shipment's current lines."""
        return line_items_of(self._call("GET", f"shipment/{int(shipment_id)}:getLineItems"))

    def update_shipment_address(self, shipment_id: int, address: ShipmentAddress) -> None:
        """PUT /shipment/{id}:updateAddress. Every field of `address` is sent (None clears)."""
        sid = int(shipment_id)
        checked(sid, self._call("PUT", f"shipment/{sid}:updateAddress", json=address.body()))

    def update_shipment_line_items(self, shipment_id: int,
                                   quantities: Mapping[int, int]) -> list[LineItemChange]:
        """POST /shipment/{id}:updateLineItems with the complete list {inventory_id: quantity}:
        a line left out is removed (ShipBob has no partial update). Lots are left to ShipBob.
        Answers what changed; a replay of the same list changes nothing."""
        sid = int(shipment_id)
        answer = self._call("POST", f"shipment/{sid}:updateLineItems", json=line_items_body(quantities))
        return changes_of(checked(sid, answer))

    def bulk_update_shipping_service(self, shipment_ids: Iterable[int], service_level_id: int,
                                     reason: str) -> list[ShipmentUpdateResult]:
        """PUT /shipment:bulkUpdateShippingService: `service_level_id` is a
        `shipping_methods()` service level. One result per shipment (refusals included,
        never raised); SHIPMENT_BATCH shipments per call."""
        if not reason.strip():
            raise ValueError("bulkUpdateShippingService requires a reason")
        ids = list(dict.fromkeys(int(i) for i in shipment_ids))
        results: list[ShipmentUpdateResult] = []
        for start in range(0, len(ids), SHIPMENT_BATCH):
            answer = self._call("PUT", "shipment:bulkUpdateShippingService", json={
                "shipment_ids": ids[start:start + SHIPMENT_BATCH],
                "requested_shipping_service_id": int(service_level_id), "reason": reason})
            results += bulk_results_of(answer)
        return results

    def shipping_methods(self) -> list[ShippingMethod]:
        """GET /shipping-method: ship option mappings with their service levels."""
        return shipping_methods_of(list(self._numbered(
            "shipping-method", {}, page_param="Page", limit_param="Limit", default_limit=ORDER_PAGE)))

    def cancel_shipment(self, shipment_id: int) -> dict[str, object]:
        """POST /shipment/{id}:cancel -> the cancelled shipment. A shipment found already
        cancelled (a retry after a lost answer) counts as done; one picked, packed or
        shipped raises ShipmentUpdateRefused (ShipBob's 422)."""
        sid = int(shipment_id)
        try:
            return dict(mapping(self._call("POST", f"shipment/{sid}:cancel")))
        except PermanentError as exc:
            if exc.status != 422 or isinstance(exc, ShipmentUpdateRefused):
                raise
            current = mapping(self._call("GET", f"shipment/{sid}"))
            if current.get("status") == "Cancelled":
                return dict(current)
            raise ShipmentUpdateRefused(f"ShipBob shipment {sid}: cancel refused "
                                        f"({current.get('status')}): {exc}", sid, None, status=422,
                                        body=exc.body) from None

    # -- stock truth (2026-01 Inventory) ------------------------------------------------

    def fulfillable_levels(self, inventory_ids: Iterable[int]) -> dict[int, ItemStock]:
        """{inventory_id: ItemStock} per fulfillment center from
        GET /inventory-level/locations?InventoryIds=...: one call for up to LEVELS_BATCH
        items (as many as fit one URL). Ids ShipBob does not know are absent."""
        out: dict[int, ItemStock] = {}
        for batch in chunked((str(int(i)) for i in inventory_ids), LEVELS_BATCH):
            for item in self._linked("inventory-level/locations",
                                     {"InventoryIds": batch, "PageSize": PRODUCT_PAGE}):
                stock = item_stock_of(mapping(item))
                if stock is not None:
                    out[stock.inventory_id] = stock
        return out

    def fulfillable_levels_by_sku(self, skus: Iterable[str]) -> dict[str, ItemStock]:
        """The same keyed by SKU, resolving SKUs first (one products call per ~50 SKUs);
        with inventory ids at hand (connector.sku_lookup), `fulfillable_levels` saves that."""
        ids: dict[str, int] = {}
        for sku, variant in self.variants_by_sku(skus).items():
            inventory_id = integer(mapping(mapping(variant).get("inventory")).get("inventory_id"))
            if inventory_id is not None:
                ids[sku] = inventory_id
        levels = self.fulfillable_levels(ids.values())
        return {sku: levels[i] for sku, i in ids.items() if i in levels}

    def inventory_history(self, facility_id: int, *, cursor: int | None = None,
                          event_category: str | None = None,
                          inventory_ids: Iterable[int] | None = None,
                          start: datetime | None = None,
                          end: datetime | None = None) -> Iterator[HistoryPage]:
        """POST /inventory/history:query at one fulfillment center, page by page, the events
        after `cursor` (an `inventory_audit_event_id`) oldest first. Each page carries the
        cursor to keep once its events are recorded. Without start/end ShipBob looks back
        90 days (its maximum range)."""
        ids = [int(i) for i in inventory_ids] if inventory_ids is not None else None
        for _ in range(MAX_PAGES):
            body = history_query(facility_id, cursor, event_category, ids, start, end)
            answer = mapping(self._call("POST", "inventory/history:query", json=body))
            events = [e for e in (history_event_of(raw, int(facility_id))
                                  for raw in mappings(answer.get("data"))) if e is not None]
            last = events[-1].id if events else cursor
            if events and cursor is not None and last is not None and last <= cursor:
                raise PermanentError(f"ShipBob inventory history: the cursor did not advance past {cursor}")
            more = bool(events) and bool(answer.get("next"))
            yield HistoryPage(events, last, more)
            if not more:
                return
            cursor = last


def _decode(method: str, path: str, resp: requests.Response) -> object:
    if resp.status_code == 204 or not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        raise TransientError(
            f"ShipBob {method} {_where(path)}: HTTP {resp.status_code} with a body that is not JSON") from None


def _where(path: str) -> str:
    """The path of a call, for messages: without host or query."""
    return urlsplit(path).path if "://" in path else "/" + path.split("?", 1)[0].lstrip("/")
