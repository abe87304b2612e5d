"""SKU -> ShipBob inventory id, cached for the whole pool.

Order lines, returns and WROs all need it; look-ups are batched (one call per
~50 SKUs, never one per line) and cached in the coordinator so a pool of
workers shares them.
"""

from __future__ import annotations

import json
from typing import Iterable

from connector.context import Context

CACHE_SECONDS = 600


def inventory_ids_for(ctx: Context, skus: Iterable[str]) -> dict[str, int]:
    """The SKUs ShipBob knows, with their inventory ids; unknown ones are absent."""
    found: dict[str, int] = {}
    missing = []
    for sku in sorted(set(skus)):
        cached = ctx.coordinator.cache_get(f"sku:{sku}")
        if cached is None:
            missing.append(sku)
        else:
            found[sku] = json.loads(cached)["inventory_id"]
    if missing:
        variants = ctx.shipbob.variants_by_sku(missing)
        for sku in missing:
            inventory_id = ((variants.get(sku) or {}).get("inventory") or {}).get("inventory_id")
            # Only known SKUs are cached: an operator who creates a missing
            # product and replays the parked item must not meet a stale "unknown".
            if inventory_id is not None:
                ctx.coordinator.cache_set(f"sku:{sku}", json.dumps({"inventory_id": inventory_id}),
                                          CACHE_SECONDS)
                found[sku] = inventory_id
    return found
