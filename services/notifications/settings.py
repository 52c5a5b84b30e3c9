from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shared.admission import HeavyWorkSettings
from shared.settings import ServiceSettings

Network = IPv4Network | IPv6Network

# Waits between the tries of a delivery, in seconds: 1 min, 5 min, 30 min, 2 h, 5 h, 10 h — seven tries over about
# 17.6 hours, so an endpoint down for a night still gets its events in the morning.
DEFAULT_RETRY_SCHEDULE = (60.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0)


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    service_name: str = "notifications"
    # The producers whose outbox feeds (`GET /outbox/events`) the relay pulls, each signed as the service.
    registry_url: str = "http://127.0.0.1:8001"
    eligibility_url: str = "http://127.0.0.1:8002"
    ranking_url: str = "http://127.0.0.1:8003"
    upstream_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    upstream_retries: int = Field(default=2, ge=0, le=10)
    upstream_retry_backoff_seconds: float = Field(default=0.2, ge=0, le=30)
    # The relay: how long it waits when every feed is drained, and how many events it asks for at once.
    relay_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    relay_batch: int = Field(default=500, ge=1, le=1000)
    # The SSRF guard: a subscription's URL must resolve to public addresses only, unless inside one of these
    # networks (CIDRs, e.g. a district's intranet `10.20.0.0/16`). Comma-separated or a JSON list.
    allowed_networks: Annotated[list[Network], NoDecode] = Field(default_factory=list)
    # Outside those networks a URL's port must be one of these (comma-separated or a JSON list): the service is no
    # port scanner of the Internet. Inside an allowed network any port is reached.
    allowed_ports: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [80, 443], min_length=1)
    # One try of a delivery: connected within `delivery_connect_seconds`, and the whole try (the address check and
    # its DNS lookup, connect, send, the answer's status line and headers) within `delivery_timeout_seconds`, a total
    # deadline: an endpoint trickling its answer a byte at a time is cut off there (a failed try: "timeout").
    delivery_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    delivery_connect_seconds: float = Field(default=5.0, gt=0, le=60)
    # The waits between the tries of a delivery (seconds); after the last try the delivery is dead.
    retry_schedule_seconds: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE), min_length=0, max_length=30
    )
    # Live subscriptions one owner may hold (a district's keys together; the city's; the auditor's): each event is
    # sent once per subscription, so the bound keeps one owner from multiplying the work of every event.
    max_subscriptions_per_owner: int = Field(default=50, ge=1, le=10_000)
    # The breaker: an endpoint whose tries failed this many times in a row (over all its deliveries, pings excluded;
    # a success resets the count) is paused (`paused_reason: failing`): its later deliveries and those waiting for a
    # retry are held until its owner resumes it (PATCH status active). This is the breaker that acts within minutes;
    # the default (10) is above a few failures an endpoint restarting may have.
    pause_after_failed_tries: int = Field(default=10, ge=1, le=10_000)
    # Kept beside it: an endpoint whose deliveries died this many times in a row is paused too (for an endpoint
    # that fails now and then, whose failed tries never come in a long row but whose deliveries still die).
    pause_after_dead: int = Field(default=5, ge=1, le=1000)
    # Jobs the worker runs at once (deliveries in flight per worker process).
    worker_concurrency: int = Field(default=10, ge=1, le=200)
    # The worker's own database connections for the deliveries (a delivery holds one only to read and to log its
    # try, not while the endpoint answers), plus one for the relay, plus procrastinate's three (shared.queue).
    worker_database_connections: int = Field(default=4, ge=1, le=100)
    # How often the worker looks for jobs that became due without a notification (a retry's time coming): the
    # delay a retry may have beyond its schedule.
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # The worker's heartbeat, and after how long without one its running jobs are retried by another worker.
    worker_heartbeat_seconds: float = Field(default=10.0, gt=0, le=300)
    worker_stalled_after_seconds: float = Field(default=30.0, gt=0, le=3600)
    heavy: HeavyWorkSettings = Field(default_factory=HeavyWorkSettings)

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = _split(value)
        if isinstance(value, list | tuple):
            return [ip_network(item, strict=False) if isinstance(item, str) else item for item in value]
        return value

    @field_validator("allowed_ports", mode="before")
    @classmethod
    def _ports(cls, value: Any) -> Any:
        return [int(item) for item in _split(value)] if isinstance(value, str) else value

    @field_validator("allowed_ports")
    @classmethod
    def _valid_ports(cls, value: list[int]) -> list[int]:
        if any(not 0 < port < 65536 for port in value):
            raise ValueError("a port is between 1 and 65535")
        return value

    @field_validator("retry_schedule_seconds", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> Any:
        return [float(item) for item in _split(value)] if isinstance(value, str) else value

    @field_validator("retry_schedule_seconds")
    @classmethod
    def _non_negative(cls, value: list[float]) -> list[float]:
        if any(wait < 0 for wait in value):
            raise ValueError("a wait between tries cannot be negative")
        return value

    @property
    def tries(self) -> int:
        """How many times a delivery is tried before it is dead."""
        return len(self.retry_schedule_seconds) + 1

    def sources(self) -> dict[str, str]:
        """The producers the relay reads, by name (each one's outbox feed), and their URLs."""
        return {"registry": self.registry_url, "eligibility": self.eligibility_url, "ranking": self.ranking_url}


def _split(text: str) -> list[str]:
    stripped = text.strip()
    if stripped.startswith("["):
        stripped = stripped[1:-1]
    return [item.strip().strip('"') for item in stripped.split(",") if item.strip().strip('"')]
