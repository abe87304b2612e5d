"""Fulfillment names: a stand-in invention (no public IFS API registers a
3PL delivery): a bound, ETag-protected action on the customer order that
registers a delivery (raises QtyShipped) and creates a voucher that is then
updated by PATCH for tracking and delivery."""

from __future__ import annotations

from connector.ifs.names._base import Strict
from connector.ifs.needs import Needs

_FULFILLMENT_PARAMS = ("ExternalRef", "ShipmentRef", "Carrier", "TrackingNo", "TrackingUrl",
                       "ShipDate", "Lines")
_VOUCHER_FIELDS = ("ExternalRef", "Carrier", "TrackingNo", "TrackingUrl", "DeliveredDate")


class FulfillmentNames(Strict):
    action: str = "CustomerOrder_RegisterFulfillment"
    voucher_projection: str = "FulfillmentVoucherHandling"
    voucher_set: str = "FulfillmentVoucherSet"
    voucher_key: str = "VoucherNo"
    # The voucher's lines: a collection navigation, so never in a collection
    # read (IFS expands one-to-one navigations only, ifs-cloud.md §8).
    voucher_lines_nav: str = "FulfillmentVoucherLineArray"
    voucher_line_qty_field: str = "Qty"

    def declare(self, needs: Needs, order_projection: str, order_set: str) -> None:
        needs.at(order_projection).action(order_set, self.action, _FULFILLMENT_PARAMS)
        vouchers = needs.at(self.voucher_projection)
        vouchers.entity_set(self.voucher_set, keys=(self.voucher_key,), props=_VOUCHER_FIELDS)
        vouchers.navigation(self.voucher_set, self.voucher_lines_nav, (self.voucher_line_qty_field,))
