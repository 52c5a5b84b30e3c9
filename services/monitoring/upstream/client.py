"""The two services the monitoring reads: the registry's verified figures and the eligibility service's ledger."""

import asyncio
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from services.monitoring.settings import MonitoringSettings
from services.monitoring.upstream.schemas import AwardSummary, MonitoringStats
from shared.http import ServiceClient, UpstreamUnavailable, service_client

Model = TypeVar("Model", bound=BaseModel)


def _parsed(model: type[Model], body: object, upstream: str, path: str) -> Model:
    if body is None:
        raise UpstreamUnavailable(f"The {upstream} service has nothing at {path}.", upstream=upstream)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise UpstreamUnavailable(
            f"The {upstream} service answered {path} with figures this service cannot read "
            f"({exc.error_count()} errors).",
            upstream=upstream,
        ) from None


class Upstreams:
    def __init__(self, registry: ServiceClient, eligibility: ServiceClient, *, registry_reads: int) -> None:
        self.registry = registry
        self.eligibility = eligibility
        # The registry admits this service (one caller) a share of its heavy work: the aggregates this process asks
        # for at once stay within it, whatever the number of assessments and maps being computed.
        self._aggregates = asyncio.Semaphore(registry_reads)

    async def aclose(self) -> None:
        await self.registry.http.aclose()
        await self.eligibility.http.aclose()

    async def monitoring_stats(self, year: int, baseline_year: int) -> MonitoringStats:
        path = f"/monitoring-stats/{year}"
        async with self._aggregates:
            body = await self.registry.get(path, {"baseline_year": baseline_year})
        stats = _parsed(MonitoringStats, body, "registry", path)
        if stats.year != year or stats.baseline_year != baseline_year:
            raise UpstreamUnavailable(
                f"The registry answered {path} for {stats.year} against {stats.baseline_year}, not {year} against "
                f"{baseline_year}.",
                upstream="registry",
            )
        return stats

    async def standing_awards(self, year: int) -> AwardSummary:
        """The awards of `year` that stand, counted and summed per district."""
        path = "/awards/summary"
        body = await self.eligibility.get(path, {"year": year, "standing": "true", "group_by": "district_code"})
        return _parsed(AwardSummary, body, "eligibility", path)


def make_upstreams(
    settings: MonitoringSettings,
    *,
    registry_transport: httpx.AsyncBaseTransport | None = None,
    eligibility_transport: httpx.AsyncBaseTransport | None = None,
) -> Upstreams:
    """The pooled clients of the two upstreams, made once per process; a test passes in-process transports
    (`httpx.ASGITransport(app=…)`) and puts the result in `app.dependency_overrides`."""

    def client(upstream: str, base_url: str, transport: httpx.AsyncBaseTransport | None) -> ServiceClient:
        return service_client(
            upstream,
            base_url,
            secret=settings.internal.secret,
            timeout_seconds=settings.upstream_timeout_seconds,
            retries=settings.upstream_retries,
            backoff_seconds=settings.upstream_retry_backoff_seconds,
            transport=transport,
        )

    return Upstreams(
        client("registry", settings.registry_url, registry_transport),
        client("eligibility", settings.eligibility_url, eligibility_transport),
        registry_reads=settings.registry_concurrent_reads,
    )
