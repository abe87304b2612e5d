"""Shared fixtures: real PostgreSQL and Redis, the sandboxes over real HTTP.

Every test run gets its own PostgreSQL database and Redis key prefix, so runs
on one machine (or CI beside a developer) cannot collide.
"""

from __future__ import annotations

import os
import uuid

import pytest
import redis as redis_lib
import requests
from sqlalchemy import text

RUN_ID = uuid.uuid4().hex[:10]
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
FAST_RATE_LIMIT = 100_000
WEBHOOK_SECRET = "whsec_" + "A" * 32


@pytest.fixture(scope="session")
def pg_url():
    """A fresh, migrated database for this test run; dropped afterwards."""
    from connector.db.session import create_database, drop_database, migrate

    name = f"ifs_shipbob_test_{RUN_ID}"
    url = create_database(PG_ADMIN_URL, name)
    migrate(url)
    yield url
    drop_database(PG_ADMIN_URL, name)


@pytest.fixture
def clean_db(pg_url):
    """Empty every table before the test (the schema stays)."""
    from connector.db.models import Base
    from connector.db.session import engine_for

    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine_for(pg_url).begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return pg_url


@pytest.fixture(scope="session")
def redis_prefix():
    prefix = f"ifs-shipbob-test-{RUN_ID}:"
    yield prefix
    client = redis_lib.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)


@pytest.fixture
def clean_redis(redis_prefix):
    client = redis_lib.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{redis_prefix}*", count=1000):
        client.delete(key)
    return redis_prefix


@pytest.fixture(scope="session")
def ifs_sandbox():
    from sandbox.ifs.app import create_app
    from sandbox.server import BackgroundServer

    server = BackgroundServer(create_app()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shipbob_sandbox():
    from sandbox.server import BackgroundServer
    from sandbox.shipbob import ShipBobSandboxConfig, create_app

    # The flows' tests push volume; the real 150/min limit has its own tests
    # (tests/integration/test_shipbob_client_ratelimit.py, test_coordination*).
    config = ShipBobSandboxConfig(rate_limit_per_minute=FAST_RATE_LIMIT, webhook_retry_time_scale=0.001)
    server = BackgroundServer(create_app(config)).start()
    yield server
    server.stop()


@pytest.fixture
def sandboxes(ifs_sandbox, shipbob_sandbox):
    """Both sandboxes, emptied before the test."""
    for server in (ifs_sandbox, shipbob_sandbox):
        requests.post(f"{server.url}/_sandbox/reset", timeout=10).raise_for_status()
    return ifs_sandbox, shipbob_sandbox


@pytest.fixture
def settings(clean_db, clean_redis, sandboxes, tmp_path):
    from connector.settings import load_settings

    ifs, shipbob = sandboxes
    return load_settings(
        database_url=clean_db,
        redis_url=REDIS_URL,
        redis_prefix=clean_redis,
        ifs_base_url=ifs.url,
        shipbob_base_url=shipbob.url,
        shipbob_webhook_secret=WEBHOOK_SECRET,
        shipbob_rate_limit_per_minute=FAST_RATE_LIMIT,
        reports_dir=tmp_path / "reports",
    )


@pytest.fixture
def ctx(settings):
    from connector.context import Context

    return Context(settings)


# ShipBob's OpenAPI document is vendored in sandbox/shipbob/specs/; only a
# SHIPBOB_SPECS_DIR pointing elsewhere can leave the sandbox without it. Then
# outside CI the tests that need it are skipped with the reason; in CI (CI
# set, as .ci/run does) the run fails.
_SHIPBOB_FIXTURES = {"shipbob_sandbox", "sandboxes", "settings", "ctx", "stack"}


def pytest_collection_modifyitems(config, items):
    from sandbox.shipbob import validation

    spec = validation.spec_path("2026-01")
    if spec.exists():
        return
    message = f"ShipBob OpenAPI document not found at {spec} (set SHIPBOB_SPECS_DIR)"
    if os.environ.get("CI"):
        pytest.exit(message, returncode=1)
    skip = pytest.mark.skip(reason=message)
    for item in items:
        if _SHIPBOB_FIXTURES & set(getattr(item, "fixturenames", ())) or "sandbox/test_shipbob_" in item.nodeid:
            item.add_marker(skip)
