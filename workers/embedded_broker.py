"""The embedded default's broker: Kombu's SQLAlchemy transport on SQLite.

Two changes to the stock `sqla+` transport, registered as `embedded+sqlite:///…`
so the stock one keeps its behaviour:
- Kombu's virtual transports sleep `polling_interval` (1 s) whenever a worker
  cannot take more messages, which caps a prefetch-1 pool at a few tasks per
  second; a local SQLite file can be polled far more often.
- Two processes publishing to a queue that does not exist yet race to create
  its row; the loser retries instead of failing the publish.
"""

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Channel as SqlAlchemyChannel
from kombu.transport.sqlalchemy import Transport as SqlAlchemyTransport
from sqlalchemy.exc import IntegrityError

ALIAS = "embedded"


class Channel(SqlAlchemyChannel):
    def _get_or_create(self, queue):
        try:
            return super()._get_or_create(queue)
        except IntegrityError:  # created by another process in the meantime
            self.session.rollback()
            return super()._get_or_create(queue)


class Transport(SqlAlchemyTransport):
    Channel = Channel
    polling_interval = 0.05


TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")
