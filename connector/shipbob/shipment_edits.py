"""Edits to a ShipBob shipment after export, as ShipBob 2026-01 defines them (Orders):
`PUT /shipment/{id}:updateAddress`, `GET /shipment/{id}:getLineItems`,
`POST /shipment/{id}:updateLineItems` (the complete list), `PUT
/shipment:bulkUpdateShippingService`, `GET /shipping-method`. Request bodies, typed
answers, and the error for an edit ShipBob refuses (docs/shipbob-lifecycle.md).

These endpoints answer HTTP 200 when they refuse an update: `is_success: false` with
`error {code, message}` (developer.shipbob.com/api/orders/update-shipment-line-items).
A refused shipment is one already picked, packed or shipped; the caller reads the shipment
to tell which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from connector.errors import PermanentError
from connector.shipbob.errors import ShipBobNotFound
from connector.shipbob.json_fields import integer, mapping, mappings, text


class ShipmentUpdateRefused(PermanentError):
    """ShipBob refused to change or cancel the shipment (`is_success: false`, or a 422 on
    cancel): typically it is picked, packed or shipped. `code` is ShipBob's
    `Orders.ErrorCode` (CONFLICT, VALIDATION_ERROR, ...) where it gave one."""

    def __init__(self, message: str, shipment_id: int, code: str | None, status: int | None = 200,
                 body: object = None):
        super().__init__(message, status=status, body=body)
        self.shipment_id = shipment_id
        self.code = code


@dataclass(frozen=True)
class ShipmentAddress:
    """The ship-to of `Orders.UpdateAddressRequest`. Every field is sent: None clears it."""

    street_address1: str
    city: str
    street_address2: str | None = None
    state: str | None = None
    zip_code: str | None = None
    country_code: str | None = None
    company_name: str | None = None
    recipient_name: str | None = None
    email: str | None = None
    phone_number: str | None = None

    def body(self) -> dict[str, object]:
        if not self.street_address1.strip() or not self.city.strip():
            raise ValueError("a ShipBob address needs street_address1 and city (both required)")
        return {"street_address1": self.street_address1, "street_address2": self.street_address2,
                "city": self.city, "state": self.state, "zip_code": self.zip_code,
                "country_code": self.country_code, "company_name": self.company_name,
                "recipient_name": self.recipient_name, "email": self.email,
                "phone_number": self.phone_number}


@dataclass(frozen=True)
class ShipmentLineItem:
    """One line of `GET /shipment/{id}:getLineItems`."""

    inventory_id: int
    quantity: int
    committed_quantity: int
    sku: str | None
    is_lot: bool


@dataclass(frozen=True)
class LineItemChange:
    """What `:updateLineItems` changed on one line (`action`: AddLineItem, RemoveLineItem,
    ...; the values are ShipBob's strings, the quantities before and after)."""

    action: str | None
    inventory_id: int
    previous_value: str | None
    new_value: str | None


@dataclass(frozen=True)
class ShipmentUpdateResult:
    """One shipment's answer in a bulk update."""

    shipment_id: int
    ok: bool
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class ShippingMethod:
    """A ship option mapping; `service_level_id` is what bulkUpdateShippingService takes."""

    id: int
    name: str | None
    active: bool
    service_level_id: int | None
    service_level_name: str | None


def line_items_body(quantities: Mapping[int, int]) -> dict[str, object]:
    """`Orders.UpdateLineItemsRequest` for the shipment's complete line list."""
    if not quantities:
        raise ValueError("updateLineItems takes the complete list and at least one line; "
                         "cancel the shipment to empty it")
    bad = {inv: q for inv, q in quantities.items() if q < 1}
    if bad:
        raise ValueError(f"line quantities must be at least 1 (leave a line out to remove it): {bad}")
    return {"items": [{"inventory_id": int(inv), "quantity": int(q)} for inv, q in quantities.items()]}


def checked(shipment_id: int, answer: object) -> Mapping[str, object]:
    """The answer of a single-shipment update; raises when ShipBob refused it."""
    body = mapping(answer)
    if body.get("is_success") is True:
        return body
    error = mapping(body.get("error"))
    code, message = text(error.get("code")), text(error.get("message"))
    where = f"ShipBob shipment {shipment_id}"
    if code == "NOT_FOUND":
        raise ShipBobNotFound(f"{where}: not found ({message})", status=200, body=answer)
    raise ShipmentUpdateRefused(f"{where}: update refused ({code}: {message})", shipment_id, code,
                                body=answer)


def changes_of(body: Mapping[str, object]) -> list[LineItemChange]:
    out = []
    for c in mappings(body.get("shipment_line_items")):
        inventory_id = integer(c.get("inventory_id"))
        if inventory_id is not None:
            out.append(LineItemChange(text(c.get("action")), inventory_id,
                                      text(c.get("previous_value")), text(c.get("new_value"))))
    return out


def line_items_of(answer: object) -> list[ShipmentLineItem]:
    items = answer if isinstance(answer, list) else []
    out = []
    for it in mappings(items):
        inventory_id, quantity = integer(it.get("inventory_id")), integer(it.get("quantity"))
        if inventory_id is None or quantity is None:
            continue
        out.append(ShipmentLineItem(inventory_id, quantity, integer(it.get("committed_quantity")) or 0,
                                    text(mapping(it.get("product_variant")).get("sku")),
                                    it.get("is_lot") is True))
    return out


def bulk_results_of(answer: object) -> list[ShipmentUpdateResult]:
    out = []
    for r in mappings(mapping(answer).get("results")):
        shipment_id = integer(r.get("id"))
        if shipment_id is None:
            continue
        error = mapping(r.get("error"))
        out.append(ShipmentUpdateResult(shipment_id, r.get("is_success") is True,
                                        text(error.get("code")), text(error.get("message"))))
    return out


def shipping_methods_of(answer: object) -> list[ShippingMethod]:
    out = []
    for m in mappings(answer if isinstance(answer, list) else mapping(answer).get("items")):
        method_id = integer(m.get("id"))
        if method_id is None:
            continue
        level = mapping(m.get("service_level"))
        out.append(ShippingMethod(method_id, text(m.get("name")), m.get("active") is not False,
                                  integer(level.get("id")), text(level.get("name"))))
    return out
