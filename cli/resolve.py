"""`ifs-shipbob resolve|ignore ITEM --note`: a person closes a parked or
failed item, so it stops counting in `attention`, `failed` and reconcile.
Who, when and the note are stored on the item (`show` prints them)."""

from __future__ import annotations

import getpass
import os

import click

from cli.common import emit, json_option, make_context, timestamp
from cli.items import find_item
from connector.db.models import JobState

ITEM_HELP = "ITEM is an item ID, an IFS order (or RMA, PO) number or a ShipBob id. A replay reopens the item."


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a container
        return os.environ.get("USER") or "unknown"


def _close(item: str, note: str, by: str | None, state: JobState, as_json: bool) -> None:
    from connector import jobs

    if not note.strip():
        raise click.BadParameter("say why in a few words", param_hint="--note")
    ctx = make_context()
    with ctx.session() as session:
        job = find_item(session, item)
        if not jobs.close(session, job.id, state, by or _operator(), note.strip()):
            raise click.ClickException(f"item {job.id} is {job.state}: only parked (attention) or failed "
                                       "items can be resolved or ignored")
        session.refresh(job)
        data = {"id": job.id, "flow": job.flow, "key": job.key, "state": job.state,
                "resolved_by": job.resolved_by, "resolved_at": timestamp(job.resolved_at),
                "resolution_note": job.resolution_note}
    if as_json:
        emit(data, True)
        return
    click.echo(
        f"item {data['id']} ({data['flow']} {data['key']}) {data['state']} by {data['resolved_by']} "
        f"at {data['resolved_at']}: {data['resolution_note']}")


note_option = click.option("--note", required=True, help="Why: what was done, or why nothing needs doing.")
by_option = click.option("--by", help="Who (default: the login name).")


@click.command(epilog=ITEM_HELP)
@click.argument("item", metavar="ITEM")
@note_option
@by_option
@json_option
def resolve(item: str, note: str, by: str | None, as_json: bool) -> None:
    """Close a parked or failed item that was fixed by hand."""
    _close(item, note, by, JobState.RESOLVED, as_json)


@click.command(epilog=ITEM_HELP)
@click.argument("item", metavar="ITEM")
@note_option
@by_option
@json_option
def ignore(item: str, note: str, by: str | None, as_json: bool) -> None:
    """Close a parked or failed item that needs nothing done."""
    _close(item, note, by, JobState.IGNORED, as_json)
