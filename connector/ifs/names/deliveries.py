"""Fulfillment names: a stand-in invention (no public IFS API registers a
3PL delivery): a bound, ETag-protected action on the customer order that
registers a delivery (raises QtyShipped) and creates a voucher that is then
updated by PATCH for tracking and delivery. A tenant that delivers another
way (IFS's shipment process) replaces `posting` (docs/posting-example.md)
and points the voucher names at wherever it records the delivery."""

from __future__ import annotations

from connector.ifs.names._base import Strict
from connector.ifs.needs import Needs


class FulfillmentParams(Strict):
    """The delivery action's parameters."""

    external_ref: str = "ExternalRef"  # the ShipBob shipment id: how IFS finds it again
    shipment_ref: str = "ShipmentRef"  # the ShipBob order id
    carrier: str = "Carrier"
    tracking_no: str = "TrackingNo"
    tracking_url: str = "TrackingUrl"
    ship_date: str = "ShipDate"
    lines: str = "Lines"


class FulfillmentLineFields(Strict):
    """The fields of one entry of the action's `lines` collection (a
    complex type): the customer order line key and the quantity delivered."""

    line_no: str = "LineNo"
    rel_no: str = "RelNo"
    line_item_no: str = "LineItemNo"
    qty: str = "Qty"


class VoucherFields(Strict):
    """What the connector reads and writes on a voucher (its key is `voucher_key`)."""

    external_ref: str = "ExternalRef"
    carrier: str = "Carrier"
    tracking_no: str = "TrackingNo"
    tracking_url: str = "TrackingUrl"
    delivered_date: str = "DeliveredDate"


DEFAULT_POSTING = "connector.ifs.deliveries:RegisterFulfillmentAction"


class FulfillmentNames(Strict):
    # The posting step (connector/ifs/deliveries.py: DeliveryPosting), as
    # `package.module:Class`.
    posting: str = DEFAULT_POSTING
    action: str = "CustomerOrder_RegisterFulfillment"
    params: FulfillmentParams = FulfillmentParams()
    line: FulfillmentLineFields = FulfillmentLineFields()
    voucher_projection: str = "FulfillmentVoucherHandling"
    voucher_set: str = "FulfillmentVoucherSet"
    voucher_key: str = "VoucherNo"
    # A numeric key is written unquoted in a key path (e.g. ShipmentId=19).
    voucher_key_numeric: bool = False
    voucher: VoucherFields = VoucherFields()
    # The voucher's lines: a collection navigation, so never in a collection
    # read (IFS expands one-to-one navigations only; README "Voucher lines").
    voucher_lines_nav: str = "FulfillmentVoucherLineArray"
    voucher_line_qty_field: str = "Qty"

    def declare(self, needs: Needs, order_projection: str, order_set: str) -> None:
        if self.posting == DEFAULT_POSTING:
            # A tenant's own posting uses names of its own. The fields inside
            # `params.lines` belong to a complex type, which doctor does not
            # read yet; the parameter itself is checked.
            needs.at(order_projection).action(order_set, self.action, self.params.values())
        vouchers = needs.at(self.voucher_projection)
        vouchers.entity_set(self.voucher_set, keys=(self.voucher_key,), props=self.voucher.values())
        vouchers.navigation(self.voucher_set, self.voucher_lines_nav, (self.voucher_line_qty_field,))
