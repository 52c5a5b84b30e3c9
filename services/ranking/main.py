"""The ranking service: `uvicorn --factory services.ranking.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.ranking import CODE_VERSION
from services.ranking.methodologies.router import router as methodologies_router
from services.ranking.rankings.router import router as rankings_router
from services.ranking.runs.router import router as runs_router
from services.ranking.sensitivity.router import router as sensitivity_router
from services.ranking.settings import RankingSettings
from services.ranking.upstream.client import Upstreams
from shared.app import create_service_app
from shared.http import ServiceClient, make_http_client

DESCRIPTION = """The yearly composite ranking of the 38 districts under 渝发改规范〔2024〕7号 第（六）条: a published,
versioned methodology; reproducible runs from the registry's district statistics with their inputs and hash; awards
from the eligibility service's M06 table (5,000,000 for ranks 1–5, 3,000,000 for 6–10); publication with history;
rank-uncertainty analysis; exports for the official notice."""


def _http(app: FastAPI, name: str, base_url: str, timeout_seconds: float) -> httpx.AsyncClient:
    """The pooled client of one upstream; tests and the bench may put a transport in `app.state.<name>_transport`."""
    transport: httpx.AsyncBaseTransport | None = getattr(app.state, f"{name}_transport", None)
    if transport is not None:
        return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout_seconds)
    return make_http_client(base_url, timeout_seconds=timeout_seconds)


@asynccontextmanager
async def upstream_clients(app: FastAPI) -> AsyncIterator[None]:
    settings: RankingSettings = app.state.settings
    registry_http = _http(app, "registry", settings.registry_url, settings.upstream_timeout_seconds)
    eligibility_http = _http(app, "eligibility", settings.eligibility_url, settings.upstream_timeout_seconds)

    def client(http: httpx.AsyncClient, upstream: str) -> ServiceClient:
        return ServiceClient(
            http,
            upstream=upstream,
            secret=settings.internal.secret,
            retries=settings.upstream_retries,
            backoff_seconds=settings.upstream_retry_backoff_seconds,
        )

    app.state.upstreams = Upstreams(
        client(registry_http, "registry"),
        client(eligibility_http, "eligibility"),
        award_parameter=settings.award_parameter,
    )
    try:
        yield
    finally:
        await registry_http.aclose()
        await eligibility_http.aclose()


def create_app(settings: RankingSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or RankingSettings(),
        title="Ranking",
        version=CODE_VERSION.removeprefix("ranking-"),
        description=DESCRIPTION,
        routers=[methodologies_router, runs_router, sensitivity_router, rankings_router],
        lifespan_hooks=[upstream_clients],
    )
