"""PostgreSQL connections give up instead of hanging: a statement timeout,
TCP keepalives and a connect timeout on every engine (real PostgreSQL)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from connector.context import Context
from connector.db.session import engine_for
from connector.settings import load_settings


def test_a_statement_beyond_the_setting_is_cancelled_instead_of_hanging(clean_db):
    ctx = Context(load_settings(database_url=clean_db, database_statement_timeout_seconds=0.5))
    started = time.monotonic()
    with pytest.raises(OperationalError, match="statement timeout"):
        with ctx.session() as session:
            session.execute(text("SELECT pg_sleep(60)"))
    assert time.monotonic() - started < 10


def test_engines_carry_statement_timeout_keepalives_and_connect_timeout(clean_db):
    for timeout, shown in ((None, "30s"), (5, "5s"), (0, "0")):
        with engine_for(clean_db, timeout).connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar_one() == shown
            connection.rollback()  # a pooled connection keeps its setting across transactions
            assert connection.execute(text("SHOW statement_timeout")).scalar_one() == shown
            dsn = connection.connection.dbapi_connection.get_dsn_parameters()
    assert {k: dsn.get(k) for k in ("keepalives", "keepalives_idle", "keepalives_interval",
                                    "keepalives_count", "connect_timeout", "tcp_user_timeout")} == {
        "keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5", "keepalives_count": "3",
        "connect_timeout": "5", "tcp_user_timeout": "30000"}


def test_sqlite_ignores_the_statement_timeout(tmp_path):
    with engine_for(f"sqlite:///{tmp_path}/state.db", 1.0).connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
