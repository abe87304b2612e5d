"""`ifs-shipbob reconcile` and `ifs-shipbob sync-inventory`."""

from __future__ import annotations

import click

from cli.common import STDERR, emit, json_option, make_context, timestamp
from connector.reconcile import DEFAULT_DAYS, CheckResult
from connector.reconcile import reconcile as run_reconcile


def summary_rows(results: list[CheckResult]) -> list[dict]:
    return [{"check": r.name, "checked": r.checked, "differences": len(r.differences),
             "explained": len(r.differences) - len(r.unexplained), "unexplained": len(r.unexplained)}
            for r in results]


def print_report(results: list[CheckResult], as_json: bool) -> bool:
    """Print the table (and the unexplained items); True when all reconciled."""
    if as_json:
        emit([{**row, "items": [vars(d) for d in r.differences]}
              for row, r in zip(summary_rows(results), results)], True)
    else:
        emit(summary_rows(results), False, ["check", "checked", "differences", "explained", "unexplained"],
             title="Reconciliation")
        for r in results:
            for d in r.differences[:20]:
                why = f" ({d.explained_by})" if d.explained_by else ""
                click.echo(f"  {r.name}: {d.key}: {d.detail}{why}")
    return not any(r.unexplained for r in results)


@click.command()
@click.option("--days", type=click.IntRange(min=0), default=DEFAULT_DAYS, show_default=True,
              help="How far back to compare (0: all history; costs a ShipBob call per 50 orders).")
@json_option
def reconcile(days: int, as_json: bool) -> None:
    """What differs between IFS and ShipBob; exits 1 when anything unexplained differs."""
    if not print_report(run_reconcile(make_context(), days=days), as_json):
        raise SystemExit(1)


@click.command("sync-inventory")
@click.option("--site", help="Only this IFS site.")
@click.option("--dry-run", is_flag=True, help="Compare and report; write nothing to either system.")
@json_option
def sync_inventory(site: str | None, dry_run: bool, as_json: bool) -> None:
    """Compare stock per SKU, report (or count) each difference, send levels to IFS, write the drift report."""
    from connector.flows.inventory_sync import sync_inventory as run_sync

    ctx = make_context()
    try:
        result = run_sync(ctx, site=site, dry_run=dry_run, progress=_progress_line())
    finally:
        STDERR.end_progress()
    if not dry_run:
        _recheck_shortages(ctx)
    if as_json:
        emit({**result.summary(), "run_at": timestamp(result.run_at)}, True)  # the CLI's one time format
    else:
        click.echo(result.summary_text())


def _recheck_shortages(ctx) -> None:
    """As the daily sync's end does: orders held for stock and flagged shortages are
    checked again (connector/flows/stock_shortage.py); the workers run them."""
    from cli.ops import run_or_wake
    from connector.db.models import Flow
    from connector.flows.stock_shortage import wake_after

    woken = [job_id for job_id, _flow, _key in wake_after(ctx, Flow.INVENTORY_SYNC.value)]
    if woken:
        run_or_wake(ctx, woken, inline=False)  # broker down: they are due, the sweeper wakes them
        click.echo(f"{len(woken)} order(s) held or flagged for stock are checked again", err=True)


def _progress_line():
    """One updating line on stderr: the phase and how many rows it has done."""
    def show(phase: str, count: int) -> None:
        STDERR.progress(f"{phase.replace('_', ' ')}: {count:,}")

    return show
