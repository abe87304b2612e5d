"""Structured JSON logs with the flow's keys on every line, and no secrets.

Flows pass their keys as `extra={...}` (ifs_order_no, shipbob ids,
webhook_id, job_id, ...); the formatter writes them as JSON fields. A filter
masks every configured secret value anywhere in a record, so a secret that
slips into an exception text is still never written.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from connector.settings import Settings

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
MASK = "[redacted]"


# The keys of the work in hand (job, flow, IFS and ShipBob references, the
# webhook id), added to every record logged while it runs, client calls included.
_bound: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "ifs_shipbob_log_context", default=MappingProxyType({}))


@contextlib.contextmanager
def bound(**keys: object) -> Iterator[None]:
    token = _bound.set({**_bound.get(), **{k: v for k, v in keys.items() if v is not None}})
    try:
        yield
    finally:
        _bound.reset(token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _bound.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, _Field] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                entry[key] = _field(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:  # rendered (and masked) by SecretFilter
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=str)


_Scalar = str | int | float | bool
_Field = _Scalar | list[_Scalar]


def _field(value: object) -> _Field:
    """A JSON field: scalars and lists of scalars (a split order's ShipBob
    ids) as they are, anything else as its text."""
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return list(value)
    return str(value)


class SecretFilter(logging.Filter):
    """Replace known secret values in the rendered record."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        # Short values would mask ordinary words; real secrets are long.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg, record.args = self._masked(record.getMessage()), None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self._masked(value))
            elif key not in _STANDARD and isinstance(value, (list, tuple)):
                setattr(record, key, [self._masked(v) if isinstance(v, str) else v for v in value])
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, self._masked(text)
        return True

    def _masked(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text


def secret_values(settings: Settings) -> list[str]:
    values = [
        settings.ifs_client_secret, settings.shipbob_token, settings.shipbob_client_secret,
        settings.shipbob_refresh_token, settings.shipbob_webhook_secret,
        settings.shipbob_webhook_secret_previous, settings.console_secret_key,
        settings.ifs_events_api_key, settings.ifs_events_api_key_previous,
    ]
    return [v.get_secret_value() for v in values if v is not None]


def configure(settings: Settings | None = None, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """JSON lines on stderr for the whole process (workers, receiver, CLI)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())  # before the secret filter, which then sees the keys
    if settings is not None:
        handler.addFilter(SecretFilter(secret_values(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("urllib3", "werkzeug", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
