"""Fixtures shared by the ShipBob client integration tests (no tests here):
the ShipBob sandbox over real HTTP, a real-Redis coordinator under a unique
prefix, and request bodies shaped like shipbob.md §4-§5."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from connector.coordination import RedisCoordinator
from connector.settings import Settings
from connector.shipbob import ShipBobClient
from sandbox.shipbob.config import ShipBobSandboxConfig
from sandbox.shipbob.testkit import SandboxHandle

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL_ID = 128944
FC_ID = 156
FAST = 100_000  # a rate limit no test reaches unless it means to


def sandbox(**config) -> SandboxHandle:
    config.setdefault("validate_responses", True)
    config.setdefault("rate_limit_per_minute", FAST)
    return SandboxHandle(ShipBobSandboxConfig(**config)).start()


@pytest.fixture
def prefix():
    prefix = f"ifs-shipbob-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    RedisCoordinator(REDIS_URL, prefix).delete_all()


def client_settings(sb: SandboxHandle, prefix: str, **overrides) -> Settings:
    values = dict(shipbob_base_url=sb.url, shipbob_token=sb.config.pat,
                  shipbob_channel_id=CHANNEL_ID, shipbob_rate_limit_per_minute=FAST,
                  redis_url=REDIS_URL, redis_prefix=prefix, http_timeout_seconds=10)
    values.update(overrides)
    return Settings(**values)


def make_client(sb: SandboxHandle, prefix: str, *, token_store=None, session=None,
                **overrides) -> ShipBobClient:
    return ShipBobClient(client_settings(sb, prefix, **overrides), RedisCoordinator(REDIS_URL, prefix),
                         token_store=token_store, session=session)


def order_body(reference_id: str, sku: str, quantity: int = 1) -> dict:
    return {
        "reference_id": reference_id,
        "order_number": reference_id,
        "shipping_method": "Standard",
        "type": "DTC",
        "recipient": {"name": "John Doe", "email": "john@example.com",
                      "address": {"address1": "100 N Racine Ave", "city": "Chicago",
                                  "state": "IL", "country": "US", "zip_code": "60607"}},
        "products": [{"reference_id": sku, "sku": sku, "name": sku, "quantity": quantity}],
    }


def wro_body(po: str, inventory_id: int, quantity: int = 5) -> dict:
    arrival = (datetime.now(timezone.utc) + timedelta(days=3)).replace(microsecond=0)
    return {"fulfillment_center": {"id": FC_ID}, "purchase_order_number": po,
            "package_type": "Package", "box_packaging_type": "EverythingInOneBox",
            "expected_arrival_date": arrival.isoformat().replace("+00:00", "Z"),
            "boxes": [{"tracking_number": f"TRK-{po}",
                       "box_items": [{"inventory_id": inventory_id, "quantity": quantity}]}]}


def return_body(reference_id: str, inventory_id: int) -> dict:
    return {"reference_id": reference_id, "fulfillment_center": {"id": FC_ID},
            "inventory": [{"id": inventory_id, "quantity": 1, "requested_action": "Default"}]}
