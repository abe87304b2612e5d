"""Small helpers for talking to the sandboxes from tests."""

from __future__ import annotations

import time

import requests
from sqlalchemy import select

from connector.context import Context
from connector.db.models import Flow, Job, WebhookEvent
from connector.db.session import session_scope
from connector.settings import load_settings

PAT_HEADERS = {"Authorization": "Bearer sandbox-pat", "shipbob_channel_id": "128944"}


def hook(server, path, body=None, method="POST"):
    response = requests.request(method, f"{server.url}/_sandbox/{path}", json=body, timeout=60)
    response.raise_for_status()
    return response.json() if response.content else None


def ifs_rows(server, entity_set):
    return hook(server, f"dump/{entity_set}", method="GET")["value"]


def shipbob_api(server, method, path, body=None):
    response = requests.request(method, f"{server.url}/2026-01/{path.lstrip('/')}", json=body,
                                headers=PAT_HEADERS, timeout=60)
    response.raise_for_status()
    return response.json() if response.content else None


def seed_world(sandboxes, orders=20, parts=30, split_ratio=0.3, purchase_orders=0):
    ifs, shipbob = sandboxes
    summary = hook(ifs, "seed", {"orders": orders, "parts": parts, "seed": 7, "sites": ["S01", "S02"],
                                 "split_ratio": split_ratio, "purchase_orders": purchase_orders})
    hook(shipbob, "seed", {"count": parts, "seed": 7, "level_range": [500, 1000]})
    return summary


def eventually(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


class Recorder:
    """The receiver's enqueue function in tests: records the event ids, and
    checks each row is committed before its wake-up is sent."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.ids: list[int] = []

    def __call__(self, event_id: int) -> None:
        with session_scope(self.database_url) as session:
            assert session.get(WebhookEvent, event_id) is not None, "enqueued before commit"
        self.ids.append(event_id)


def context_with(settings, tmp_path, mapping_yaml: str) -> Context:
    """A context on the test's database, Redis and sandboxes with this mapping file."""
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(mapping_yaml)
    return Context(load_settings(**{k: getattr(settings, k) for k in (
        "database_url", "redis_url", "redis_prefix", "ifs_base_url", "shipbob_base_url",
        "shipbob_rate_limit_per_minute", "reports_dir")}, mapping_file=mapping))


def drift_item(ctx, site: str = "S01") -> Job | None:
    """The inventory sync's stock-drift attention item of `site`, detached."""
    with ctx.session() as session:
        job = session.execute(select(Job).where(Job.flow == Flow.INVENTORY_SYNC.value,
                                                Job.key == f"stock-drift:{site}")).scalar_one_or_none()
        if job is not None:
            session.expunge(job)
        return job
