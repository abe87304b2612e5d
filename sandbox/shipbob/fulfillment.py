"""What the warehouse and the carrier do to shipments, driven by the /_sandbox hooks.

Picking (status detail Picked, the shipment stays Processing) takes the units off on-hand
and consumes their committed allocation, and records an `OrderPicked` inventory event per
item; packing follows a pick. From then on the shipment cannot be cancelled or edited.
Shipping picks what is not picked yet, marks shipments Completed with tracking and
`actual_fulfillment_date`, and sends `order.shipped` once per shipment with the full
order as body (the legacy topic's documented payload, shipbob.md §6). Delivery, exceptions
and holds send `order.shipment.*` with the shipment as body. Topics the configured API
version does not have (2026-01 has no `order.shipment.tracking.updated`) are not sent.
"""

from __future__ import annotations

from collections import Counter

from . import timeutil
from .errors import conflict
from .orders import OPEN, Order, Shipment

_CARRIERS = [
    ("USPS", "Priority", "9400{:018d}", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}"),
    ("UPS", "Ground", "1Z999AA1{:010d}", "https://www.ups.com/track?tracknum={}"),
    ("FedEx", "Home Delivery", "7{:011d}", "https://www.fedex.com/fedextrack/?trknbr={}"),
]
# Ids and wording of developer.shipbob.com/status-reference where it lists them.
_STATUS_DETAIL = {
    "Picked": (100, "Picking Completed"),
    "Packed": (101, "Packing Completed"),
    "Shipped": (5, "Shipment picked up by the carrier"),
    "Delivered": (9, "Shipment delivered to the recipient"),
    "OutOfStock": (303, "No Stock On Hand For Sku"),
    "OnHold": (201, "Shipment put on hold"),
}


def _detail(name: str, description: str | None = None, inventory_id: int | None = None) -> dict:
    ident, default = _STATUS_DETAIL.get(name, (0, name))
    return {"id": ident, "name": name, "description": description or default,
            "inventory_id": inventory_id, "exception_fulfillment_center_id": None,
            "extra_information": None}


def make_tracking(s: Shipment, given: dict | None = None) -> dict:
    carrier, service, number_fmt, url_fmt = _CARRIERS[s.id % len(_CARRIERS)]
    given = given or {}
    number = given.get("tracking_number") or number_fmt.format(s.id)
    return {"carrier": given.get("carrier") or carrier,
            "carrier_service": given.get("carrier_service") or service,
            "tracking_number": number,
            "tracking_url": given.get("tracking_url") or url_fmt.format(number),
            "shipping_date": given.get("shipping_date") or timeutil.iso(timeutil.now()),
            "bol": None, "pro_number": None, "scac": None}


