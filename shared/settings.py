"""Settings shared by every service; each service subclasses with its own env prefix."""

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"

# Development only: the value a local `make run` and the tests use when none is configured.
DEVELOPMENT_INTERNAL_SECRET = "development-internal-secret-do-not-use-in-production"  # noqa: S105
# A production secret signs every principal: at least this long (32 characters: e.g. `openssl rand -hex 32` gives
# 64), and none of the values the repository itself shows.
MIN_PRODUCTION_SECRET_LENGTH = 32
KNOWN_SECRETS = frozenset({DEVELOPMENT_INTERNAL_SECRET, "replace-with-a-long-random-value"})


class InternalAuthSettings(BaseSettings):
    """The secret the gateway signs principals with; every service verifies with the same one."""

    model_config = SettingsConfigDict(env_prefix="INTERNAL_", extra="ignore")

    secret: str = ""
    # During a rotation (docs/operations.md): the value being replaced, still accepted when verifying, never used to
    # sign. Empty outside a rotation.
    previous_secret: str = ""
    # How far a signature's timestamp may be from the service's clock, either way (the gateway signs each request
    # just before sending it; more only covers clock drift). A write's nonce is kept this long (shared.nonces).
    signature_max_age_seconds: int = Field(default=15, ge=1, le=300)


def _check_production_secret(variable: str, value: str) -> None:
    if value in KNOWN_SECRETS:
        raise ValueError(f"{variable} is a value the repository shows: set a random one in production")
    if len(value) < MIN_PRODUCTION_SECRET_LENGTH:
        raise ValueError(
            f"{variable} must have at least {MIN_PRODUCTION_SECRET_LENGTH} characters in production "
            "(e.g. `openssl rand -hex 32`)"
        )


class ServiceSettings(BaseSettings):
    """Base of each service's settings class. Subclasses set `env_prefix` and `service_name`."""

    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = "development"
    # The runtime role's URL: the app connects with it (no ownership, no DDL; see deploy/postgres).
    database_url: str = ""
    # The owner role's URL, for `python -m deploy.migrate` only; the runtime URL when empty (one role: development).
    migration_database_url: str = ""
    # Connections per process: `database_pool_size` kept, up to `database_max_overflow` more under load, each wait
    # for one bounded by `database_pool_timeout` seconds. A deployment's budget is the sum over its processes of
    # size + overflow (docs/operations.md, "Connection budget").
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_max_overflow: int = Field(default=10, ge=0, le=200)
    database_pool_timeout: float = Field(default=10.0, gt=0, le=120)
    database_echo: bool = False
    log_level: str = "INFO"
    # The largest body a service reads to verify its signature (the gateway's own limit is the one callers meet;
    # the registry's import has its own, larger one).
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    internal: InternalAuthSettings = Field(default_factory=InternalAuthSettings)
    # Tests and demos only: the service's today (Asia/Shanghai) held at this date; production refuses it.
    today: date | None = None
    # The bearer token Prometheus presents to read /metrics (shared.metrics); /metrics answers no one in production
    # without it, and anyone in development and tests when it is empty.
    metrics_token: str = Field(default="", validation_alias=AliasChoices("METRICS_TOKEN", "metrics_token"))

    @model_validator(mode="after")
    def _defaults_for_development(self) -> "ServiceSettings":
        if self.today is not None and self.environment == "production":
            raise ValueError(f"a fixed date ({self.service_name} today) is for tests only, not production")
        if not self.internal.secret:
            if self.environment == "production":
                raise ValueError("INTERNAL_SECRET must be set in production")
            self.internal.secret = DEVELOPMENT_INTERNAL_SECRET
        elif self.environment == "production":
            _check_production_secret("INTERNAL_SECRET", self.internal.secret)
        if self.internal.previous_secret and self.environment == "production":
            _check_production_secret("INTERNAL_PREVIOUS_SECRET", self.internal.previous_secret)
        if self.metrics_token and self.environment == "production":
            # It opens every component's /metrics, whose route names and failures an attacker would like to read.
            _check_production_secret("METRICS_TOKEN", self.metrics_token)
        if self.internal.previous_secret and self.internal.previous_secret == self.internal.secret:
            raise ValueError("INTERNAL_PREVIOUS_SECRET is the current secret: clear it, or set the old value")
        if not self.database_url:
            variable = f"{self.model_config.get('env_prefix', '')}DATABASE_URL".upper()
            raise ValueError(
                f"no database URL for {self.service_name}: set {variable} to a PostgreSQL URL "
                "(postgresql+asyncpg://user@host:5432/name); `make run` starts a local server and sets it itself"
            )
        if not self.migration_database_url:
            self.migration_database_url = self.database_url
        return self
