"""Day-to-day operations: status, what needs attention, replay, backfill."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import click
from sqlalchemy import func, select

from cli.common import emit, json_option, make_context
from connector import jobs, kv
from connector.db.models import Flow, InventorySnapshot, Job, JobAttempt, JobState
from connector.polls import POLL_NAMES
from connector.shipbob.ratelimit import WINDOW_SECONDS
from connector.shipbob.reauthorise import oauth_status


def register(main: click.Group) -> None:
    for command in (migrate, status, attention, failed, show, replay, backfill, poll, run_job):
        main.add_command(command)


@click.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic)."""
    from connector.db.session import migrate as upgrade
    from connector.settings import load_settings

    upgrade(load_settings().database_url)
    click.echo("database is at the latest schema")


@click.command()
@json_option
def status(as_json: bool) -> None:
    """Per flow: counts by state, oldest pending item; last polls; rate-limit headroom."""
    ctx = make_context()
    with ctx.session() as session:
        counts = session.execute(select(Job.flow, Job.state, func.count()).group_by(Job.flow, Job.state)).all()
        oldest = dict(session.execute(
            select(Job.flow, func.min(Job.created_at)).where(Job.state == JobState.PENDING.value).group_by(Job.flow)
        ).all())
        polls = {name: kv.get(session, f"poll.{name}.last_success") for name in POLL_NAMES}
        last_sync = session.execute(
            select(InventorySnapshot.run_at).where(InventorySnapshot.dry_run == 0)
            .order_by(InventorySnapshot.id.desc()).limit(1)
        ).scalar_one_or_none()
        oauth = oauth_status(session)
    flows = []
    for flow in Flow:
        row = {"flow": flow.value, **{s.value: 0 for s in JobState}, "oldest_pending": oldest.get(flow.value)}
        for f, state, n in counts:
            if f == flow.value:
                row[state] = n
        flows.append(row)
    limiter = {**ctx.coordinator.read("shipbob"),
               "calls_in_window": ctx.coordinator.window_count("shipbob", WINDOW_SECONDS)}
    data = {"flows": flows, "last_polls": polls, "last_inventory_sync": last_sync,
            "shipbob_rate_limit": {"limit_per_minute": ctx.settings.shipbob_rate_limit_per_minute, **limiter},
            "shipbob_oauth": oauth}
    if as_json:
        emit(data, True)
        return
    emit(flows, False, ["flow"] + [s.value for s in JobState] + ["oldest_pending"], title="Flows")
    click.echo()
    emit({**{f"last poll: {k}": v for k, v in polls.items()}, "last inventory sync": last_sync}, False)
    emit({f"shipbob {k}": v for k, v in data["shipbob_rate_limit"].items()}, False)
    if oauth["reauthorisation_needed_since"]:
        click.secho(f"ShipBob re-authorisation needed since {oauth['reauthorisation_needed_since']}: "
                    f"{oauth['waiting_items']} item(s) wait; run `ifs-shipbob auth shipbob`", fg="red")


def _listing(state: JobState, flow: str | None) -> list[dict]:
    ctx = make_context()
    with ctx.session() as session:
        query = select(Job).where(Job.state == state.value).order_by(Job.updated_at)
        if flow:
            query = query.where(Job.flow == flow)
        return [
            {"id": j.id, "flow": j.flow, "key": j.key, "ifs": j.ifs_ref, "shipbob": j.shipbob_ref,
             "attempts": j.attempts, "updated": j.updated_at,
             "reason" if state == JobState.ATTENTION else "last_error":
                 j.reason if state == JobState.ATTENTION else j.last_error}
            for j in session.execute(query).scalars()
        ]


flow_option = click.option("--flow", type=click.Choice([f.value for f in Flow]), help="Only this flow.")


@click.command()
@flow_option
@json_option
def attention(flow: str | None, as_json: bool) -> None:
    """Items parked for a person, with the reason (fix the data, then replay)."""
    rows = _listing(JobState.ATTENTION, flow)
    emit(rows, as_json, ["id", "flow", "key", "ifs", "shipbob", "updated", "reason"])


@click.command()
@flow_option
@json_option
def failed(flow: str | None, as_json: bool) -> None:
    """Items that failed permanently or ran out of retries, with the last error."""
    rows = _listing(JobState.FAILED, flow)
    emit(rows, as_json, ["id", "flow", "key", "ifs", "shipbob", "attempts", "updated", "last_error"])


