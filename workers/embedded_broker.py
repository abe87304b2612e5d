"""The embedded default's broker: Kombu's SQLAlchemy transport on SQLite.

Kombu's virtual transports sleep `polling_interval` (1 s) whenever a worker
cannot take more messages, which caps a prefetch-1 pool at a few tasks per
second; a local SQLite file can be polled far more often. Registered as
`embedded+sqlite:///...` so the stock `sqla+` transport keeps its defaults.
"""

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Transport as SqlAlchemyTransport

ALIAS = "embedded"


class Transport(SqlAlchemyTransport):
    polling_interval = 0.05


TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")
