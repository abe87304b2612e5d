"""Every IFS name the connector reads or sends: the mapping's `ifs:` section.

IFS projection, entity-set, field and action names differ between releases
and tenants, and the delivery, RMA, receipt, supply-planning and counting ones are not
publicly documented (README: "IFS names you must check per tenant"). One module per business entity; the
gateways (connector/ifs/<entity>.py) are the only code that uses them.
Defaults match the local IFS sandbox's seeded tenant; `ifs-shipbob doctor`
checks them against a tenant's `$metadata`.
"""

from __future__ import annotations

from connector.ifs.names._base import Strict
from connector.ifs.names.customer_orders import CustomerOrderNames
from connector.ifs.names.deliveries import FulfillmentNames
from connector.ifs.names.inventory_activity import InventoryActivityNames
from connector.ifs.names.purchasing import PurchaseNames
from connector.ifs.names.returns import ReturnNames
from connector.ifs.names.stock import StockNames
from connector.ifs.needs import Needs

__all__ = ["IfsNames", "CustomerOrderNames", "FulfillmentNames", "PurchaseNames", "ReturnNames",
           "StockNames", "InventoryActivityNames"]


class IfsNames(Strict):
    prefix: str = "main"
    customer_order: CustomerOrderNames = CustomerOrderNames()
    fulfillment: FulfillmentNames = FulfillmentNames()
    returns: ReturnNames = ReturnNames()
    purchase: PurchaseNames = PurchaseNames()
    stock: StockNames = StockNames()
    inventory_activity: InventoryActivityNames = InventoryActivityNames()

    def needs(self) -> Needs:
        needs = Needs()
        self.customer_order.declare(needs)
        self.fulfillment.declare(needs, self.customer_order.projection, self.customer_order.order_set)
        self.returns.declare(needs)
        self.purchase.declare(needs)
        self.stock.declare(needs)
        self.inventory_activity.declare(needs)
        return needs
