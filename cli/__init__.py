"""`ifs-shipbob`: the operator's command line.

Commands are imported only when run (or asked for their own help), so
`ifs-shipbob --help` answers without loading SQLAlchemy, Celery or the
clients. Each command is one line of COMMANDS: name, where it lives, and the
one-line summary `--help` lists (tests/unit/test_cli_registry.py checks the
summary against the command's own docstring).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

import click

# name -> ("module:attribute", summary shown by `ifs-shipbob --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "migrate": ("cli.ops:migrate", "Create or upgrade the database schema (Alembic)."),
    "status": ("cli.ops:status",
        "Per flow: counts by state, oldest pending item; last polls; rate-limit headroom."),
    "attention": ("cli.ops:attention",
        "Items parked for a person, with the reason (fix the data, then replay)."),
    "failed": ("cli.ops:failed", "Items that failed permanently or ran out of retries, with the last error."),
    "show": ("cli.ops:show", "One item with its history of attempts."),
    "resolve": ("cli.resolve:resolve", "Close a parked or failed item that was fixed by hand."),
    "ignore": ("cli.resolve:ignore", "Close a parked or failed item that needs nothing done."),
    "replay": ("cli.ops:replay",
        "Run items again; the flows are idempotent, so a replay never duplicates an effect."),
    "backfill": ("cli.ops:backfill",
        "Re-run the IFS order poll over a date range (the cursor is left alone)."),
    "poll": ("cli.ops:poll", "Run one poll now (what beat does on its schedule)."),
    "run-job": ("cli.ops:run_job", "Run one item in this process (debugging)."),
    "reconcile": ("cli.reconcile:reconcile",
        "What differs between IFS and ShipBob; exits 1 when anything unexplained differs."),
    "sync-inventory": ("cli.reconcile:sync_inventory",
        "Compare stock per SKU, report (or count) each difference, send levels to IFS, write the drift report."),
    "doctor": ("cli.doctor:doctor",
        "Check settings, database, broker, both APIs and the IFS names in $metadata."),
    "sandbox": ("cli.sandboxes:sandbox", "Run a local stand-in for IFS Cloud or ShipBob."),
    "webhooks": ("cli.webhooks_cmd:webhooks", "Manage the ShipBob webhook subscription of this connector."),
    "demo": ("cli.demo:demo", "Run a realistic day through every flow and reconcile both systems."),
    "auth": ("cli.auth:auth", "Store API credentials."),
}


class _Flag:
    on = False


VERBOSE = _Flag()  # `ifs-shipbob -v`: the commands' logs include warnings


def load_command(name: str) -> click.Command:
    module, _, attribute = COMMANDS[name][0].partition(":")
    return getattr(importlib.import_module(module), attribute)


class _LazyCommands(MutableMapping):
    """`group.commands` for code that reads it directly: names from COMMANDS,
    a command imported when looked up; add_command() still works."""

    def __init__(self) -> None:
        self._added: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name in self._added:
            return self._added[name]
        if name in COMMANDS:
            return load_command(name)
        raise KeyError(name)

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._added[name] = command

    def __delitem__(self, name: str) -> None:
        del self._added[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*COMMANDS, *(n for n in self._added if n not in COMMANDS)])

    def __len__(self) -> int:
        return len(list(iter(self)))


class _LazyGroup(click.Group):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands()  # type: ignore[assignment]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The registry's summaries: listing must not import every command.
        added = [(name, cmd.get_short_help_str()) for name, cmd in self.commands._added.items()]  # type: ignore[attr-defined]
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in COMMANDS.items()] + added)

    def invoke(self, ctx: click.Context):
        from cli.failures import one_line

        with one_line():
            return super().invoke(ctx)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ifs-shipbob", prog_name="ifs-shipbob", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", is_flag=True, help="Also log warnings (e.g. each retry) on stderr.")
def main(verbose: bool) -> None:
    """Connector between IFS Cloud and ShipBob.

    Settings come from the environment, then from ./.env (the environment wins).
    """
    from cli.dotenv import load_dotenv_file

    VERBOSE.on = verbose
    load_dotenv_file()
