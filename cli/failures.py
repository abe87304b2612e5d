"""Expected failures -> one line naming what to fix, and a non-zero exit.

An operator running a command against a database that is down, a Redis
that refuses, an IFS that rejects the client secret or a ShipBob token that
was revoked needs the one sentence that says which setting or service to
look at, not a traceback. Anything not recognised here is a bug and keeps
its traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import click

# Exit codes: 2 = a setting or the mapping is wrong (as click's usage errors),
# 1 = a service is down or refused, or the schema is not migrated.
SETTINGS_EXIT = 2
SERVICE_EXIT = 1

MIGRATE_HINT = "run `ifs-shipbob migrate`"


@contextlib.contextmanager
def one_line() -> Iterator[None]:
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except Exception as exc:
        described = describe(exc)
        if described is None:
            raise
        message, code = described
        click.echo(f"error: {message}", err=True)
        sys.exit(code)


def describe(exc: BaseException) -> tuple[str, int] | None:
    """(one line, exit code) for an expected failure; None for a bug."""
    from connector.errors import ConfigError, ConnectorError

    if isinstance(exc, ConfigError):
        return str(exc), SETTINGS_EXIT
    for describer in (_database, _broker, _redis):
        line = describer(exc)
        if line:
            return line, SERVICE_EXIT
    if isinstance(exc, ConnectorError):  # the clients' messages name the service and the fix
        return _first_line(str(exc)) + _hint(str(exc)), SERVICE_EXIT
    return None


def _hint(message: str) -> str:
    """Which setting to look at, when the client's message does not say."""
    if message.startswith("redis unavailable"):
        return f" (Redis at {_where(os.environ.get('REDIS_URL', ''))}; check REDIS_URL)"
    if message.startswith("ShipBob") and "network error" in message:
        from connector.settings import Settings

        url = os.environ.get("SHIPBOB_BASE_URL") or Settings.model_fields["shipbob_base_url"].default
        return f" (ShipBob at {url}; check SHIPBOB_BASE_URL and your network)"
    if message.startswith("IFS token endpoint") and "refused client" in message:
        return " (check IFS_CLIENT_ID and IFS_CLIENT_SECRET)"
    if message.startswith("IFS") and "unreachable" in message and "IFS_BASE_URL" not in message:
        return " (check IFS_BASE_URL / IFS_TOKEN_URL and your network)"
    return ""


def _database(exc: BaseException) -> str | None:
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, DBAPIError):
        return None
    text = _first_line(str(exc.orig))
    code = getattr(exc.orig, "pgcode", None)
    if code in ("42P01", "42703") or text.startswith(("no such table", "no such column")):
        return f"the database has no connector schema or an older one ({text}): {MIGRATE_HINT}"
    where = _where(os.environ.get("DATABASE_URL", ""))
    return f"database {where} unreachable or refusing ({text}); check DATABASE_URL and that the server is up"


def _broker(exc: BaseException) -> str | None:
    from kombu.exceptions import OperationalError

    if not isinstance(exc, OperationalError):
        return None
    url = os.environ.get("BROKER_URL") or os.environ.get("REDIS_URL", "")
    return f"broker {_where(url)} unreachable ({_first_line(str(exc))}); check BROKER_URL / REDIS_URL"


def _redis(exc: BaseException) -> str | None:
    import redis

    if not isinstance(exc, redis.RedisError):
        return None
    return (f"Redis {_where(os.environ.get('REDIS_URL', ''))} unreachable ({_first_line(str(exc))}); "
            "check REDIS_URL and that Redis is up")


def _where(url: str) -> str:
    """host:port/name of a URL, never its credentials."""
    if not url:
        return "(default)"
    rest = url.split("://", 1)[-1]
    return rest.rsplit("@", 1)[-1] or url.split("://", 1)[0]


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:300]
