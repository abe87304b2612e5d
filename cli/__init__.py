"""`ifs-shipbob`: the operator's command line."""

from __future__ import annotations

import sys

import click

from connector.errors import ConfigError


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            # One clear line naming the bad setting, no traceback.
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
def main() -> None:
    """Connector between IFS Cloud and ShipBob."""


def _register() -> None:
    from cli import demo, doctor, ops, reconcile, sandboxes, webhooks_cmd

    for module in (ops, reconcile, doctor, sandboxes, webhooks_cmd, demo):
        module.register(main)
    from cli import auth as auth_cmd  # `ifs-shipbob auth shipbob`
    auth_cmd.register(main)


_register()
