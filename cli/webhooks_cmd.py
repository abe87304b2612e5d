"""`ifs-shipbob webhooks subscribe|list|delete`: the ShipBob subscription."""

from __future__ import annotations

import click

from cli.common import emit, json_option, make_context, timestamp
from connector import kv


@click.group()
def webhooks() -> None:
    """Manage the ShipBob webhook subscription of this connector."""


@webhooks.command()
@click.option("--url", required=True, help="Public HTTPS URL of the receiver's /webhooks/shipbob.")
@click.option("--description", default="ifs-shipbob connector", show_default=True)
def subscribe(url: str, description: str) -> None:
    """Subscribe to every topic the connector handles in the webhook API version
    (SHIPBOB_WEBHOOK_API_VERSION, else SHIPBOB_API_VERSION) and to
    SHIPBOB_WEBHOOK_EXTRA_TOPICS, and store the signing secret ShipBob returns
    (it is never shown again)."""
    ctx = make_context()
    created = subscribe_receiver(ctx, url, description)
    version = ctx.settings.effective_shipbob_webhook_api_version
    click.echo(f"subscribed {created['id']} to {len(created['topics'])} topic(s) of {version} at {url}; "
               "the secret is stored")


def subscribe_receiver(ctx, url: str, description: str = "ifs-shipbob connector") -> dict:
    """Subscribe and store the returned secret where the receiver reads it."""
    from webhooks.secrets import KV_SECRET_KEY
    from webhooks.topics import topics_for_version

    settings = ctx.settings
    topics = topics_for_version(settings.effective_shipbob_webhook_api_version,
                                settings.shipbob_webhook_extra_topics)
    created = ctx.shipbob.create_webhook(topics, url, description=description)
    with ctx.session() as session:
        kv.put(session, KV_SECRET_KEY, created["secret"])
    return {**created, "topics": topics}


@webhooks.command("list")
@json_option
def list_(as_json: bool) -> None:
    """The current subscriptions (ShipBob never returns their secrets)."""
    ctx = make_context()
    rows = [{"id": w.get("id"), "url": w.get("url"), "topics": ",".join(w.get("topics") or []),
             "created": timestamp(w.get("created_at"))} for w in ctx.shipbob.webhooks()]
    emit(rows, as_json, ["id", "url", "topics", "created"])


@webhooks.command()
@click.argument("subscription_id")
def delete(subscription_id: str) -> None:
    """Delete a subscription (ShipBob has no update: delete and subscribe again)."""
    make_context().shipbob.delete_webhook(subscription_id)
    click.echo(f"deleted {subscription_id}")
