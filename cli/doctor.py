"""`ifs-shipbob doctor`: one line per check, with the fix when it fails."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import click
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cli.common import emit, json_option, make_context
from connector.context import Context

# Scopes the connector's writes need (shipbob.md §2).
WRITE_SCOPES = {"orders_write", "receiving_write", "returns_write", "webhooks_write"}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


@click.command()
@json_option
def doctor(as_json: bool) -> None:
    """Check settings, database, broker, both APIs and the IFS names in $metadata."""
    ctx = make_context()
    checks: list[Check] = [Check("settings", True, "loaded and valid")]
    for label, probe in PROBES:
        try:
            checks.extend(probe(ctx))
        except Exception as exc:  # a probe that crashes is a failed check, not a crash
            from cli.failures import describe

            described = describe(exc)
            detail = described[0] if described else f"{type(exc).__name__}: {exc}"
            checks.append(Check(label, False, detail, "see the detail; run with the same environment as the workers"))
    if as_json:
        emit([{"check": c.name, "ok": c.ok, "detail": c.detail, "fix": c.fix if not c.ok else None}
              for c in checks], True)
    else:
        for check in checks:
            mark = click.style("ok  ", fg="green") if check.ok else click.style("FAIL", fg="red")
            click.echo(f"{mark} {check.name}: {check.detail}" + ("" if check.ok else f" -> fix: {check.fix}"))
    if not all(c.ok for c in checks):
        raise SystemExit(1)


def _database(ctx: Context) -> list[Check]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from connector.db.session import MIGRATIONS_DIR

    with ctx.session() as session:
        session.execute(text("SELECT 1"))
    try:
        with ctx.session() as session:
            current = session.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    except SQLAlchemyError:  # no schema at all yet
        current = None
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    if current is None:
        schema = Check("schema", False, "not migrated (no connector tables)", "run `ifs-shipbob migrate`")
    else:
        schema = Check("schema", current == head, f"at revision {current}" + (
            " (the latest)" if current == head else f", the latest is {head}"), "run `ifs-shipbob migrate`")
    return [Check("database", True, "reachable"), schema]


def _broker(ctx: Context) -> list[Check]:
    from workers.app import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)
    return [Check("broker", True, "reachable")]


def _redis(ctx: Context) -> list[Check]:
    if not ctx.settings.redis_url:
        return [Check("redis", True, "not configured: in-process limiter and locks (one worker process only)")]
    import redis

    redis.Redis.from_url(ctx.settings.redis_url, socket_timeout=3).ping()
    return [Check("redis", True, "reachable (shared rate limiter, locks, token cache)")]


def _ifs_auth(ctx: Context) -> list[Check]:
    # A new grant, not the cached token: a wrong secret must fail here even
    # while a token granted before it changed is still cached.
    ctx.ifs.auth.fresh_token()
    return [Check("ifs auth", True, f"client {ctx.settings.ifs_client_id} got a new token")]


def _shipbob_channel(ctx: Context) -> list[Check]:
    channels = {c["id"]: c for c in ctx.shipbob.channels()}
    channel = channels.get(ctx.settings.shipbob_channel_id)
    if channel is None:
        return [Check("shipbob channel", False, f"channel {ctx.settings.shipbob_channel_id} not visible",
                      f"set SHIPBOB_CHANNEL_ID to one of {sorted(channels)}")]
    missing = WRITE_SCOPES - set(channel.get("scopes") or [])
    return [Check("shipbob channel", not missing,
                  f"{channel.get('name')} ({channel['id']})" + (f" lacks {sorted(missing)}" if missing else " has the write scopes"),
                  "grant the missing scopes to the app or use the channel that has them")]


def _fulfillment_centers(ctx: Context) -> list[Check]:
    known = {fc["id"] for fc in ctx.shipbob.fulfillment_centers()}
    unknown = {site: fc for site, fc in ctx.mapping.sites.items() if fc not in known}
    return [Check("site mapping", not unknown,
                  "every mapped site has a ShipBob fulfillment center" if not unknown
                  else f"unknown fulfillment centers {unknown}",
                  f"map sites to one of {sorted(known)} in the mapping file")]


def _ifs_metadata(ctx: Context) -> list[Check]:
    """Every projection, entity set, field and action the mapping names exists."""
    n = ctx.names
    wanted: dict[str, dict[str, list[str]]] = {}

    def need(projection: str, kind: str, *names: str) -> None:
        wanted.setdefault(projection, {}).setdefault(kind, []).extend(x for x in names if x)

    co = n.customer_order
    need(co.projection, "sets", co.order_set, co.line_set, co.address_set)
    need(co.projection, "fields", co.shipbob_id_field, co.changed_field)
    need(co.projection, "actions", n.fulfillment.action)
    need(n.fulfillment.voucher_projection, "sets", n.fulfillment.voucher_set)
    need(n.returns.projection, "sets", n.returns.rma_set)
    need(n.returns.projection, "actions", n.returns.receive_action)
    need(n.purchase.projection, "sets", n.purchase.order_set)
    need(n.purchase.receipt_projection, "sets", n.purchase.receipt_set)
    need(n.stock.projection, "sets", n.stock.stock_set)
    need(n.stock.projection, "fields", n.stock.quantity_field)
    if n.stock.external_level_set:
        need(n.stock.external_level_projection, "sets", n.stock.external_level_set)

    checks = []
    for projection, kinds in wanted.items():
        found = _metadata_names(ctx.ifs.metadata(projection))
        missing = [f"{kind[:-1]} {name}" for kind, names in kinds.items() for name in names
                   if name not in found[kind]]
        checks.append(Check(f"ifs $metadata {projection}", not missing,
                            "has every configured name" if not missing else f"missing {', '.join(missing)}",
                            "set the tenant's names in the mapping file under `ifs:`"))
    return checks


# (label, probe): the label names the check when the probe itself fails, the
# same label its own ok line uses.
PROBES = [("database", _database), ("broker", _broker), ("redis", _redis), ("ifs auth", _ifs_auth),
          ("shipbob channel", _shipbob_channel), ("site mapping", _fulfillment_centers),
          ("ifs $metadata", _ifs_metadata)]


def _metadata_names(xml: str) -> dict[str, set[str]]:
    root = ET.fromstring(xml)

    def by_tag(tag: str) -> set[str]:
        return {el.get("Name") for el in root.iter() if el.tag.rsplit("}", 1)[-1] == tag}

    return {"sets": by_tag("EntitySet"), "fields": by_tag("Property"), "actions": by_tag("Action")}
