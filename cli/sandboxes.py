"""`ifs-shipbob sandbox ifs|shipbob`: the local stand-ins, each on its own."""

from __future__ import annotations

import click


def require_sandbox_extra() -> None:
    """The sandboxes are an optional extra, not in the production install."""
    try:
        import jsonschema  # noqa: F401 - the ShipBob sandbox's validator

        import sandbox  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(
            f"the sandboxes are not installed ({exc.name} is missing): pip install 'ifs-shipbob[sandbox]'"
        ) from None


@click.group()
def sandbox() -> None:
    """Run a local stand-in for IFS Cloud or ShipBob."""


@sandbox.command()
@click.option("--port", default=8001, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--seed-orders", default=0, show_default=True, help="Seed this many released orders.")
@click.option("--tenant", "tenant_file", type=click.Path(exists=True, dir_okay=False),
              help="A renamed tenant: a YAML/JSON file of wire renames (sandbox/ifs/tenant.py).")
@click.option("--next-link-form", type=click.Choice(["absolute", "root-relative", "relative"]),
              default="absolute", show_default=True, help="How @odata.nextLink is written.")
@click.option("--date-entered-type", type=click.Choice(["Edm.DateTimeOffset", "Edm.Date"]),
              default="Edm.DateTimeOffset", show_default=True, help="The Edm type of DateEntered.")
def ifs(port: int, host: str, seed_orders: int, tenant_file: str | None, next_link_form: str,
        date_entered_type: str) -> None:
    """IFS Cloud OData stand-in (projections, ETags, client-credentials tokens)."""
    require_sandbox_extra()
    from sandbox.ifs import run
    from sandbox.ifs.tenant import TenantError, TenantRenames, load_tenant

    try:  # the model is built before serving: a bad rename fails here
        run(port=port, host=host, seed_orders=seed_orders,
            tenant=load_tenant(tenant_file) if tenant_file else TenantRenames(),
            next_link_form=next_link_form, date_entered_type=date_entered_type)
    except TenantError as exc:
        raise click.ClickException(str(exc)) from None


@sandbox.command()
@click.option("--port", default=8002, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--seed-skus", default=0, show_default=True, help="Seed this many products with stock.")
def shipbob(port: int, host: str, seed_skus: int) -> None:
    """ShipBob 2026-01 API stand-in (OAuth/PAT, rate limit, signed webhooks)."""
    require_sandbox_extra()
    from sandbox.shipbob import run

    run(port=port, host=host, seed_skus=seed_skus)
