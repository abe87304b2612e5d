"""The demo's state: reset on every run whatever database it is pointed at
(but never a database it did not make), and a progress line that only grows."""

from __future__ import annotations

import click
import pytest
from sqlalchemy import func, inspect, select

from cli.demo import DEMO_MARK, _Day, fresh_database
from connector import jobs, kv
from connector.db.models import Job
from connector.db.session import create_database, drop_database, engine_for, session_scope
from tests.conftest import PG_ADMIN_URL, RUN_ID


@pytest.fixture
def demo_db():
    name = f"ifs_shipbob_demo_{RUN_ID}"
    url = create_database(PG_ADMIN_URL, name)
    yield url
    drop_database(PG_ADMIN_URL, name)


def _jobs(url: str) -> int:
    with session_scope(url) as session:
        return session.execute(select(func.count()).select_from(Job)).scalar_one()


def test_a_second_run_on_postgres_starts_from_empty_state(demo_db):
    fresh_database(demo_db)
    with session_scope(demo_db) as session:
        jobs.request_job(session, "order_push", "C1")
        kv.put(session, "poll.orders.cursor", "2026-11-26T00:00:00+00:00")
    assert _jobs(demo_db) == 1
    fresh_database(demo_db)  # the second `make demo`
    assert _jobs(demo_db) == 0
    with session_scope(demo_db) as session:
        assert kv.get(session, "poll.orders.cursor") is None
        assert kv.get(session, DEMO_MARK)
    assert "alembic_version" in inspect(engine_for(demo_db)).get_table_names()


def test_a_database_with_state_the_demo_did_not_make_is_left_alone(pg_url, clean_db):
    with session_scope(pg_url) as session:
        jobs.request_job(session, "order_push", "C-PRODUCTION")
    with pytest.raises(click.ClickException, match="connector state the demo did not make"):
        fresh_database(pg_url)
    assert _jobs(pg_url) == 1


def test_the_progress_count_never_goes_back(ctx):
    day = _Day(ctx, None, None, None, 0, None)
    with ctx.session() as session:
        job_id = jobs.request_job(session, "shipment_voucher", "900").job_id
    with ctx.session() as session:
        jobs.finish(session, jobs.claim(session, job_id))
    assert day._progress() == "progress: shipment_voucher 1/1 done"
    with ctx.session() as session:  # a later webhook for the same shipment: the item runs again
        assert jobs.request_job(session, "shipment_voucher", "900").wake
    assert day._progress() == "progress: shipment_voucher 1/1 done"
