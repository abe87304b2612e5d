"""The one place where dependencies are wired (Cosmic Python's bootstrap).

Tasks, the CLI, the demo and tests build a Context and hand it to the same
flow functions.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from connector.db.session import session_scope
from connector.ifs.names import IfsNames
from connector.mapping import Mapping
from connector.settings import Settings, load_settings

if TYPE_CHECKING:  # imported lazily: a worker loads only the clients it uses
    from connector.coordination import Coordinator
    from connector.ifs.client import IfsClient
    from connector.ifs.customer_orders import CustomerOrders
    from connector.ifs.deliveries import Deliveries
    from connector.ifs.inventory_activity import InventoryActivities
    from connector.ifs.purchasing import Purchasing
    from connector.ifs.returns import Returns
    from connector.ifs.stock import Stock
    from connector.shipbob.client import ShipBobClient


@dataclass
class Context:
    settings: Settings

    @property
    def mapping(self) -> Mapping:
        return self.settings.mapping

    @property
    def names(self) -> IfsNames:
        return self.settings.mapping.ifs

    def session(self) -> AbstractContextManager[Session]:
        return session_scope(self.settings.database_url, self.settings.database_statement_timeout_seconds)

    @functools.cached_property
    def coordinator(self) -> Coordinator:
        from connector.coordination import coordinator_for

        return coordinator_for(self.settings)

    @functools.cached_property
    def ifs(self) -> IfsClient:
        from connector.ifs.client import IfsClient

        return IfsClient(self.settings, self.coordinator)

    @functools.cached_property
    def shipbob(self) -> ShipBobClient:
        from connector.shipbob.client import ShipBobClient

        return ShipBobClient(self.settings, self.coordinator)

    # ------------------------------------------------- IFS gateways (typed)

    @functools.cached_property
    def customer_orders(self) -> CustomerOrders:
        from connector.ifs.customer_orders import CustomerOrders

        return CustomerOrders(self.ifs, self.names.customer_order)

    @functools.cached_property
    def inventory_activity(self) -> InventoryActivities:
        from connector.ifs.inventory_activity import InventoryActivities

        return InventoryActivities(self.ifs, self.names.inventory_activity)

    @functools.cached_property
    def deliveries(self) -> Deliveries:
        from connector.ifs.deliveries import Deliveries

        return Deliveries(self.ifs, self.names.fulfillment, self.names.customer_order)

    @functools.cached_property
    def returns(self) -> Returns:
        from connector.ifs.returns import Returns

        return Returns(self.ifs, self.names.returns)

    @functools.cached_property
    def purchasing(self) -> Purchasing:
        from connector.ifs.purchasing import Purchasing

        return Purchasing(self.ifs, self.names.purchase)

    @functools.cached_property
    def stock(self) -> Stock:
        from connector.ifs.stock import Stock

        return Stock(self.ifs, self.names.stock)


@functools.lru_cache(maxsize=1)
def default_context() -> Context:
    """The process-wide context for workers and the receiver."""
    return Context(load_settings())
