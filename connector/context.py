"""The one place where dependencies are wired (Cosmic Python's bootstrap).

Tasks, the CLI, the demo and tests build a Context and hand it to the same
flow functions.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from connector.db.session import session_scope
from connector.settings import Settings, load_settings


@dataclass
class Context:
    settings: Settings
    _clients: dict = field(default_factory=dict)

    @property
    def mapping(self):
        return self.settings.mapping

    @property
    def names(self):
        return self.settings.mapping.ifs

    def session(self) -> AbstractContextManager[Session]:
        return session_scope(self.settings.database_url, self.settings.database_statement_timeout_seconds)

    @functools.cached_property
    def coordinator(self):
        from connector.coordination import coordinator_for

        return coordinator_for(self.settings)

    @functools.cached_property
    def ifs(self):
        from connector.ifs.client import IfsClient

        return IfsClient(self.settings, self.coordinator)

    @functools.cached_property
    def shipbob(self):
        from connector.shipbob.client import ShipBobClient

        return ShipBobClient(self.settings, self.coordinator)


@functools.lru_cache(maxsize=1)
def default_context() -> Context:
    """The process-wide context for workers and the receiver."""
    return Context(load_settings())
