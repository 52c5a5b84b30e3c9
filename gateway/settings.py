"""The gateway's settings: env prefix `GATEWAY_` (plus `REDIS_URL` and the shared `INTERNAL_` secret)."""

import json
from typing import Annotated

from pydantic import AliasChoices, Field, IPvAnyNetwork, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from gateway.client import ForwardedHeader
from shared.settings import ServiceSettings

# The services the gateway knows, in the order of their default ports (8001, 8002, 8003, 8004, 8005).
SERVICE_NAMES: tuple[str, ...] = ("registry", "eligibility", "ranking", "monitoring", "notifications")


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    # The gateway's database holds only the key table, read every `key_cache_seconds`: a few connections suffice.
    database_pool_size: int = Field(default=2, ge=1, le=200)
    database_max_overflow: int = Field(default=2, ge=0, le=200)

    # Upstreams: base URL of each service; an empty value means "not deployed" (503 problem on its paths).
    registry_url: str = "http://127.0.0.1:8001"
    eligibility_url: str = "http://127.0.0.1:8002"
    ranking_url: str = "http://127.0.0.1:8003"
    monitoring_url: str = "http://127.0.0.1:8004"
    notifications_url: str = "http://127.0.0.1:8005"

    # Timeouts towards the upstreams, seconds. A hung upstream gives 504 after `upstream_read_timeout`: no data for
    # that long, while the request is sent or the answer awaited or read.
    upstream_connect_timeout: float = Field(default=2.0, gt=0, le=60)
    upstream_read_timeout: float = Field(default=30.0, gt=0, le=600)
    # Waiting for one of the `upstream_max_connections` (kept alive between requests) to be free: 503 after it.
    upstream_pool_timeout: float = Field(default=5.0, gt=0, le=60)
    upstream_max_connections: int = Field(default=100, ge=1, le=10_000)
    # Readiness and OpenAPI fetches use this shorter timeout.
    probe_timeout: float = Field(default=2.0, gt=0, le=60)
    # Seconds between two rounds of readiness probes of the upstreams and Redis, made in the background: /readyz
    # and the metrics report the last round, so a hung upstream never slows the gateway's own /readyz.
    upstream_probe_interval: float = Field(default=5.0, gt=0, le=300)
    # Seconds a session's pooled upstream connections are used for new requests before a new session takes
    # over (the old one is closed once its exchanges are done), so that traffic spreads again over the
    # replicas behind a service's address (a new replica gets connections within this time).
    upstream_connection_max_age: float = Field(default=300.0, gt=0, le=86_400)
    # Circuit breaker per upstream (gateway/breaker.py): this many failures in a row without a usable answer
    # open it; it refuses at once (503 with Retry-After) for the cool-down, then lets this many probes through.
    circuit_failure_threshold: int = Field(default=5, ge=1, le=1000)
    circuit_cool_down_seconds: float = Field(default=10.0, ge=0.1, le=600)
    circuit_half_open_probes: int = Field(default=1, ge=1, le=100)

    # Request bodies: the general limit, and the larger one for bulk imports (paths ending in /import).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024**3)
    max_import_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=1024**3)
    # Bytes of request bodies one process holds at once (each is read whole before it is sent on): beyond it a
    # body is refused with a 503 before it is read. At least one import's worth.
    max_buffered_body_bytes: int = Field(default=256 * 1024 * 1024, ge=1024 * 1024, le=64 * 1024**3)
    # A body is read whole, within this many seconds, before an upstream connection is taken (408 otherwise): a
    # caller trickling its body holds no connection another caller needs.
    body_timeout: float = Field(default=60.0, gt=0, le=3600)

    # Token buckets: per API key, and per client address for callers without a (valid) key.
    rate_limit_per_second: float = Field(default=50.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    anonymous_rate_limit_per_second: float = Field(default=20.0, gt=0)
    anonymous_rate_limit_burst: int = Field(default=40, ge=1)
    # Failed authentications per client address: a stricter bucket of its own. Once it is empty, a request that
    # presents any key from that address is a 429 before the key is looked up.
    auth_failure_burst: int = Field(default=10, ge=1, le=100_000)
    auth_failure_per_second: float = Field(default=0.1, gt=0, le=1000)
    # Requests one client (an API key, or an address without one) may have in flight through the proxy at once.
    max_concurrent_per_client: int = Field(default=16, ge=1, le=10_000)
    # Addresses or networks of the proxies in front of the gateway (comma-separated or a JSON list); only when the
    # TCP peer is one of them are X-Forwarded-For / Forwarded honoured. None by default: the peer is the client.
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)
    # The header those proxies write the client into (nginx and its ingress controller: X-Forwarded-For).
    forwarded_header: ForwardedHeader = "x-forwarded-for"
    # Shared buckets for several gateway replicas; in-process buckets when empty.
    redis_url: str = Field(default="", validation_alias=AliasChoices("GATEWAY_REDIS_URL", "REDIS_URL"))

    # Seconds the key table is kept in the process before it is read again (a revocation, or a new key, takes
    # effect within this time).
    key_cache_seconds: float = Field(default=5.0, ge=0, le=3600)
    # Seconds the merged OpenAPI document is cached.
    openapi_cache_seconds: float = Field(default=30.0, ge=0, le=86_400)

    # Who answers for the API, and on what terms, in the merged document's `info` (`contact`, `license`). The
    # licence is an SPDX expression (`LicenseRef-…` for terms of one's own) unless the URL of its terms is given.
    api_contact_name: str = "重庆市发展和改革委员会 (Chongqing Municipal Development and Reform Commission)"
    api_contact_url: str = "https://fzggw.cq.gov.cn"
    api_contact_email: str = ""
    api_license_name: str = "Proprietary: for the systems of the city and its districts"
    api_license_identifier: str = "LicenseRef-Proprietary"
    api_license_url: str = ""

    # Browser origins allowed by CORS (comma-separated or a JSON list); none by default.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _one_import_fits_the_body_budget(self) -> "GatewaySettings":
        if self.max_buffered_body_bytes < max(self.max_body_bytes, self.max_import_body_bytes):
            raise ValueError("GATEWAY_MAX_BUFFERED_BODY_BYTES must hold at least one body of the largest size allowed")
        return self

    @field_validator("registry_url", "eligibility_url", "ranking_url", "monitoring_url", "notifications_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.strip().rstrip("/")

    def upstream_urls(self) -> dict[str, str]:
        """The deployed services and their base URLs."""
        urls = {
            "registry": self.registry_url,
            "eligibility": self.eligibility_url,
            "ranking": self.ranking_url,
            "monitoring": self.monitoring_url,
            "notifications": self.notifications_url,
        }
        return {name: url for name, url in urls.items() if url}

    def api_contact(self) -> dict[str, str]:
        contact = {"name": self.api_contact_name, "url": self.api_contact_url, "email": self.api_contact_email}
        return {key: value for key, value in contact.items() if value}

    def api_license(self) -> dict[str, str]:
        # OpenAPI 3.1 allows a licence's `url` or its `identifier`, not both.
        if self.api_license_url:
            return {"name": self.api_license_name, "url": self.api_license_url}
        return {"name": self.api_license_name, "identifier": self.api_license_identifier}
