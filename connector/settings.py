"""Settings from the environment (twelve-factor, pydantic-settings).

With no environment at all every value has an embedded default: SQLite for
state, a broker that needs no server (Kombu's SQLAlchemy transport on SQLite)
and the local sandboxes with their sandbox credentials.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from connector.errors import ConfigError
from connector.mapping import Mapping, load_mapping

STATE_DIR = Path("state")
_FIELD_IN_SETTINGS_ERROR = re.compile(r'field "(\w+)"')
_API_KEY = re.compile(r"[A-Za-z0-9._~+/=-]{24,200}")
_TOPIC = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")


class ConsoleUser(BaseModel):
    """One console login: a werkzeug password hash, never the password."""

    role: Literal["read-only", "operator"]
    password_hash: SecretStr


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = f"sqlite:///{STATE_DIR}/ifs-shipbob.db"
    # Redis for the shared rate limiter, locks and caches; None = in-process
    # coordination (fine for the embedded default's single worker process).
    redis_url: str | None = None
    # Prefix of every Redis key we own, so several deployments or test runs
    # can share one Redis without colliding.
    redis_prefix: str = "ifs-shipbob:"
    # Celery broker; defaults to REDIS_URL, else a SQLite file (workers/embedded_broker.py).
    broker_url: str | None = None

    ifs_base_url: str = "http://127.0.0.1:8001"
    ifs_token_url: str | None = None  # default: <IFS_BASE_URL>/auth/realms/<IFS_REALM>/...
    ifs_realm: str = "ifsdemo"
    ifs_client_id: str = "ifs-shipbob"
    ifs_client_secret: SecretStr = SecretStr("sandbox-secret")
    ifs_scope: str = "openid microprofile-jwt"

    shipbob_base_url: str = "http://127.0.0.1:8002"
    shipbob_api_version: Literal["2025-07", "2026-01", "2026-07"] = "2026-01"
    # The API version of the webhook subscription calls and so of the topics
    # subscribed to (None: shipbob_api_version). ShipBob's 2026-01 logistics
    # guide subscribes through POST /2026-07/webhook while its other calls stay
    # on 2026-01: inferred, hence a setting (README "ShipBob webhook topics").
    shipbob_webhook_api_version: Literal["2025-07", "2026-01", "2026-07"] | None = None
    # Topic names ShipBob has not published (WRO topics, further return topics):
    # subscribed to as well, and handled by their prefix like the known ones.
    shipbob_webhook_extra_topics: Annotated[list[str], NoDecode] = Field(default_factory=list)
    shipbob_token: SecretStr | None = SecretStr("sandbox-pat")
    shipbob_token_url: str | None = None  # default: <SHIPBOB_BASE_URL>/connect/token
    shipbob_client_id: str | None = None
    shipbob_client_secret: SecretStr | None = None
    shipbob_refresh_token: SecretStr | None = None
    shipbob_channel_id: int = Field(default=128944, gt=0)
    shipbob_webhook_secret: SecretStr | None = None
    # The previous secret, accepted too while a subscription is rotated.
    shipbob_webhook_secret_previous: SecretStr | None = None
    shipbob_rate_limit_per_minute: int = Field(default=150, gt=0)
    # The X-Api-Key an IFS Event Action sends to POST /events/ifs/<event>
    # (webhooks/ifs_events.py); the previous one is accepted too while the key
    # is rotated. Neither set: the endpoint answers 404.
    ifs_events_api_key: SecretStr | None = None
    ifs_events_api_key_previous: SecretStr | None = None

    mapping_file: Path | None = None
    sites: list[str] = Field(default_factory=list)  # empty = every mapped site
    http_timeout_seconds: float = Field(default=30.0, gt=0)
    # Reads that belong together go in one IFS $batch call (ifs-cloud.md §9);
    # off = one GET each, for a gateway that does not pass $batch through.
    ifs_batch_reads: bool = True
    order_poll_overlap_minutes: int = Field(default=10, ge=0)
    order_poll_seconds: float = Field(default=60, gt=0)
    # The catch-up for orders released long after they were entered.
    unpushed_poll_seconds: float = Field(default=900, gt=0)
    tracking_poll_seconds: float = Field(default=300, gt=0)
    shipments_poll_seconds: float = Field(default=900, gt=0)
    replenishment_poll_seconds: float = Field(default=900, gt=0)
    receiving_poll_seconds: float = Field(default=900, gt=0)
    returns_poll_seconds: float = Field(default=900, gt=0)
    # ShipBob's inventory history to IFS activity records, per fulfillment center.
    inventory_activity_poll_seconds: float = Field(default=900, gt=0)
    sweep_seconds: float = Field(default=30, gt=0)
    # Rows due for longer than this are re-published by the sweeper.
    sweep_grace_seconds: float = Field(default=60, ge=0)
    # A claimed job not finished within its lease is taken over (a killed worker).
    job_lease_seconds: float = Field(default=300, gt=0)
    # Time allowed for a lease confirmation's round trip and the clock skew
    # between worker hosts (connector/fencing.py).
    fence_margin_seconds: float = Field(default=5, ge=0)
    webhook_body_limit_bytes: int = Field(default=1024 * 1024, gt=0)
    # The receiver's own waits, each well inside ShipBob's 15 s delivery
    # timeout: the whole body, one wake-up publish, one SQL statement.
    webhook_body_timeout_seconds: float = Field(default=5, gt=0)
    webhook_publish_timeout_seconds: float = Field(default=2, gt=0)
    webhook_statement_timeout_seconds: float = Field(default=5, gt=0)
    # PostgreSQL cancels a statement running longer (workers, beat, CLI); 0 = no limit.
    database_statement_timeout_seconds: float = Field(default=30, ge=0)
    inventory_sync_hour_utc: int = Field(default=2, ge=0, le=23)
    reports_dir: Path = Path("reports")
    # The operations console (/console/ on the receiver): off unless users are set.
    console_users: Annotated[dict[str, ConsoleUser], NoDecode] = Field(default_factory=dict)
    console_secret_key: SecretStr | None = None  # signs the session cookie
    console_cookie_secure: bool = True  # False only for plain-HTTP development

    @field_validator("console_users", mode="before")
    @classmethod
    def _console_users_json(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():  # set but empty (docker compose passes it so): no console
            return {}
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError('expected JSON, e.g. {"alice": {"role": "operator", "password_hash": "scrypt:…"}}') from None

    @field_validator("shipbob_webhook_extra_topics", mode="before")
    @classmethod
    def _topic_list(cls, value: object) -> object:
        # A comma-separated list (compose passes `${NAME:-}`) or a JSON list.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except ValueError:
                    raise ValueError('expected a JSON list or names separated by commas') from None
            return [name.strip() for name in text.split(",") if name.strip()]
        return value

    @field_validator("shipbob_webhook_extra_topics")
    @classmethod
    def _topic_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _TOPIC.fullmatch(name):
                raise ValueError(f"{name!r} is not a topic name like wro.created")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _console_has_a_key(self) -> "Settings":
        if self.console_users and not (self.console_secret_key and
                                       len(self.console_secret_key.get_secret_value()) >= 32):
            raise ValueError("CONSOLE_USERS needs CONSOLE_SECRET_KEY (at least 32 characters)")
        return self

    @field_validator(
        "redis_url", "broker_url", "ifs_token_url", "shipbob_token", "shipbob_token_url",
        "shipbob_client_id", "shipbob_client_secret", "shipbob_refresh_token",
        "shipbob_webhook_secret", "shipbob_webhook_secret_previous", "mapping_file",
        "shipbob_webhook_api_version", mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # An optional setting given as '' is not set: compose renders an
        # unset `${NAME:-}` as NAME='' and .env.example leaves blanks.
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _oauth_is_complete(self) -> "Settings":
        oauth = [self.shipbob_client_id, self.shipbob_client_secret, self.shipbob_refresh_token]
        if any(oauth) and not all(oauth):
            raise ValueError(
                "SHIPBOB_CLIENT_ID, SHIPBOB_CLIENT_SECRET and SHIPBOB_REFRESH_TOKEN go together"
            )
        return self

    @model_validator(mode="after")
    def _lease_outlasts_a_write(self) -> "Settings":
        # A write is only sent while the lease outlasts its timeout (fencing).
        if self.job_lease_seconds <= self.http_timeout_seconds + self.fence_margin_seconds:
            raise ValueError(
                "JOB_LEASE_SECONDS must be more than HTTP_TIMEOUT_SECONDS + FENCE_MARGIN_SECONDS "
                f"({self.job_lease_seconds:g} <= {self.http_timeout_seconds:g} + {self.fence_margin_seconds:g})"
            )
        return self

    @model_validator(mode="after")
    def _ifs_event_keys_fit_a_header(self) -> "Settings":
        # IFS's Additional Headers field is "name:value" pairs separated by
        # commas, so a key must survive that; short keys are guessable.
        for name in ("ifs_events_api_key", "ifs_events_api_key_previous"):
            secret = getattr(self, name)
            if secret is not None and not secret.get_secret_value():
                setattr(self, name, None)  # `KEY=` (docker compose's ${KEY:-}) means unset
            elif secret is not None and not _API_KEY.fullmatch(secret.get_secret_value()):
                raise ValueError(f"{name.upper()} must be 24 to 200 characters of A-Z a-z 0-9 . _ ~ + / = - "
                                 "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")
        return self

    @property
    def uses_shipbob_oauth(self) -> bool:
        return self.shipbob_refresh_token is not None

    def shipbob_oauth_client(self) -> tuple[str, str]:
        """The ShipBob OAuth app's (client id, client secret)."""
        if not (self.shipbob_client_id and self.shipbob_client_secret):
            raise ConfigError("ShipBob OAuth is not configured: set SHIPBOB_CLIENT_ID, "
                              "SHIPBOB_CLIENT_SECRET and SHIPBOB_REFRESH_TOKEN")
        return self.shipbob_client_id, self.shipbob_client_secret.get_secret_value()

    @property
    def effective_broker_url(self) -> str:
        if self.broker_url:
            return self.broker_url
        if self.redis_url:
            return self.redis_url
        return f"embedded+sqlite:///{STATE_DIR}/broker.db"  # workers/embedded_broker.py

    @property
    def effective_ifs_token_url(self) -> str:
        return self.ifs_token_url or (
            f"{self.ifs_base_url}/auth/realms/{self.ifs_realm}/protocol/openid-connect/token"
        )

    @property
    def effective_shipbob_token_url(self) -> str:
        return self.shipbob_token_url or f"{self.shipbob_base_url}/connect/token"

    @property
    def effective_shipbob_webhook_api_version(self) -> str:
        return self.shipbob_webhook_api_version or self.shipbob_api_version

    @functools.cached_property
    def mapping(self) -> Mapping:
        return load_mapping(self.mapping_file)

    def webhook_secrets(self) -> list[str]:
        return [
            s.get_secret_value()
            for s in (self.shipbob_webhook_secret, self.shipbob_webhook_secret_previous)
            if s is not None
        ]

    def ifs_events_api_keys(self) -> list[str]:
        return [
            s.get_secret_value()
            for s in (self.ifs_events_api_key, self.ifs_events_api_key_previous)
            if s is not None
        ]

    def mapped_sites(self) -> list[str]:
        return self.sites or sorted(self.mapping.sites)


def load_settings(**overrides: Any) -> Settings:  # values of any setting's type
    """Read and validate settings; one clear line naming the bad setting."""
    try:
        settings = Settings(**overrides)
        settings.mapping  # noqa: B018 - load the mapping file now, not mid-flow
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "_".join(str(p) for p in first["loc"]).upper()
        if not name:  # a rule across settings: its message names them
            raise ConfigError(f"invalid settings: {first['msg'].removeprefix('Value error, ')}") from None
        raise ConfigError(f"invalid setting {name}: {first['msg']}") from None
    except SettingsError as exc:  # a list or dict setting that is not JSON, e.g. SITES=S01
        field = _FIELD_IN_SETTINGS_ERROR.search(str(exc))
        name = field.group(1).upper() if field else "settings"
        raise ConfigError(f"invalid setting {name}: expected a JSON list, e.g. {name}='[\"S01\", \"S02\"]'") from None
    for site in settings.mapped_sites():
        if site not in settings.mapping.sites:
            raise ConfigError(f"invalid setting SITES: site {site!r} has no fulfillment center in the mapping")
    return settings