class Fulfillment:
    def __init__(self, w):
        self.w = w

    @property
    def orders(self):
        return self.w.orders

    def ship(self, order: Order, groups: list[list[dict]] | None, with_tracking: bool) -> None:
        """Ship the order's first Processing shipment, split into one shipment per group
        (the first keeps its id); what no group takes stays behind in a new Processing one."""
        source = next((s for s in self.orders.shipments_of(order) if s.status == "Processing"), None)
        if source is None:
            raise conflict(f"Order {order.id} has no Processing shipment to ship")
        wanted = [self._group_items(g) for g in groups] if groups else [Counter(source.items)]
        left = Counter(source.items)
        for items in wanted:
            left.subtract(items)
        if not all(wanted) or any(q < 0 for q in left.values()):
            raise conflict(f"The shipments must split the {dict(source.items)} of shipment "
                           f"{source.id} (by inventory id) without exceeding it")
        if source.picked is not None and (len(wanted) > 1 or +left):
            raise conflict(f"Shipment {source.id} is picked: it ships whole")
        now = timeutil.now()
        shipped = []
        for i, items in enumerate(wanted):
            s = source if i == 0 else self.orders.add_shipment(order, source.location_id, items,
                                                              now, commit=False)
            s.items = Counter(items)
            if s.picked is None:
                self._pick(s, now)
            self._mark_shipped(s, with_tracking, now)
            shipped.append(s)
        left = +left
        if left:
            self.orders.add_shipment(order, source.location_id, left, now, commit=False)
        order.updated = now
        for s in shipped:  # once per shipment: only Processing ones ever ship (shipbob.md §6)
            self.w.webhooks.emit_order_event("order.shipped", order, s)

    def pick(self, s: Shipment) -> None:
        """The warehouse picked `s` (hook): it can no longer be cancelled or edited."""
        if s.status != "Processing" or s.picked is not None:
            state = "picked" if s.picked is not None else s.status
            raise conflict(f"Shipment {s.id} is {state}; only an unpicked Processing shipment is picked")
        self._pick(s, timeutil.now())
        self.orders.touch(s)

    def pack(self, s: Shipment) -> None:
        """The warehouse packed `s` (hook), picking it first if need be."""
        if s.picked is None:
            self.pick(s)
        elif s.packed is not None or s.status != "Processing":
            raise conflict(f"Shipment {s.id} is {'packed' if s.packed else s.status}; cannot pack it")
        s.packed = timeutil.now()
        s.status_details = [_detail("Packed")]
        self.orders.touch(s, s.packed)

    def _pick(self, s: Shipment, now) -> None:
        """Units leave on-hand for the pick cart, consuming their allocation; one
        `OrderPicked` event per item."""
        for inv, qty in s.items.items():
            lv = self.w.levels.at(inv, s.location_id)
            lv.on_hand -= qty
            lv.committed -= qty
            self.w.history.record("OrderPicked", inv, s.location_id, -qty, committed=-qty,
                                  order_id=s.order_id, reference=("OrderId", str(s.order_id)),
                                  extra=[("ShipmentId", str(s.id))])
        s.picked = now
        s.status_details = [_detail("Picked")]

    def _group_items(self, group: list[dict]) -> Counter:
        items = Counter()
        for entry in group:
            v = self.w.catalog.by_sku(entry.get("sku", ""))
            if v is None:
                raise conflict(f"Unknown SKU {entry.get('sku')!r} in shipments")
            items[v.inventory_id] += int(entry.get("quantity", 0))
        return +items

    def _mark_shipped(self, s: Shipment, with_tracking: bool, now) -> None:
        s.status = "Completed"
        s.status_details = [_detail("Shipped")]
        s.actual_fulfillment_date = now
        s.updated = now
        if with_tracking:
            s.tracking = make_tracking(s)
            s.last_tracking_update = now

    def add_tracking(self, s: Shipment, given: dict | None) -> None:
        if s.status != "Completed":
            raise conflict(f"Shipment {s.id} is {s.status}; only shipped shipments get tracking")
        now = timeutil.now()
        s.tracking = make_tracking(s, given)
        s.last_tracking_update = now
        s.is_tracking_uploaded = False  # new tracking has not been uploaded anywhere yet
        self.orders.touch(s, now)
        self.w.webhooks.emit_order_event("order.shipment.tracking.updated",
                                         self.orders.orders[s.order_id], s)

    def deliver(self, s: Shipment) -> None:
        if s.status != "Completed":
            raise conflict(f"Shipment {s.id} is {s.status}; only shipped shipments are delivered")
        if s.delivery_date is not None:
            raise conflict(f"Shipment {s.id} was already delivered")
        s.delivery_date = timeutil.now()
        s.status_details = s.status_details + [_detail("Delivered")]
        self.orders.touch(s, s.delivery_date)
        order = self.orders.orders[s.order_id]
        self.w.webhooks.emit_order_event("order.shipment.delivered", order, s)
        live = [x for x in self.orders.shipments_of(order) if x.status != "Cancelled"]
        if all(x.delivery_date for x in live):  # 2026-07's order.delivered: all delivered
            self.w.webhooks.emit_order_event("order.delivered", order, s)

    def set_status(self, s: Shipment, status: str, reason: str | None) -> None:
        """Move an open shipment to Exception, OnHold or back to Processing.

        Exception stock is not allocated: it leaves committed for the exception bucket.
        """
        if status not in ("Exception", "OnHold", "Processing"):
            raise conflict(f"Unsupported status {status!r}: use Exception, OnHold or Processing")
        if s.status not in OPEN or s.picked is not None:
            state = s.status if s.status not in OPEN else "picked"
            raise conflict(f"Shipment {s.id} is {state} and can no longer change")
        was_exception, is_exception = s.status == "Exception", status == "Exception"
        if was_exception != is_exception:
            sign = 1 if is_exception else -1
            for inv, qty in s.items.items():
                lv = self.w.levels.at(inv, s.location_id)
                lv.exception += sign * qty
                lv.committed -= sign * qty
        s.status = status
        if is_exception:
            inv = next(iter(s.items), None)
            s.status_details = [_detail(reason or "OutOfStock", inventory_id=inv)]
        elif status == "OnHold":
            s.status_details = [_detail("OnHold", reason)]
        else:
            s.status_details = []
        self.orders.touch(s)
        topic = {"Exception": "order.shipment.exception", "OnHold": "order.shipment.on_hold"}
        if status in topic:
            self.w.webhooks.emit_order_event(topic[status], self.orders.orders[s.order_id], s)
