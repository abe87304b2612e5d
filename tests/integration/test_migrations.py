"""The Alembic migrations build exactly the schema the models describe, on
PostgreSQL and on the embedded SQLite (a column added to a model without a
migration fails here, not in a user's upgrade)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from connector.db.models import Base
from connector.db.session import engine_for, migrate


def _drift(url: str) -> list:
    with engine_for(url).connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def test_postgres_schema_matches_the_models(pg_url):
    assert _drift(pg_url) == []


def test_sqlite_schema_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    assert _drift(url) == []
