"""Configuration of the IFS Cloud stand-in."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox.ifs.tenant import TenantRenames

NextLinkForm = Literal["absolute", "root-relative", "relative"]
NEXT_LINK_FORMS: tuple[str, ...] = ("absolute", "root-relative", "relative")


class IfsSandboxConfig(BaseModel):
    """What differs between simulated tenants.

    The sandbox serves its own model of IFS (model.py); `tenant` renames any
    of its projections, sets, navigations, properties, enums, actions and
    action parameters on the wire (tenant.py), so a renamed tenant can be
    simulated (ifs-cloud.md §1, §10) independently of the connector's mapping.
    """

    model_config = ConfigDict(frozen=True)

    realm: str = "ifsdemo"
    client_id: str = "ifs-shipbob"
    client_secret: str = "sandbox-secret"
    # IFS's sample token lives 180 s (ifs-cloud.md §2); tests use 1-2 s.
    token_ttl_seconds: int = Field(default=180, ge=1)
    # Server-driven page limit: longer results get an @odata.nextLink.
    page_size: int = Field(default=500, ge=1)
    # How @odata.nextLink is written (OData JSON 4.01 §4.3 allows each form):
    # an absolute URL, a root-relative path, or relative to the context URL
    # (the service root). The `next_link_form` fault hook overrides it.
    next_link_form: NextLinkForm = "absolute"
    # The Edm type of CustomerOrder.DateEntered: IFS tenants differ.
    date_entered_type: Literal["Edm.DateTimeOffset", "Edm.Date"] = "Edm.DateTimeOffset"
    tenant: TenantRenames = TenantRenames()
    # URL prefixes served (§1).
    prefixes: tuple[str, ...] = ("main", "int")
    # Seconds announced in Retry-After by injected 429/503 faults.
    retry_after_seconds: int = Field(default=1, ge=0)
    # Seed of the random generator behind the `error_rate` fault.
    fault_seed: int = 0
    # Company of seeded and created orders (IFS orders carry a Company).
    company: str = "10"

    def served_prefixes(self) -> tuple[str, ...]:
        return self.prefixes
