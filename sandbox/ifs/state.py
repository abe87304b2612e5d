"""One sandbox instance: configuration, model, data, tokens, faults, stats."""

from __future__ import annotations

from sandbox.ifs.auth import TokenIssuer
from sandbox.ifs.config import IfsSandboxConfig
from sandbox.ifs.faults import Faults, Stats
from sandbox.ifs.model import build_model
from sandbox.ifs.service import Provider
from sandbox.ifs.store import Store


class Sandbox:
    def __init__(self, config: IfsSandboxConfig):
        self.config = config
        self.model = build_model(config.tenant, config.company, config.date_entered_type)
        self.store = Store(company=config.company)
        lock = self.store.lock  # one lock for everything
        self.auth = TokenIssuer(config, lock)
        self.faults = Faults(lock, config.fault_seed, config.retry_after_seconds,
                             config.next_link_form)
        self.stats = Stats(lock)
        self.provider = Provider(self)

    def reset(self) -> None:
        """Empty data, faults and statistics; issued tokens stay valid."""
        with self.store.lock:
            self.store.reset()
            self.faults.clear()
            self.stats.clear()
