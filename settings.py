"""Every environment variable Leadvane reads, validated once at start."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent
DEFAULT_SQLITE_PATH = ROOT / "data" / "leadvane.db"


def data_dir() -> Path:
    """The folder of first-start secrets (cookie key, token signing key, the first Owner's password), created on
    first use; LEADVANE_DATA_DIR moves it (tests, several installs). Read on every call so a test can move it."""
    path = Path(os.environ.get("LEADVANE_DATA_DIR", str(DEFAULT_SQLITE_PATH.parent)))
    path.mkdir(parents=True, exist_ok=True)
    return path


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADVANE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}",
        validation_alias=AliasChoices("DATABASE_URL", "LEADVANE_DATABASE_URL"),
        description="SQLAlchemy URL; sqlite:///path or postgresql+psycopg://user@host/db",
    )
    sqlite_busy_timeout_ms: int = 10_000
    default_phone_region: str = "US"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    max_properties_bytes: int = 100 * 1024
    max_batch_events: int = 1000
    # Seconds between delivery attempts; LEADVANE_WEBHOOK_RETRY_SCHEDULE="1,5,30" overrides it.
    webhook_retry_schedule: str = "5,30,120,600,1800,3600"
    cookie_key: str | None = Field(default=None, description="signs the dashboard's login cookie")
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "leadvane@localhost"
    smtp_starttls: bool = True
    slack_api_base_url: str = "https://slack.com/api/"
    slack_bot_token: str | None = None
    # Where people authorize the unit's Slack app (the dashboard's Integrations page sends them there).
    slack_authorize_url: str = "https://slack.com/oauth/v2/authorize"
    # CRM score sync (services.integrations.crm) and the research API's optional enrichment provider.
    hubspot_api_base_url: str = "https://api.hubapi.com"
    enrichment_url: str | None = None
    enrichment_token: str | None = None
    # Integration secrets at rest (Slack client/signing secrets and bot tokens, CRM tokens) are encrypted with
    # Fernet keys: LEADVANE_SECRETS_KEY="newkey,oldkey" (the first encrypts; all decrypt, for rotation), else a key
    # generated once into the data folder (services.integrations.secret_box).
    secrets_key: str | None = Field(default=None, description="Fernet key(s) for integration secrets at rest")
    # Where people reach the dashboard and the API from outside: links in Slack messages, Slack's OAuth redirect.
    # Default: http://localhost:<LEADVANE_PORT or 8501> with the API under /api.
    public_url: str | None = None
    public_api_url: str | None = None
    # Outbound URLs (webhooks, Slack, later CRM/enrichment) may not reach private, loopback, link-local, ...
    # addresses; LEADVANE_OUTBOUND_ALLOW="hooks.intranet,10.1.0.0/16" lets named hosts and networks through.
    outbound_allow: str = ""
    # Request bodies are capped before they are parsed or authenticated (413 beyond).
    max_body_bytes: int = 1024 * 1024
    max_bulk_body_bytes: int = 16 * 1024 * 1024
    # Sign-in throttling: after this many failures for an email within the window, attempts wait.
    login_max_failures: int = 5
    login_window_minutes: int = 15
    # API rate limits count in this process's memory unless REDIS_URL is set: then every API worker shares them.
    metrics_token: str | None = None  # when set, GET /metrics needs `Authorization: Bearer <token>`
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "LEADVANE_REDIS_URL"))
    # People on the API (POST /v1/auth/token): tokens are signed with jwt_secret, else with a key generated once
    # into the data folder (LEADVANE_DATA_DIR, default data/); they expire after token_ttl_seconds.
    jwt_secret: str | None = Field(default=None, description="signs people's API tokens (HS256)")
    token_ttl_seconds: int = 3600
    # Live stream (GET /v1/stream): a keep-alive comment after this many idle seconds; how often a client's stream
    # re-reads the table (SQLite, or PostgreSQL while its LISTEN connection is down); the safety re-read on PostgreSQL.
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)
    stream_poll_seconds: float = Field(default=0.5, gt=0)
    stream_fallback_poll_seconds: float = Field(default=5.0, gt=0)
    # A scoring change on a unit with more events than this is rescored aside (services.scoring.publisher): ingest
    # goes on with the previous model until the new scores are swapped in. Smaller units rescore inside the change.
    inline_rescore_max_events: int = Field(default=20_000, ge=0)

    @field_validator("database_url")
    @classmethod
    def _psycopg_driver(cls, url: str) -> str:
        # Plain postgresql:// would pick psycopg2, which we do not ship.
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            return "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @field_validator("outbound_allow")
    @classmethod
    def _allow_list_parses(cls, value: str) -> str:
        from core.outbound import parse_allow_list  # pure; imported here to keep settings import-light

        parse_allow_list(value)  # a bad entry stops the start, naming it, instead of failing every send
        return value

    @property
    def dashboard_url(self) -> str:
        return (self.public_url or f"http://localhost:{os.environ.get('LEADVANE_PORT', '8501')}").rstrip("/")

    @property
    def api_url(self) -> str:
        return (self.public_api_url or self.dashboard_url + "/api").rstrip("/")

    @property
    def retry_schedule_seconds(self) -> list[float]:
        return [float(part) for part in self.webhook_retry_schedule.split(",") if part.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
