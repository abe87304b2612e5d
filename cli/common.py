"""Helpers shared by the commands: the context, JSON or table output."""

from __future__ import annotations

import json
from datetime import datetime

import click

from connector.context import Context
from connector.settings import load_settings

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def make_context() -> Context:
    import logging

    from connector import logs

    settings = load_settings()
    # Commands print their own results; only problems go to the log (stderr).
    logs.configure(settings, level=logging.WARNING)
    return Context(settings)


def emit(data, as_json: bool, columns: list[str] | None = None, title: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=_default))
        return
    if title:
        click.secho(title, bold=True)
    if isinstance(data, list):
        _table(data, columns or (list(data[0]) if data else []))
    elif isinstance(data, dict):
        width = max((len(k) for k in data), default=0)
        for key, value in data.items():
            click.echo(f"{key.ljust(width)}  {_cell(value)}")


def _table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)))


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=_default)
    return str(value)


def _default(value):
    return value.isoformat() if isinstance(value, datetime) else str(value)
