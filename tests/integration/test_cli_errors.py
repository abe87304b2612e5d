"""Every expected failure of the CLI is one line on stderr naming what to fix,
and a non-zero exit: run as the operator runs it (the installed
`ifs-shipbob`, a real process) against services that are really down or
refusing, a database that is really not migrated, a mapping file really
broken."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.stack import env_for, free_port
from connector import jobs
from connector.db.session import create_database, drop_database
from tests.conftest import PG_ADMIN_URL, RUN_ID
from tests.helpers import seed_world

CLI = str(Path(sys.executable).parent / "ifs-shipbob")


@pytest.fixture
def run(settings, tmp_path):
    """Run `ifs-shipbob ARGS` in a clean directory with the test's settings
    plus `changes`; returns the completed process."""
    base = {**env_for(settings, broker_url="memory://"), "PATH": str(Path(sys.executable).parent),
            **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}

    def invoke(*args: str, **changes: str) -> subprocess.CompletedProcess:
        env = {**base, **changes}
        return subprocess.run([CLI, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    return invoke


def one_line(result: subprocess.CompletedProcess) -> str:
    """The failure's single stderr line (and no traceback anywhere)."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    print(f"{' '.join(result.args[1:])} -> {lines[0]}")  # the line the user sees (pytest -rP shows it)
    return lines[0]


def down() -> str:
    """A local port nothing listens on: connections are refused at once."""
    return f"127.0.0.1:{free_port()}"


# -- settings and the mapping file -------------------------------------------------

def test_a_bad_setting_is_named(run):
    line = one_line(run("status", SHIPBOB_CHANNEL_ID="not-a-number"))
    assert line.startswith("error: invalid setting SHIPBOB_CHANNEL_ID: ")


def test_settings_that_go_together_are_named(run):
    line = one_line(run("status", SHIPBOB_CLIENT_ID="app-1"))
    assert line == "error: invalid settings: SHIPBOB_CLIENT_ID, SHIPBOB_CLIENT_SECRET and SHIPBOB_REFRESH_TOKEN go together"


def test_sites_that_is_not_json_is_named_as_sites(run):
    line = one_line(run("status", SITES="S01"))
    assert line.startswith("error: invalid setting SITES: expected a JSON list")


def test_bad_yaml_in_the_mapping_names_the_file_and_line(run, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("sites: {S01: 156}\nship_via: [UPS\n  bad: : :\n")
    line = one_line(run("status", MAPPING_FILE=str(mapping)))
    assert line.startswith(f"error: {mapping}: not valid YAML: line 3")


@pytest.mark.parametrize("yaml_text, expected", [
    ("sites: {S01: 156}\nship_vai: {UPS-GND: Standard}\n", "ship_vai: unknown key"),
    ("sites: {S01: 156}\nifs: {customer_ordr: {}}\n", "ifs.customer_ordr: unknown key"),
    ("sites: {S01: not-a-number}\n", "sites.S01: Input should be a valid integer"),
])
def test_mapping_keys_are_named_by_file_and_key_path(run, tmp_path, yaml_text, expected):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml_text)
    line = one_line(run("status", MAPPING_FILE=str(mapping)))
    assert line.startswith(f"error: {mapping}: {expected}")
    assert "invalid setting" not in line


def test_a_missing_mapping_file_is_named(run, tmp_path):
    line = one_line(run("status", MAPPING_FILE=str(tmp_path / "nope.yaml")))
    assert line.startswith(f"error: MAPPING_FILE {tmp_path / 'nope.yaml'}: cannot read it")


# -- the database --------------------------------------------------------------------

def test_database_down(run):
    where = down()
    line = one_line(run("status", DATABASE_URL=f"postgresql://postgres@{where}/connector"))
    assert f"database {where}/connector unreachable" in line and "check DATABASE_URL" in line


