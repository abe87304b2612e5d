"""Settings of the ShipBob stand-in.

Defaults mirror what a freshly created ShipBob sandbox account looks like (shipbob.md §2,
§3): one PAT channel with full scopes, two fulfillment centers, the documented rate limit
and webhook retry schedule. Tests shrink the time-based ones (token TTL, retry scale).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

DEFAULT_SCOPES = [
    "channels_read", "orders_read", "orders_write", "products_read", "products_write",
    "inventory_read", "receiving_read", "receiving_write", "returns_read", "returns_write",
    "webhooks_read", "webhooks_write", "locations_read", "fulfillments_read", "offline_access",
]


class FulfillmentCenter(BaseModel):
    id: int
    name: str
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    zip_code: str | None = None
    timezone: str | None = None
    email: str | None = None
    phone_number: str | None = None


class Channel(BaseModel):
    id: int = 128944
    name: str = "ifs-shipbob"
    # A PAT's channel belongs to the auto-created "SMA" application (shipbob.md §2).
    application_name: str = "SMA"
    scopes: list[str] = Field(default_factory=lambda: list(DEFAULT_SCOPES))


class ShippingMethod(BaseModel):
    """A ship option mapping (`GET /shipping-method`): `name` is what orders send as
    `shipping_method`; `service_level.id` is what `shipment:bulkUpdateShippingService`
    takes as `requested_shipping_service_id` (developer.shipbob.com 2026-07 docs)."""

    id: int
    name: str
    service_level_id: int
    service_level_name: str
    active: bool = True
    default: bool = True


def _default_shipping_methods() -> list[ShippingMethod]:
    # ⚠ ShipBob's real service level ids are account data; these are the sandbox's.
    return [ShippingMethod(id=1, name="Standard", service_level_id=1, service_level_name="Standard"),
            ShippingMethod(id=2, name="Expedited", service_level_id=2, service_level_name="Expedited"),
            ShippingMethod(id=3, name="2-Day", service_level_id=3, service_level_name="2-Day"),
            ShippingMethod(id=4, name="Overnight", service_level_id=4, service_level_name="Overnight")]


# Sandbox events a WRO topic may be named for (see `wro_webhook_topics`).
WRO_EVENTS = ("created", "updated", "completed", "box_arrived", "box_stowed")


def _default_fcs() -> list[FulfillmentCenter]:
    return [
        FulfillmentCenter(id=156, name="Cicero (IL)", address1="5900 W Ogden Ave", city="Cicero",
                          state="IL", country="USA", zip_code="60804",
                          timezone="Central Standard Time"),
        FulfillmentCenter(id=157, name="Moreno Valley (CA)", address1="17800 Perris Blvd",
                          city="Moreno Valley", state="CA", country="USA", zip_code="92551",
                          timezone="Pacific Standard Time"),
    ]


class ShipBobSandboxConfig(BaseModel):
    api_version: str = "2026-01"
    # The official OpenAPI document used for relaxed validation; None picks
    # specs/shipbob-openapi-<api_version>.json (vendored; SHIPBOB_SPECS_DIR overrides).
    openapi_path: Path | None = None

    pat: str = "sandbox-pat"
    user_id: int = 1001
    oauth_client_id: str = "sb-client"
    oauth_client_secret: str = "sb-secret"
    initial_refresh_token: str = "sandbox-refresh-0"
    access_token_ttl_seconds: float = 3600
    auth_code_ttl_seconds: float = 120  # "code 2 min" (shipbob.md §2, ⚠ SDK comments only)

    rate_limit_per_minute: int = 150
    rate_window_seconds: float = 60

    channels: list[Channel] = Field(default_factory=lambda: [Channel()])
    fulfillment_centers: list[FulfillmentCenter] = Field(default_factory=_default_fcs)

    shipping_methods: list[ShippingMethod] = Field(default_factory=_default_shipping_methods)

    # Webhook topics follow this API version (None: `api_version`). When it differs, the
    # subscription routes are served under /{webhook_api_version}/ too, and only there
    # take its topics: ShipBob's 2026-01 logistics page subscribes through
    # POST /2026-07/webhook while the other calls stay on 2026-01 (⚠ inferred).
    webhook_api_version: str | None = None
    # ⚠ Unconfirmed webhook behaviour, configurable. ShipBob publishes no payloads: the body
    # per topic ("order" = Orders.OrderViewModel, "shipment" = Orders.ShipmentViewModel)
    # overrides the defaults in webhooks.BODIES.
    webhook_bodies: dict[str, Literal["order", "shipment"]] = Field(default_factory=dict)
    # Topic names only third parties give (ShipBob's 2026-07 webhooks page lists WRO topics
    # without visible names): sandbox WRO event -> topic to send it as (body: the WRO).
    # E.g. {"created": "wro.created", "completed": "wro.completed"}. Empty: none sent.
    wro_webhook_topics: dict[str, str] = Field(default_factory=dict)
    # More topic names subscriptions may list ("the published list is partial"); never sent.
    extra_webhook_topics: list[str] = Field(default_factory=list)

    # POST /inventory/history:query events per page (⚠ ShipBob does not say).
    inventory_history_page_size: int = 100

    # Multiplies the real retry schedule (immediately, 5 s, 5 min, ... 10 h; shipbob.md §6).
    webhook_retry_time_scale: float = 1.0
    webhook_timeout_seconds: float = 15.0
    webhook_workers: int = 4
    # The real API requires HTTPS subscription URLs; local receivers speak plain HTTP.
    allow_http_webhook_urls: bool = True

    # Check every JSON response against the spec's response schema (relaxed) and turn a
    # mismatch into a 500, so a drifting stand-in fails loudly in tests.
    validate_responses: bool = False
    # Seeds the randomness of faults (drop/duplicate/shuffle rates) and default stock levels.
    random_seed: int = 1

    @field_validator("wro_webhook_topics")
    @classmethod
    def _known_wro_events(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(WRO_EVENTS))
        if unknown:
            raise ValueError(f"unknown WRO events {unknown}; use {list(WRO_EVENTS)}")
        return value

    def channel(self, channel_id: int) -> Channel | None:
        return next((c for c in self.channels if c.id == channel_id), None)

    def fulfillment_center(self, fc_id: int) -> FulfillmentCenter | None:
        return next((f for f in self.fulfillment_centers if f.id == fc_id), None)

    def shipping_service(self, service_level_id: int) -> ShippingMethod | None:
        return next((m for m in self.shipping_methods if m.service_level_id == service_level_id), None)

    @property
    def topics_version(self) -> str:
        return self.webhook_api_version or self.api_version
