"""Finding, listing, closing and replaying items from the CLI, and the CLI's
output conventions (ISO timestamps, --json on read commands, .env)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from cli import main
from cli.stack import env_for
from connector import jobs
from connector.db.models import Job, OperatorAction
from connector.flows.order_poll import poll_orders
from connector.runner import run_job
from tests.helpers import hook, seed_world

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def cli(settings, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the CLI reads ./.env: not a developer's own
    for name, value in env_for(settings, broker_url="memory://").items():
        monkeypatch.setenv(name, value)

    def invoke(*args, ok=True):
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


def _park(ifs, order_no: str, part: str) -> None:
    hook(ifs, "orders", {"orders": [{
        "OrderNo": order_no, "Contract": "S01", "ShipViaCode": "UPS-GND",
        "lines": [{"PartNo": part, "BuyQtyDue": 1}],
        "address": {"Name": "A", "Address1": "1 St", "City": "X", "Country": "US"}}]})


@pytest.fixture
def world(ctx, sandboxes):
    """Two orders pushed, three parked on unknown parts."""
    ifs, _ = sandboxes
    seed_world(sandboxes, orders=2, split_ratio=0)
    for n in (1, 2, 3):
        _park(ifs, f"C800{n}", f"UNKNOWN-{n}")
    return {job_id: run_job(ctx, job_id).status for job_id in poll_orders(ctx)}


def test_show_finds_an_item_by_ifs_order_number_or_shipbob_id(ctx, world, cli):
    with ctx.session() as session:
        pushed = next(j for j in session.query(Job) if j.shipbob_refs)
    by_order = json.loads(cli("show", pushed.key, "--json").stdout)
    by_shipbob = json.loads(cli("show", pushed.shipbob_refs[0], "--json").stdout)
    by_id = json.loads(cli("show", str(pushed.id), "--json").stdout)
    assert by_order == by_shipbob == by_id
    assert by_order["id"] == pushed.id
    # No internal columns; the attempts count is the history's length.
    assert not {"lease_until", "run_token", "request_seq", "claimed_seq", "swept_at", "payload"} & set(by_order)
    assert by_order["attempts"] == len(by_order["attempts_history"]) == 1
    assert ISO.match(by_order["created"]) and ISO.match(by_order["attempts_history"][0]["finished"])
    missing = cli("show", "C-NOT-THERE", ok=False)
    assert missing.exit_code == 1 and "no item C-NOT-THERE" in missing.output


def test_show_counts_every_run_after_a_replay(ctx, sandboxes, world, cli):
    [parked] = [j for j, s in world.items() if s == "attention"][:1]
    cli("replay", str(parked), "--inline")  # still unknown: parked again
    shown = json.loads(cli("show", str(parked), "--json").stdout)
    assert shown["attempts"] == len(shown["attempts_history"]) == 2
    assert "Attempts" in cli("show", str(parked)).output and "lease_until" not in cli("show", str(parked)).output


def test_attention_limit_and_reason(world, cli):
    assert len(json.loads(cli("attention", "--json").stdout)) == 3
    assert [i["key"] for i in json.loads(cli("attention", "--limit", "2", "--json").stdout)] == ["C8001", "C8002"]
    [only] = json.loads(cli("attention", "--reason", "UNKNOWN-3", "--json").stdout)
    assert only["key"] == "C8003"


def test_resolve_and_ignore_close_an_item_with_who_when_and_why(ctx, world, cli):
    resolved = json.loads(cli("resolve", "C8001", "--note", "created by hand in ShipBob", "--by", "ada",
                              "--json").stdout)
    assert (resolved["state"], resolved["resolved_by"], resolved["resolution_note"]) == (
        "resolved", "ada", "created by hand in ShipBob")
    assert ISO.match(resolved["resolved_at"])
    line = cli("ignore", "C8002", "--note", "test order, cancel in IFS").output
    assert "ignored by" in line and "test order, cancel in IFS" in line
    assert [i["key"] for i in json.loads(cli("attention", "--json").stdout)] == ["C8003"]
    status = json.loads(cli("status", "--json").stdout)
    order_push = next(f for f in status["flows"] if f["flow"] == "order_push")
    assert (order_push["attention"], order_push["resolved"], order_push["ignored"]) == (1, 1, 1)
    shown = json.loads(cli("show", "C8001", "--json").stdout)
    assert shown["resolved_by"] == "ada" and shown["resolution_note"] == "created by hand in ShipBob"
    # Reconcile explains the closed orders by who closed them, not as unexplained.
    reconcile = json.loads(cli("reconcile", "--json", ok=False).stdout)
    explained = {i["key"]: i["explained_by"] for c in reconcile for i in c["items"]}
    assert explained["C8001"] == "resolved by ada: created by hand in ShipBob"
    # Only parked or failed items can be closed; a note is required.
    again = cli("ignore", "C8001", "--note", "x", ok=False)
    assert again.exit_code == 1 and "is resolved: only parked (attention) or failed" in again.output
    assert cli("resolve", "C8003", ok=False).exit_code == 2
    # The same audit row as a console action, shown on the item there.
    with ctx.session() as session:
        audit = session.execute(select(OperatorAction.action, OperatorAction.actor, OperatorAction.note)
                                .order_by(OperatorAction.id)).all()
    assert [(a.action, a.note) for a in audit] == [("resolve", "created by hand in ShipBob"),
                                                   ("ignore", "test order, cancel in IFS")]
    assert audit[0].actor == "ada"


def test_replay_since_takes_minutes_and_dates_and_replay_takes_an_order_number(ctx, world, cli):
    old = datetime.now(timezone.utc) - timedelta(days=2)
    with ctx.session() as session:
        session.execute(update(Job).where(Job.key == "C8001").values(updated_at=old))
    since = (old + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    listed = cli("replay", "--since", since, "--dry-run", "--json").stdout
    assert sorted(r["key"] for r in json.loads(listed)) == ["C8002", "C8003"]
    day = old.strftime("%Y-%m-%d")
    assert len(json.loads(cli("replay", "--since", day, "--dry-run", "--json").stdout)) == 3
    bad = cli("replay", "--since", "yesterday", ok=False)
    assert bad.exit_code == 2 and "not an ISO 8601 date or time" in bad.output
    [replayed] = json.loads(cli("replay", "C8002", "--inline", "--json").stdout)
    assert (replayed["key"], replayed["was"], replayed["result"]) == ("C8002", "attention", "attention")
    with ctx.session() as session:
        assert session.execute(select(OperatorAction.action).join(Job, Job.id == OperatorAction.job_id)
                               .where(Job.key == "C8002")).scalars().all() == ["replay"]


def test_backfill_from_takes_minutes_and_dates(ctx, sandboxes, cli):
    seed_world(sandboxes, orders=2, split_ratio=0)
    end = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    result = json.loads(cli("backfill", "--from", "2000-01-01", "--to", end, "--inline", "--json").stdout)
    assert result["new_items"] == 2 and set(result["results"].values()) == {"done"}
    empty = json.loads(cli("backfill", "--from", "2000-01-01", "--to", "2000-01-02T00:00", "--json").stdout)
    assert empty["new_items"] == 0


def test_poll_and_doctor_have_json(world, cli):
    polled = json.loads(cli("poll", "orders", "--json").stdout)
    assert polled["poll"] == "orders" and polled["items"] == len(polled["results"])
    checks = json.loads(cli("doctor", "--json").stdout)
    assert {c["check"] for c in checks} >= {"settings", "database", "schema", "broker", "redis", "ifs auth"}
    assert all(c["ok"] for c in checks)


def test_status_times_are_iso_8601(ctx, world, cli):
    with ctx.session() as session:
        jobs.request_job(session, "order_push", "C-PENDING")
    cli("poll", "orders")  # records the poll's last success
    ctx.coordinator.record("shipbob", "remaining_calls_at", "1764000000")
    status = json.loads(cli("status", "--json").stdout)
    times = [f["oldest_pending"] for f in status["flows"] if f["oldest_pending"]]
    times += [v for v in status["last_polls"].values() if v]
    times.append(status["shipbob_rate_limit"]["remaining_calls_at"])
    assert len(times) >= 3 and all(ISO.match(t) for t in times), times
    assert status["shipbob_rate_limit"]["remaining_calls_at"] == "2025-11-24T16:00:00Z"
    assert "1764000000" not in cli("status").output


def test_dotenv_is_read_and_the_environment_wins(cli, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SHIPBOB_CHANNEL_ID=not-a-number\nORDER_POLL_SECONDS=-1\n")
    monkeypatch.delenv("ORDER_POLL_SECONDS", raising=False)
    from_file = cli("status", ok=False)
    assert from_file.exit_code == 2 and "invalid setting ORDER_POLL_SECONDS" in from_file.output
    monkeypatch.setenv("ORDER_POLL_SECONDS", "60")  # the environment wins over .env
    monkeypatch.setenv("SHIPBOB_CHANNEL_ID", "128944")
    cli("status")


def test_migrate_needs_only_the_database_url(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("MAPPING_FILE", str(tmp_path / "not-there.yaml"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    assert "latest schema" in cli("migrate").output
    assert (tmp_path / "state.db").exists()
