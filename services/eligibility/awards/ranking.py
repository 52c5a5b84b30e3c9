"""Reading the ranking service's published rankings (M06 is paid on them), signed as this service."""

from typing import Any

import httpx

from services.eligibility.settings import EligibilitySettings
from shared.http import ServiceClient, service_client


class RankingClient:
    def __init__(self, service: ServiceClient) -> None:
        self.service = service

    async def aclose(self) -> None:
        await self.service.http.aclose()

    async def published(self, year: int) -> dict[str, Any] | None:
        """The published ranking of `year` ({run_id, rows: [{district_code, rank, award_yuan, …}]}), or None."""
        found: dict[str, Any] | None = await self.service.get(f"/rankings/{year}")
        return found


def make_ranking_client(
    settings: EligibilitySettings, transport: httpx.AsyncBaseTransport | None = None
) -> RankingClient:
    """The pooled client of the ranking service, made once per process; a test passes an in-process transport and
    puts the client in `app.dependency_overrides`."""
    return RankingClient(
        service_client(
            "ranking",
            settings.ranking_url,
            secret=settings.internal.secret,
            timeout_seconds=settings.ranking_timeout_seconds,
            retries=settings.ranking_retries,
            backoff_seconds=settings.ranking_retry_backoff_seconds,
            transport=transport,
        )
    )
