"""Settings of the ShipBob stand-in.

Defaults mirror what a freshly created ShipBob sandbox account looks like (shipbob.md §2,
§3): one PAT channel with full scopes, two fulfillment centers, the documented rate limit
and webhook retry schedule. Tests shrink the time-based ones (token TTL, retry scale).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

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

    def channel(self, channel_id: int) -> Channel | None:
        return next((c for c in self.channels if c.id == channel_id), None)

    def fulfillment_center(self, fc_id: int) -> FulfillmentCenter | None:
        return next((f for f in self.fulfillment_centers if f.id == fc_id), None)
