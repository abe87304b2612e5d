"""Everything the stand-in knows, in memory, behind one lock.

Handlers take `world.lock` (re-entrant) around each read or change, so a request sees and
leaves a consistent state; webhook sends happen outside it, on the dispatcher's threads.
`reset()` forgets all data, tokens, faults, counters and queued webhooks.
"""

from __future__ import annotations

import threading

from .auth import Tokens
from .delivery import Dispatcher
from .faults import Faults
from .fulfillment import Fulfillment
from .history import InventoryHistory
from .inventory import Levels
from .orders import Orders
from .products import Catalog
from .ratelimit import SlidingWindowLimiter
from .receiving import Receiving
from .returns import Returns
from .stats import Stats
from .webhooks import Webhooks


class Ids:
    """Numeric ids per kind, in ShipBob-like ranges (all fit int32 as the spec declares)."""

    _FIRST = {"product": 5_000_001, "variant": 6_000_001, "inventory": 8_000_001,
              "order": 300_000_001, "shipment": 400_000_001, "wro": 900_001,
              "box": 50_000_001, "return": 2_000_001, "webhook": 10_001, "status_history": 1,
              "audit_event": 70_000_001}

    def __init__(self):
        self._lock = threading.Lock()
        self._next = dict(self._FIRST)

    def next(self, kind: str) -> int:
        with self._lock:
            value = self._next[kind]
            self._next[kind] = value + 1
            return value


class World:
    def __init__(self, config, validator):
        self.config = config
        self.validator = validator
        self.lock = threading.RLock()
        self.faults = Faults(config.random_seed)
        self.stats = Stats()
        self.limiter = SlidingWindowLimiter(config.rate_limit_per_minute, config.rate_window_seconds)
        self.dispatcher = Dispatcher(config, self.faults)
        self.fulfillment = Fulfillment(self)
        self.tokens = Tokens(config)
        self._fresh_data()

    def _fresh_data(self) -> None:
        self.ids = Ids()
        self.catalog = Catalog(self.ids)
        self.levels = Levels()
        self.history = InventoryHistory(self)
        self.orders = Orders(self)
        self.receiving = Receiving(self)
        self.returns = Returns(self)
        self.webhooks = Webhooks(self, self.dispatcher)

    def reset(self) -> None:
        with self.lock:
            self._fresh_data()
            self.tokens = Tokens(self.config)
            self.dispatcher.clear()
            self.faults.clear()
            self.stats.clear()
            self.limiter.clear()

    def close(self) -> None:
        self.dispatcher.close()
