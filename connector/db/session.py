"""Engine and sessions; Alembic owns the schema (`ifs-shipbob migrate`)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# PostgreSQL only. A statement running longer than this is cancelled by the
# server (settings DATABASE_STATEMENT_TIMEOUT_SECONDS for workers and the CLI,
# WEBHOOK_STATEMENT_TIMEOUT_SECONDS for the receiver; 0 = no limit).
DEFAULT_STATEMENT_TIMEOUT_SECONDS = 30.0
# libpq options: give up connecting after 5 s, and notice a peer that vanished
# (host down, network partition) instead of waiting on its socket forever:
# keepalive probes after 10 s idle, every 5 s, dead after 3 unanswered; data
# sent and not acknowledged for 30 s also ends the connection.
_PG_CONNECT_ARGS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


def normalize_url(url: str) -> str:
    """SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; we ship psycopg2."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg2://" + url[len(plain):]
    return url


@functools.lru_cache(maxsize=8)
def engine_for(url: str, statement_timeout: float | None = None) -> Engine:
    """The process's engine for `url`; `statement_timeout` in seconds
    (PostgreSQL; None = DEFAULT_STATEMENT_TIMEOUT_SECONDS, 0 = none)."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: SQL errors would otherwise quote the values (a
        # stored secret, a webhook body) into logs and job errors.
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:  # a DB-API connection
            # WAL lets the receiver write while a worker reads.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # Short connect/pool timeouts: the receiver must answer ShipBob within 15 s
    # (a 503 makes ShipBob retry) rather than hang on an unreachable database.
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_timeout=5,
                           connect_args=dict(_PG_CONNECT_ARGS), hide_parameters=True)
    if statement_timeout is None:
        statement_timeout = DEFAULT_STATEMENT_TIMEOUT_SECONDS
    timeout_ms = round(statement_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _statement_timeout(dbapi_conn: Any, _record: object) -> None:  # a DB-API connection
        # SET rather than the `options` startup parameter, which PgBouncer
        # refuses unless told to ignore it.
        with dbapi_conn.cursor() as cur:
            cur.execute("SET statement_timeout = %s", (timeout_ms,))
        dbapi_conn.commit()  # psycopg2 opened a transaction; the SET outlives it

    return engine


@functools.lru_cache(maxsize=8)
def session_factory(url: str, statement_timeout: float | None = None) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url, statement_timeout), expire_on_commit=False)


def dialect_insert(session: Session) -> type[postgresql.Insert] | type[sqlite.Insert]:
    """`insert()` of the session's dialect: PostgreSQL and SQLite both offer
    ON CONFLICT DO NOTHING, which plain SQLAlchemy insert() does not."""
    return postgresql.Insert if session.get_bind().dialect.name == "postgresql" else sqlite.Insert


@contextlib.contextmanager
def session_scope(url: str, statement_timeout: float | None = None) -> Iterator[Session]:
    """A transaction: commit on success, roll back on error."""
    session = session_factory(url, statement_timeout)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic."""
    from alembic import command

    engine_for(url)  # creates the SQLite directory
    command.upgrade(alembic_config(url), revision)


def alembic_config(url: str) -> Config:
    """Alembic's configuration for our migrations on `url`."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def create_database(admin_url: str, name: str) -> str:
    """CREATE DATABASE `name` as the admin URL's user; returns its URL. For
    test runs and benchmarks: each gets a database of its own."""
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, name: str) -> None:
    engine_for(admin_url.rsplit("/", 1)[0] + f"/{name}").dispose()
    _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(admin_url: str, sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()
