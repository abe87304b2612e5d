"""`ifs-shipbob auth shipbob`: store a new ShipBob refresh token.

The recovery from an OAuth lockout in one command: the jobs that waited for
it resume by themselves, nothing is replayed. A refresh token is read from
stdin or a hidden prompt, never from the command line (argv shows up in
`ps` and in shell history).
"""

from __future__ import annotations

import sys

import click

from cli.common import make_context
from connector.errors import ConnectorError


@click.group()
def auth() -> None:
    """Store API credentials."""


@auth.command()
@click.option("--code", help="Authorisation code from ShipBob's consent redirect (#code=...).")
@click.option("--redirect-uri", help="The redirect URI the code was issued for (exact).")
@click.option("--code-verifier", help="The PKCE code verifier used to authorise.")
@click.option("--refresh-token", "paste", is_flag=True,
              help="Read a refresh token from stdin (or a hidden prompt) instead.")
def shipbob(code: str | None, redirect_uri: str | None, code_verifier: str | None, paste: bool) -> None:
    """Store a new ShipBob OAuth refresh token and resume the waiting jobs.

    Either exchange an authorisation code (--code, --redirect-uri,
    --code-verifier), or give a refresh token on stdin (--refresh-token).
    """
    from connector.shipbob import reauthorise

    if paste == bool(code):
        raise click.UsageError("give either --code (with --redirect-uri and --code-verifier) "
                               "or --refresh-token")
    if code and not (redirect_uri and code_verifier):
        raise click.UsageError("--code needs --redirect-uri and --code-verifier")
    ctx = make_context()
    try:
        if code and redirect_uri and code_verifier:
            woken = reauthorise.store_grant(ctx, reauthorise.exchange_code(ctx, code, redirect_uri, code_verifier))
        else:
            woken = reauthorise.store_refresh_token(ctx, _read_token())
    except ConnectorError as exc:
        raise click.ClickException(str(exc)) from None
    _wake(woken)
    click.echo(f"ShipBob refresh token stored; {len(woken)} waiting item(s) resumed")


def _wake(woken: list[tuple[int, str, str]]) -> None:
    from workers import dispatch

    for job_id, flow, key in woken:
        try:
            dispatch.wake_job(job_id, flow, key)
        except Exception:  # noqa: BLE001 - broker down: the row is due, the sweeper queues it
            pass


def _read_token() -> str:
    if sys.stdin.isatty():
        token = click.prompt("ShipBob refresh token", hide_input=True)
    else:
        token = sys.stdin.readline()
    token = token.strip()
    if not token:
        raise click.UsageError("no refresh token on stdin")
    return token