@click.command()
@click.argument("job_id", type=int)
@json_option
def show(job_id: int, as_json: bool) -> None:
    """One item with its history of attempts."""
    ctx = make_context()
    with ctx.session() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise click.ClickException(f"no item {job_id}")
        attempts = session.execute(
            select(JobAttempt).where(JobAttempt.job_id == job_id).order_by(JobAttempt.id)
        ).scalars().all()
        data = {c.name: getattr(job, c.name) for c in Job.__table__.columns}
        history = [{"started": a.started_at, "finished": a.finished_at, "outcome": a.outcome,
                    "detail": a.detail} for a in attempts]
    if as_json:
        emit({**data, "attempts_history": history}, True)
        return
    emit(data, False, title=f"Item {job_id}")
    click.echo()
    emit(history, False, ["started", "finished", "outcome", "detail"], title="Attempts")


@click.command()
@click.argument("job_id", type=int, required=False)
@flow_option
@click.option("--since", type=click.DateTime(), help="Parked or failed items updated since (UTC).")
@click.option("--all-failed", is_flag=True, help="Every failed item.")
@click.option("--dry-run", is_flag=True, help="Only list what would be replayed.")
@click.option("--inline", is_flag=True, help="Run the items here and now instead of waking workers.")
@json_option
def replay(job_id, flow, since, all_failed, dry_run, inline, as_json) -> None:
    """Run items again; the flows are idempotent, so a replay never duplicates an effect."""
    if not (job_id or flow or since or all_failed):
        raise click.UsageError("give an item ID, --flow, --since or --all-failed")
    ctx = make_context()
    with ctx.session() as session:
        query = select(Job).where(Job.state != JobState.RUNNING.value)
        if job_id:
            query = query.where(Job.id == job_id)
        else:
            states = [JobState.FAILED.value] if all_failed else [JobState.FAILED.value, JobState.ATTENTION.value]
            query = query.where(Job.state.in_(states))
        if flow:
            query = query.where(Job.flow == flow)
        if since:
            query = query.where(Job.updated_at >= since.replace(tzinfo=timezone.utc))
        chosen = [(j.id, j.flow, j.key, j.state) for j in session.execute(query).scalars()]
        if not dry_run:
            for jid, *_ in chosen:
                jobs.replay(session, jid)
    rows = [{"id": i, "flow": f, "key": k, "was": s} for i, f, k, s in chosen]
    if dry_run or not rows:
        emit(rows, as_json, ["id", "flow", "key", "was"], title="Would replay" if dry_run else None)
        return
    results = run_or_wake(ctx, [(r["id"], r["flow"]) for r in rows], inline)
    for row in rows:
        row["result"] = results.get(row["id"])
    emit(rows, as_json, ["id", "flow", "key", "was", "result"], title="Replayed")


def run_or_wake(ctx, items: list[tuple[int, str]], inline: bool) -> dict[int, str]:
    if inline:
        from connector.runner import run_job as run_once

        with click.progressbar(items, label="running", file=sys.stderr) as bar:
            return {jid: run_once(ctx, jid).status for jid, _ in bar}
    from workers import dispatch

    results = {}
    for jid, flow in items:
        try:
            dispatch.wake_job(jid, flow)
            results[jid] = "queued"
        except Exception:  # broker down: the row is due, the sweeper wakes it
            results[jid] = "due (broker unreachable; the sweeper will queue it)"
    return results


@click.command()
@click.option("--from", "start", type=click.DateTime(), required=True, help="UTC start of the range.")
@click.option("--to", "end", type=click.DateTime(), required=True, help="UTC end of the range.")
@click.option("--inline", is_flag=True, help="Push the orders here and now instead of waking workers.")
@json_option
def backfill(start: datetime, end: datetime, inline: bool, as_json: bool) -> None:
    """Re-run the IFS order poll over a date range (the cursor is left alone)."""
    from connector.flows.order_poll import poll_orders

    ctx = make_context()
    created = poll_orders(ctx, since=start.replace(tzinfo=timezone.utc), until=end.replace(tzinfo=timezone.utc))
    results = run_or_wake(ctx, [(jid, Flow.ORDER_PUSH.value) for jid in created], inline)
    emit({"new_items": len(created), "results": results}, as_json)


@click.command()
@click.argument("what", type=click.Choice(POLL_NAMES))
@click.option("--inline", is_flag=True, help="Run the found items here and now.")
def poll(what: str, inline: bool) -> None:
    """Run one poll now (what beat does on its schedule)."""
    from connector.polls import run_poll

    ctx = make_context()
    flow, job_ids = run_poll(ctx, what)
    results = run_or_wake(ctx, [(jid, flow) for jid in job_ids], inline)
    click.echo(f"{what}: {len(job_ids)} item(s) " + ("run" if inline else "queued"))
    for jid, result in results.items():
        click.echo(f"  {jid}: {result}")


@click.command("run-job")
@click.argument("job_id", type=int)
def run_job(job_id: int) -> None:
    """Run one item in this process (debugging)."""
    from connector.runner import run_job as run_once

    result = run_once(make_context(), job_id)
    click.echo(f"{result.status}: {result.detail or ''}")