def test_an_unmigrated_postgres_database_says_migrate(run):
    name = f"ifs_shipbob_unmigrated_{RUN_ID}"
    url = create_database(PG_ADMIN_URL, name)
    try:
        for command in (["status"], ["attention"], ["show", "C1"]):
            line = one_line(run(*command, DATABASE_URL=url))
            assert "run `ifs-shipbob migrate`" in line, line
        doctor = run("doctor", DATABASE_URL=url)
        assert doctor.returncode == 1 and "Traceback" not in doctor.stdout + doctor.stderr
        assert "FAIL schema: not migrated (no connector tables) -> fix: run `ifs-shipbob migrate`" in doctor.stdout
    finally:
        drop_database(PG_ADMIN_URL, name)


def test_a_missing_sqlite_database_is_reported_not_created(run, tmp_path):
    result = run("status", DATABASE_URL="sqlite:///state/ifs-shipbob.db")
    line = one_line(result)
    assert line.startswith("error: no database at state/ifs-shipbob.db (DATABASE_URL): run `ifs-shipbob migrate`")
    assert not (tmp_path / "state").exists()


def test_the_demo_database_is_named_when_status_finds_none(run, tmp_path):
    (tmp_path / "state" / "demo").mkdir(parents=True)
    (tmp_path / "state" / "demo" / "connector.db").touch()
    line = one_line(run("status", DATABASE_URL="sqlite:///state/ifs-shipbob.db"))
    assert line.endswith("the demo's state is DATABASE_URL=sqlite:///state/demo/connector.db")


# -- Redis and the broker -------------------------------------------------------------

def test_redis_down(run):
    where = down()
    line = one_line(run("status", REDIS_URL=f"redis://{where}/0"))
    assert "redis unavailable" in line and f"Redis at {where}/0; check REDIS_URL" in line


def test_broker_down_on_replay(run, ctx):
    with ctx.session() as session:
        job_id = jobs.request_job(session, "order_push", "C1").job_id
    where = down()
    result = run("replay", str(job_id), BROKER_URL=f"redis://{where}/1")
    line = one_line(result)
    assert line.startswith("error: the broker is unreachable (check BROKER_URL / REDIS_URL)")
    assert "due (broker unreachable" in result.stdout  # the item itself was replayed


# -- IFS and ShipBob ----------------------------------------------------------------

def test_ifs_down(run, sandboxes):
    seed_world(sandboxes, orders=1)
    line = one_line(run("reconcile", IFS_BASE_URL=f"http://{down()}"))
    assert "IFS" in line and "unreachable" in line


def test_ifs_refusing_the_client_secret(run, sandboxes):
    seed_world(sandboxes, orders=1)
    line = one_line(run("reconcile", IFS_CLIENT_SECRET="wrong-secret"))
    assert "refused client 'ifs-shipbob'" in line and line.endswith("(check IFS_CLIENT_ID and IFS_CLIENT_SECRET)")
    assert "wrong-secret" not in line


def test_doctor_fails_ifs_auth_with_a_wrong_secret_while_a_token_is_cached(run, sandboxes):
    assert run("doctor").returncode == 0  # caches a token for the right secret
    result = run("doctor", IFS_CLIENT_SECRET="wrong-secret")
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert "FAIL ifs auth: IFS token endpoint" in result.stdout


@pytest.mark.parametrize("command", [["reconcile"], ["sync-inventory", "--dry-run"]])
def test_shipbob_down(run, sandboxes, command):
    seed_world(sandboxes, orders=1)
    line = one_line(run(*command, SHIPBOB_BASE_URL=f"http://{down()}"))
    assert "ShipBob" in line or "shipbob" in line.lower()


@pytest.mark.parametrize("command", [["reconcile"], ["sync-inventory", "--dry-run"], ["webhooks", "list"]])
def test_shipbob_refusing_the_pat(run, sandboxes, command):
    seed_world(sandboxes, orders=1)
    line = one_line(run(*command, SHIPBOB_TOKEN="revoked-pat"))
    assert "ShipBob rejected the personal access token (401)" in line and "set SHIPBOB_TOKEN" in line
