"""Helpers shared by the commands: the context, JSON or table output,
timestamps in one format, and a progress line that log lines do not glue to."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO

import click

from cli import VERBOSE
from connector.context import Context
from connector.errors import ConfigError
from connector.settings import Settings, load_settings

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")

# Every time the CLI prints, table or JSON: ISO 8601, UTC, to the second.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DEMO_DATABASE = "state/demo/connector.db"


def make_context() -> Context:
    import logging

    from connector import logs

    settings = load_settings()
    require_database_file(settings)
    # Commands print their own results and their failure in one line; the
    # log (stderr) has only errors, or warnings too (retries) with -v, each
    # on a line of its own even while a progress line is showing.
    logs.configure(settings, level=logging.WARNING if VERBOSE.on else logging.ERROR, stream=STDERR)
    return Context(settings)


def require_database_file(settings: Settings) -> None:
    """A SQLite file that is not there means "never migrated" (or the wrong
    DATABASE_URL): say so instead of creating an empty database."""
    url = settings.database_url
    if not url.startswith("sqlite"):
        return
    path = url.split("///", 1)[-1]
    if path and path != ":memory:" and not Path(path).exists():
        demo = (f"; the demo's state is DATABASE_URL=sqlite:///{DEMO_DATABASE}"
                if Path(DEMO_DATABASE).exists() else "")
        raise ConfigError(f"no database at {path} (DATABASE_URL): run `ifs-shipbob migrate` to create it{demo}")


def timestamp(value: datetime | str | float | None) -> str | None:
    """One format for every time shown: 2026-11-26T10:15:00Z. Naive values are UTC;
    strings are parsed as ISO 8601, numbers as Unix epochs."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value) if value.replace(".", "", 1).isdigit() else datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, timezone.utc)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime(TIME_FORMAT)


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
        return timestamp(value) or "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=_default)
    return str(value)


def _default(value):
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class _Stderr:
    """stderr that ends a pending progress line before anything else is
    written (a log line), so the two never share a line."""

    def __init__(self) -> None:
        self.pending = False

    @property
    def stream(self) -> IO[str]:
        return sys.stderr  # looked up each time: click's test runner swaps it

    def progress(self, text: str) -> None:
        """Overwrite the progress line (only on a terminal; in a log file each
        update would be a line of noise)."""
        if self.stream.isatty():
            self.stream.write(f"\r{text}".ljust(60))
            self.stream.flush()
            self.pending = True

    def end_progress(self) -> None:
        if self.pending:
            self.stream.write("\n")
            self.stream.flush()
            self.pending = False

    def write(self, text: str) -> int:
        self.end_progress()
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


STDERR = _Stderr()
