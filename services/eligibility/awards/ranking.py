"""Reading the ranking service's published rankings (M06 is paid on them), signed as this service."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Request

from services.eligibility.settings import EligibilitySettings
from shared.http import ServiceClient, make_http_client


class RankingClient:
    def __init__(self, service: ServiceClient) -> None:
        self.service = service

    async def published(self, year: int) -> dict[str, Any] | None:
        """The published ranking of `year` ({run_id, rows: [{district_code, rank, award_yuan, …}]}), or None."""
        found: dict[str, Any] | None = await self.service.get(f"/rankings/{year}")
        return found


@asynccontextmanager
async def ranking_client(app: FastAPI) -> AsyncIterator[None]:
    """The pooled client of the ranking service; tests may put a transport in `app.state.ranking_transport`."""
    settings: EligibilitySettings = app.state.settings
    transport: httpx.AsyncBaseTransport | None = getattr(app.state, "ranking_transport", None)
    http = (
        httpx.AsyncClient(base_url=settings.ranking_url, transport=transport, timeout=settings.ranking_timeout_seconds)
        if transport is not None
        else make_http_client(settings.ranking_url, timeout_seconds=settings.ranking_timeout_seconds)
    )
    app.state.ranking = RankingClient(
        ServiceClient(
            http,
            upstream="ranking",
            secret=settings.internal.secret,
            retries=settings.ranking_retries,
            backoff_seconds=settings.ranking_retry_backoff_seconds,
        )
    )
    try:
        yield
    finally:
        await http.aclose()


async def get_ranking(request: Request) -> RankingClient:
    ranking: RankingClient = request.app.state.ranking
    return ranking


RankingDep = Annotated[RankingClient, Depends(get_ranking)]
