"""Customer order names: confirmed from public code calling real tenants
(CustomerOrderHandling, ifs-entity-fields.json), except where marked; the
line cancellation (`line_cancel`: action, parameters, line fields) is a
stand-in invention."""

from __future__ import annotations

from connector.ifs.names._base import Strict
from connector.ifs.needs import Needs


class OrderFields(Strict):
    order_no: str = "OrderNo"
    site: str = "Contract"
    state: str = "Objstate"
    ship_via: str = "ShipViaCode"
    date_entered: str = "DateEntered"


class OrderLineFields(Strict):
    order_no: str = "OrderNo"
    line_no: str = "LineNo"
    rel_no: str = "RelNo"
    line_item_no: str = "LineItemNo"
    part_no: str = "PartNo"
    description: str = "CatalogDesc"
    site: str = "Contract"
    qty_due: str = "BuyQtyDue"
    qty_shipped: str = "QtyShipped"
    qty_returned: str = "QtyReturned"
    state: str = "Objstate"


class AddressFields(Strict):
    order_no: str = "OrderNo"
    name: str = "Name"
    address1: str = "Address1"
    address2: str = "Address2"
    city: str = "City"
    state: str = "State"
    zip_code: str = "ZipCode"
    country: str = "Country"
    email: str = "EmailAddress"
    phone: str = "PhoneNo"


class LineCancelParams(Strict):
    """The line cancellation action's parameters."""

    reason: str = "CancelReason"
    lines: str = "Lines"


class LineCancelFields(Strict):
    """The fields of one entry of the action's `lines` collection (a
    complex type): the order line key and the quantity to cancel."""

    line_no: str = "LineNo"
    rel_no: str = "RelNo"
    line_item_no: str = "LineItemNo"
    qty: str = "Qty"


DEFAULT_LINE_CANCEL = "connector.ifs.customer_orders:CancelLinesAction"


class LineCancelNames(Strict):
    """Cancelling order lines a ShipBob cancellation left open: a stand-in
    invention (no public IFS API cancels customer order lines; IFS's own
    Cancel Order Line dialog is not documented for OData). A bound,
    ETag-protected action on the customer order that cancels the given
    quantity of each line. A tenant that cancels another way (a state
    event per line, a PATCH of the quantity) replaces `posting`."""

    # The posting step (connector/ifs/customer_orders.py: LineCancelling),
    # as `package.module:Class`.
    posting: str = DEFAULT_LINE_CANCEL
    action: str = "CustomerOrder_CancelLines"
    # The cancel reason code sent with it; None sends none.
    reason: str | None = None
    params: LineCancelParams = LineCancelParams()
    line: LineCancelFields = LineCancelFields()

    def declare(self, needs: Needs, projection: str, order_set: str) -> None:
        if self.posting == DEFAULT_LINE_CANCEL:  # a tenant's own posting uses names of its own
            params = self.params.values() if self.reason else (self.params.lines,)
            needs.at(projection).action(order_set, self.action, params)


class CustomerOrderNames(Strict):
    projection: str = "CustomerOrderHandling"
    order_set: str = "CustomerOrderSet"
    line_set: str = "CustomerOrderLineSet"
    lines_nav: str = "OrderLinesArray"
    address_set: str = "CustomerOrderAddresses"  # seen once in public code
    state_enum: str = "CustomerOrderState"
    released_state: str = "Released"
    cancelled_state: str = "Cancelled"
    # The lines' state enum (not publicly confirmed) and its states whose
    # lines are no longer fulfilled.
    line_state_enum: str = "CustomerOrderLineState"
    closed_line_states: tuple[str, ...] = ("Cancelled", "Delivered", "Invoiced")
    # Where the ShipBob order id is written back (a custom field, Cf_ prefix).
    shipbob_id_field: str = "Cf_Shipbob_Order_Id"
    changed_field: str = "DateEntered"
    order: OrderFields = OrderFields()
    line: OrderLineFields = OrderLineFields()
    address: AddressFields = AddressFields()
    line_cancel: LineCancelNames = LineCancelNames()

    def declare(self, needs: Needs) -> None:
        orders = needs.at(self.projection)
        orders.entity_set(self.order_set, keys=(self.order.order_no,),
                          props=(*self.order.values(), self.shipbob_id_field, self.changed_field))
        orders.navigation(self.order_set, self.lines_nav, self.line.values())
        orders.entity_set(self.line_set, props=(self.line.order_no, self.line.part_no))
        orders.entity_set(self.address_set, props=self.address.values())
        orders.enum(self.state_enum, self.released_state, self.cancelled_state)
        orders.enum(self.line_state_enum, *self.closed_line_states)
        self.line_cancel.declare(needs, self.projection, self.order_set)
