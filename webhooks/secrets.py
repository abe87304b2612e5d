"""Where webhook secrets come from: the settings (current + previous while a
subscription is rotated) and the secret `webhooks subscribe` stored in the
kv table. Only the HMAC keys leave this module; secret values are never
logged."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from connector import kv
from connector.db.session import session_scope
from connector.errors import ConfigError
from webhooks.signature import decode_secret

log = logging.getLogger(__name__)

KV_SECRET_KEY = "shipbob.webhook_secret"
# Short enough that a fresh subscription is honoured before ShipBob's second
# retry (5 s after the first), long enough that a flood of forged requests
# costs one kv read per period rather than one per request.
DB_SECRET_TTL_SECONDS = 5.0


class SecretSource:
    def __init__(
        self,
        configured: list[str],
        database_url: str,
        ttl: float = DB_SECRET_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        statement_timeout: float | None = None,
    ):
        self._configured_keys = []
        for position, secret in enumerate(configured):
            try:
                self._configured_keys.append(decode_secret(secret))
            except ValueError as exc:
                # Fail at start-up: a secret we cannot decode would reject
                # every delivery while the process looks healthy.
                names = ("SHIPBOB_WEBHOOK_SECRET", "SHIPBOB_WEBHOOK_SECRET_PREVIOUS")
                raise ConfigError(f"invalid setting {names[position]}: {exc}") from None
        self._database_url = database_url
        self._statement_timeout = statement_timeout
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._db_key: bytes | None = None
        self._db_key_read_at: float | None = None

    def keys(self) -> Iterator[bytes]:
        """Configured keys first; the stored one is read only if needed.

        Database errors propagate: the caller answers 503 so ShipBob retries.
        """
        yield from self._configured_keys
        db_key = self._stored_key()
        if db_key is not None:
            yield db_key

    def _stored_key(self) -> bytes | None:
        with self._lock:
            now = self._clock()
            if self._db_key_read_at is None or now - self._db_key_read_at >= self._ttl:
                self._db_key = self._read_stored_key()
                self._db_key_read_at = now
            return self._db_key

    def _read_stored_key(self) -> bytes | None:
        with session_scope(self._database_url, self._statement_timeout) as session:
            value = kv.get(session, KV_SECRET_KEY)
        if not value:
            return None
        try:
            return decode_secret(value)
        except ValueError:
            log.error("stored webhook secret (kv %s) is not a valid whsec_ secret; ignoring it",
                      KV_SECRET_KEY)
            return None
