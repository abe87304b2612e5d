"""`ifs-shipbob doctor`: one line per check, with the fix when it fails."""

from __future__ import annotations

from dataclasses import dataclass

import click
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from cli.common import emit, json_option, make_context
from connector.context import Context
from connector.ifs.errors import IfsNotFound
from connector.ifs.name_check import Csdl, missing_names, required_names

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
    """Every IFS name the connector uses exists in the tenant's $metadata:
    entity sets, keys, navigations, properties, enum types and members, bound
    actions and their parameters (connector/ifs/name_check.py)."""
    checks = []
    for projection, needs in required_names(ctx.names).items():
        try:
            document = ctx.ifs.metadata(projection)
        except IfsNotFound:
            # One wrong projection name must not hide the other projections' checks.
            checks.append(Check(f"ifs $metadata {projection}", False,
                                f"missing projection {projection} (no $metadata under "
                                f"/{ctx.names.prefix}/)",
                                "set the tenant's projection name (or `prefix`) in the mapping "
                                "file under `ifs:`"))
            continue
        missing = missing_names(Csdl.parse(document), needs)
        checks.append(Check(f"ifs $metadata {projection}", not missing,
                            f"has all {len(needs)} names the connector uses" if not missing
                            else "missing " + "; ".join(need.describe() for need in missing),
                            "set the tenant's names in the mapping file under `ifs:`"))
    return checks


# (label, probe): the label names the check when the probe itself fails, the
# same label its own ok line uses.
PROBES = [("database", _database), ("broker", _broker), ("redis", _redis), ("ifs auth", _ifs_auth),
          ("shipbob channel", _shipbob_channel), ("site mapping", _fulfillment_centers),
          ("ifs $metadata", _ifs_metadata)]

