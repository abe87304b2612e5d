"""Day-to-day operations: status, what needs attention, replay, backfill."""

from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy import func, select

from cli.common import STDERR, emit, json_option, make_context, timestamp
from cli.items import find_item, require_items
from cli.params import ISO_DATETIME
from connector import jobs, kv
from connector.db.models import Flow, InventorySnapshot, Job, JobAttempt, JobState
from connector.polls import POLL_NAMES
from connector.shipbob.ratelimit import WINDOW_SECONDS
from connector.shipbob.reauthorise import oauth_status


@click.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic)."""
    import os

    from connector.db.session import migrate as upgrade
    from connector.settings import Settings

    # Only DATABASE_URL matters here: a migration must not wait on the mapping
    # file or the API settings (the first thing a deployment runs).
    upgrade(os.environ.get("DATABASE_URL") or Settings.model_fields["database_url"].default)
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
        row = {"flow": flow.value, **{s.value: 0 for s in JobState},
               "oldest_pending": timestamp(oldest.get(flow.value))}
        for f, state, n in counts:
            if f == flow.value:
                row[state] = n
        flows.append(row)
    limiter = {k: timestamp(v) if k.endswith("_at") else v for k, v in ctx.coordinator.read("shipbob").items()}
    limiter["calls_in_window"] = ctx.coordinator.window_count("shipbob", WINDOW_SECONDS)
    polls = {name: timestamp(value) for name, value in polls.items()}
    oauth["reauthorisation_needed_since"] = timestamp(oauth["reauthorisation_needed_since"])
    data = {"flows": flows, "last_polls": polls, "last_inventory_sync": timestamp(last_sync),
            "shipbob_rate_limit": {"limit_per_minute": ctx.settings.shipbob_rate_limit_per_minute, **limiter},
            "shipbob_oauth": oauth}
    if as_json:
        emit(data, True)
        return
    emit(flows, False, ["flow"] + [s.value for s in JobState] + ["oldest_pending"], title="Flows")
    click.echo()
    emit({**{f"last poll: {k}": v for k, v in polls.items()}, "last inventory sync": data["last_inventory_sync"]},
         False)
    emit({f"shipbob {k}": v for k, v in data["shipbob_rate_limit"].items()}, False)
    if oauth["reauthorisation_needed_since"]:
        click.secho(f"ShipBob re-authorisation needed since {oauth['reauthorisation_needed_since']}: "
                    f"{oauth['waiting_items']} item(s) wait; run `ifs-shipbob auth shipbob`", fg="red")


def _listing(state: JobState, flow: str | None, limit: int | None = None, text: str | None = None) -> list[dict]:
    ctx = make_context()
    with ctx.session() as session:
        query = select(Job).where(Job.state == state.value).order_by(Job.updated_at, Job.id)
        if flow:
            query = query.where(Job.flow == flow)
        if text:
            column = Job.reason if state == JobState.ATTENTION else Job.last_error
            query = query.where(column.contains(text))
        if limit:
            query = query.limit(limit)
        return [
            {"id": j.id, "flow": j.flow, "key": j.key, "ifs": j.ifs_ref, "shipbob": j.shipbob_refs,
             "attempts": j.attempts, "updated": timestamp(j.updated_at),
             "reason" if state == JobState.ATTENTION else "last_error":
                 j.reason if state == JobState.ATTENTION else j.last_error}
            for j in session.execute(query).scalars()
        ]


flow_option = click.option("--flow", type=click.Choice([f.value for f in Flow]), help="Only this flow.")


limit_option = click.option("--limit", type=click.IntRange(min=1), help="At most this many (oldest first).")


@click.command()
@flow_option
@limit_option
@click.option("--reason", "text", help="Only items whose reason contains this text.")
@json_option
def attention(flow: str | None, limit: int | None, text: str | None, as_json: bool) -> None:
    """Items parked for a person, with the reason (fix the data, then replay).

    When the fix is made outside the connector, or nothing needs doing, close
    the item with `resolve ID --note` or `ignore ID --note`."""
    rows = _listing(JobState.ATTENTION, flow, limit, text)
    emit(rows, as_json, ["id", "flow", "key", "ifs", "shipbob", "updated", "reason"])


@click.command()
@flow_option
@limit_option
@click.option("--error", "text", help="Only items whose last error contains this text.")
@json_option
def failed(flow: str | None, limit: int | None, text: str | None, as_json: bool) -> None:
    """Items that failed permanently or ran out of retries, with the last error."""
    rows = _listing(JobState.FAILED, flow, limit, text)
    emit(rows, as_json, ["id", "flow", "key", "ifs", "shipbob", "attempts", "updated", "last_error"])


item_argument = click.argument("item", metavar="ITEM")
ITEM_HELP = "ITEM is an item ID, an IFS order (or RMA, PO) number or a ShipBob id."


@click.command(epilog=ITEM_HELP + " When ITEM matches several items (an order's push and its shipment), "
               "each is shown; --json then prints a list.")
@item_argument
@json_option
def show(item: str, as_json: bool) -> None:
    """One item with its history of attempts."""
    ctx = make_context()
    with ctx.session() as session:
        shown = []
        for job in require_items(session, item):
            attempts = session.execute(
                select(JobAttempt).where(JobAttempt.job_id == job.id).order_by(JobAttempt.id)
            ).scalars().all()
            history = [{"started": timestamp(a.started_at), "finished": timestamp(a.finished_at),
                        "outcome": a.outcome, "detail": a.detail} for a in attempts]
            shown.append({**_item(job, len(history)), "attempts_history": history})
    if as_json:
        emit(shown[0] if len(shown) == 1 else shown, True)
        return
    for n, data in enumerate(shown):
        if n:
            click.echo()
        history = data.pop("attempts_history")
        emit({k: v for k, v in data.items() if v is not None}, False, title=f"Item {data['id']}")
        click.echo()
        emit(history, False, ["started", "finished", "outcome", "detail"], title="Attempts")


def _item(job: Job, runs: int) -> dict:
    """What an operator needs of a row: no leases, tokens or counters."""
    return {
        "id": job.id, "flow": job.flow, "key": job.key, "state": job.state,
        "ifs": job.ifs_ref, "shipbob": job.shipbob_refs,
        # Every run is in the history, replays included (the row's own
        # counter restarts at each replay for the retry budget).
        "attempts": runs,
        "created": timestamp(job.created_at), "updated": timestamp(job.updated_at),
        "next_run": timestamp(job.next_run_at) if job.state == JobState.PENDING.value else None,
        "waits_for": job.waits_for, "reason": job.reason, "last_error": job.last_error,
        "resolved_by": job.resolved_by, "resolved_at": timestamp(job.resolved_at),
        "resolution_note": job.resolution_note,
    }


@click.command(epilog=ITEM_HELP)
@click.argument("item", metavar="[ITEM]", required=False)
@flow_option
@click.option("--since", type=ISO_DATETIME, help="Parked or failed items updated since (UTC unless an offset is given).")
@click.option("--all-failed", is_flag=True, help="Every failed item.")
@click.option("--dry-run", is_flag=True, help="Only list what would be replayed.")
@click.option("--inline", is_flag=True, help="Run the items here and now instead of waking workers.")
@json_option
def replay(item, flow, since, all_failed, dry_run, inline, as_json) -> None:
    """Run items again; the flows are idempotent, so a replay never duplicates an effect."""
    if not (item or flow or since or all_failed):
        raise click.UsageError("give an ITEM, --flow, --since or --all-failed")
    ctx = make_context()
    with ctx.session() as session:
        query = select(Job).where(Job.state != JobState.RUNNING.value)
        if item:
            query = query.where(Job.id == find_item(session, item).id)
        else:
            states = [JobState.FAILED.value] if all_failed else [JobState.FAILED.value, JobState.ATTENTION.value]
            query = query.where(Job.state.in_(states))
        if flow:
            query = query.where(Job.flow == flow)
        if since:
            query = query.where(Job.updated_at >= since)
        chosen = [(j.id, j.flow, j.key, j.state) for j in session.execute(query).scalars()]
        if not dry_run:
            from cli.resolve import _operator
            from connector import operator_actions

            # Audited like the console's replays (who, when) on each item.
            operator_actions.replay(session, [jid for jid, *_ in chosen], _operator(), "")
    rows = [{"id": i, "flow": f, "key": k, "was": s} for i, f, k, s in chosen]
    if dry_run or not rows:
        emit(rows, as_json, ["id", "flow", "key", "was"], title="Would replay" if dry_run else None)
        return
    results = run_or_wake(ctx, [r["id"] for r in rows], inline)
    for row in rows:
        row["result"] = results.get(row["id"])
    emit(rows, as_json, ["id", "flow", "key", "was", "result"], title="Replayed")
    exit_if_unqueued(results)


def run_or_wake(ctx, job_ids: list[int], inline: bool) -> dict[int, str]:
    if inline:
        from connector.runner import run_job as run_once

        results = {}
        for done, jid in enumerate(job_ids, 1):
            STDERR.progress(f"running {done}/{len(job_ids)}")
            results[jid] = run_once(ctx, jid).status.value
        STDERR.end_progress()
        return results
    from workers import dispatch

    with ctx.session() as session:
        targets = jobs.wake_targets(session, job_ids)
    results = {}
    for jid, flow, key in targets:
        try:
            dispatch.wake_job(jid, flow, key)
            results[jid] = "queued"
        except Exception:  # broker down: the row is due, the sweeper wakes it
            results[jid] = UNQUEUED
    return results


UNQUEUED = "due (broker unreachable; the sweeper will queue it)"


def exit_if_unqueued(results: dict[int, str]) -> None:
    """After the per-item results: one line and exit 1 when the broker was down."""
    if UNQUEUED in results.values():
        from cli.failures import SERVICE_EXIT

        click.echo("error: the broker is unreachable (check BROKER_URL / REDIS_URL); the items are due "
                   "and the sweeper queues them once it is back", err=True)
        raise SystemExit(SERVICE_EXIT)


@click.command()
@click.option("--from", "start", type=ISO_DATETIME, required=True,
              help="Start of the range: 2026-11-26 or 2026-11-26T09:30 (UTC unless an offset is given).")
@click.option("--to", "end", type=ISO_DATETIME, required=True, help="End of the range, same forms.")
@click.option("--inline", is_flag=True, help="Push the orders here and now instead of waking workers.")
@json_option
def backfill(start: datetime, end: datetime, inline: bool, as_json: bool) -> None:
    """Re-run the IFS order poll over a date range (the cursor is left alone)."""
    from connector.flows.order_poll import poll_orders

    ctx = make_context()
    if end <= start:
        raise click.BadParameter("--to must be after --from", param_hint="--to")
    created = poll_orders(ctx, since=start, until=end)
    results = run_or_wake(ctx, created, inline)
    emit({"new_items": len(created), "results": results}, as_json)
    exit_if_unqueued(results)


@click.command()
@click.argument("what", type=click.Choice(POLL_NAMES))
@click.option("--inline", is_flag=True, help="Run the found items here and now.")
@json_option
def poll(what: str, inline: bool, as_json: bool) -> None:
    """Run one poll now (what beat does on its schedule)."""
    from connector.polls import run_poll

    ctx = make_context()
    flow, job_ids = run_poll(ctx, what)
    results = run_or_wake(ctx, job_ids, inline)
    if as_json:
        emit({"poll": what, "flow": flow, "items": len(job_ids),
              "results": [{"id": jid, "result": result} for jid, result in results.items()]}, True)
        exit_if_unqueued(results)
        return
    click.echo(f"{what}: {len(job_ids)} item(s) " + ("run" if inline else "queued"))
    for jid, result in results.items():
        click.echo(f"  {jid}: {result}")
    exit_if_unqueued(results)


@click.command("run-job")
@click.argument("job_id", type=int)
def run_job(job_id: int) -> None:
    """Run one item in this process (debugging)."""
    from connector.runner import run_job as run_once

    result = run_once(make_context(), job_id)
    click.echo(f"{result.status}: {result.detail or ''}")
