"""The order poll looks up the new orders' SKUs in bulk, so their pushes
find them cached instead of each asking ShipBob for its own few."""

from __future__ import annotations

from connector.flows.order_poll import poll_orders
from connector.runner import run_job
from tests.helpers import hook, seed_world

PRODUCT_LOOKUP = "GET /2026-01/product"


def _lookups(shipbob) -> int:
    return hook(shipbob, "stats", method="GET")["requests"].get(PRODUCT_LOOKUP, 0)


def test_the_poll_warms_the_sku_cache_for_the_pushes(ctx, sandboxes):
    ifs, shipbob = sandboxes
    seed_world(sandboxes, orders=60, parts=80, split_ratio=0)
    before = _lookups(shipbob)
    created = poll_orders(ctx)
    assert len(created) == 60
    warmed = _lookups(shipbob) - before
    assert 1 <= warmed <= 2  # at most 80 SKUs in ~50-SKU batches, not one call per order

    for job_id in created:
        assert run_job(ctx, job_id).status == "done"
    assert _lookups(shipbob) - before == warmed  # every push found its SKUs cached
    assert poll_orders(ctx) == []
    assert _lookups(shipbob) - before == warmed  # nothing new: nothing looked up
