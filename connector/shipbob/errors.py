"""ShipBob-specific refinements of the connector's error taxonomy
(connector/errors.py, shared/design.md invariant 7)."""

from __future__ import annotations

from connector.errors import PermanentError


class ShipBobNotFound(PermanentError):
    """404: the order, shipment, WRO, return or webhook does not exist."""


class DuplicateReference(PermanentError):
    """422 on `POST /order`: an order with this `reference_id` already exists
    (shipbob.md §4). Not a failure for an idempotent push: look the order up
    with `find_orders_by_reference([exc.reference_id])` and carry on."""

    def __init__(self, message: str, reference_id: str | None, status: int | None = 422,
                 body: object = None):
        super().__init__(message, status=status, body=body)
        self.reference_id = reference_id
