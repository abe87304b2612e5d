"""Migration 0007: jobs.shipbob_ref (comma-joined ShipBob ids) becomes
jobs.shipbob_refs (a JSON list), every row converted, and back again on
downgrade, on PostgreSQL and on the embedded SQLite."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from connector.db.session import alembic_config, create_database, drop_database, engine_for, migrate
from connector.items import find_items
from tests.conftest import PG_ADMIN_URL

BEFORE = "0006"
AFTER = "0007"
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
# key -> shipbob_ref as 0006 stored it, and the list 0007 makes of it
ROWS = {
    "C1": ("101", ["101"]),
    "C2": ("201,202,203", ["201", "202", "203"]),  # a split order: one ShipBob order per site
    "C3": (None, []),
    "C4": ("", []),
}


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    name = f"ifs_shipbob_migration_{uuid.uuid4().hex[:10]}"
    yield create_database(PG_ADMIN_URL, name)
    drop_database(PG_ADMIN_URL, name)


def _insert_jobs(url: str, refs_column: sa.ColumnClause[object], refs: dict[str, object]) -> None:
    """Done order-push rows with these ShipBob references, by key."""
    jobs = sa.table("jobs", *(sa.column(c) for c in (
        "flow", "key", "state", "attempts", "next_run_at", "requested_at", "created_at", "updated_at")),
        sa.column("payload", sa.JSON()), refs_column)
    with engine_for(url).begin() as conn:
        conn.execute(jobs.insert(), [
            {"flow": "order_push", "key": key, "state": "done", "attempts": 1, "next_run_at": NOW,
             "requested_at": NOW, "payload": {}, "created_at": NOW, "updated_at": NOW, refs_column.name: ref}
            for key, ref in refs.items()])


def _column(url: str, name: str) -> dict[str, object]:
    with engine_for(url).connect() as conn:
        return dict(conn.execute(sa.text(f"SELECT key, {name} FROM jobs")).all())


def _attempts(url: str) -> int:
    with engine_for(url).connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM job_attempts")).scalar_one()


def _columns(url: str) -> set[str]:
    with engine_for(url).connect() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns("jobs")}


def _refs(url: str) -> dict[str, list[str]]:
    jobs = sa.table("jobs", sa.column("key"), sa.column("shipbob_refs", sa.JSON()))
    with engine_for(url).connect() as conn:
        return dict(conn.execute(sa.select(jobs.c.key, jobs.c.shipbob_refs)).all())


def test_upgrade_turns_comma_joined_ids_into_lists_and_downgrade_joins_them_again(url):
    migrate(url, BEFORE)
    _insert_jobs(url, sa.column("shipbob_ref", sa.String()), {key: old for key, (old, _) in ROWS.items()})
    with engine_for(url).begin() as conn:  # history, which a rebuilt jobs table must not cascade away
        conn.execute(sa.text("INSERT INTO job_attempts (job_id, started_at, outcome) "
                             "SELECT id, created_at, 'done' FROM jobs"))

    migrate(url, AFTER)
    assert "shipbob_ref" not in _columns(url)
    assert _refs(url) == {key: new for key, (_, new) in ROWS.items()}
    assert _attempts(url) == len(ROWS)
    with Session(engine_for(url)) as session:  # the converted rows are found by any of their ids
        assert [job.key for job in find_items(session, "202")] == ["C2"]
        assert [job.key for job in find_items(session, "101")] == ["C1"]

    command.downgrade(alembic_config(url), BEFORE)
    assert "shipbob_refs" not in _columns(url)
    # An empty string had no id in it: it comes back as NULL.
    assert _column(url, "shipbob_ref") == {"C1": "101", "C2": "201,202,203", "C3": None, "C4": None}
    assert _attempts(url) == len(ROWS)


def test_a_downgrade_that_cannot_keep_every_id_changes_nothing(url):
    migrate(url, AFTER)
    many = [str(900_000_000 + n) for n in range(25)]  # 249 characters joined: over the old 200
    _insert_jobs(url, sa.column("shipbob_refs", sa.JSON()), {"C9": many})

    with pytest.raises(RuntimeError, match=r"job\(s\) \[1\] do not fit"):
        command.downgrade(alembic_config(url), BEFORE)
    engine_for(url).dispose()
    assert "shipbob_ref" not in _columns(url)
    assert _refs(url) == {"C9": many}
