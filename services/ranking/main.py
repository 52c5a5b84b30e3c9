"""The ranking service: `uvicorn --factory services.ranking.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.ranking import CODE_VERSION
from services.ranking.methodologies.router import router as methodologies_router
from services.ranking.rankings.router import router as rankings_router
from services.ranking.runs.router import router as runs_router
from services.ranking.sensitivity.router import router as sensitivity_router
from services.ranking.settings import RankingSettings
from services.ranking.upstream.client import make_upstreams
from shared.app import create_service_app
from shared.outbox import outbox_router

DESCRIPTION = """The yearly composite ranking of the 38 districts under 渝发改规范〔2024〕7号 第（六）条: a published,
versioned methodology; reproducible runs from the registry's district statistics with their inputs and hash; awards
from the eligibility service's M06 table (5,000,000 for ranks 1–5, 3,000,000 for 6–10); publication with history;
rank-uncertainty analysis; exports for the official notice."""


TAGS = [
    {
        "name": "methodologies",
        "description": "The versioned method of the yearly district ranking of 第（六）条: indicator weights, "
        "normalisation, growth basis, tie break; a version once used is immutable.",
    },
    {
        "name": "runs",
        "description": "Reproducible ranking runs over the registry's verified district statistics: a draft, its "
        "inputs and their hash, published once as the year's ranking (city and auditor).",
    },
    {
        "name": "sensitivity",
        "description": "How sure each rank is: ranks under perturbed weights and other normalisations, seeded.",
    },
    {
        "name": "published rankings",
        "description": "The year's published ranking, its history and its notice files: public, the awards of "
        "¥5,000,000 (ranks 1–5) and ¥3,000,000 (ranks 6–10).",
    },
]


def create_app(settings: RankingSettings | None = None) -> FastAPI:
    settings = settings or RankingSettings()

    @asynccontextmanager
    async def upstream_clients(app: FastAPI) -> AsyncIterator[None]:
        """The pooled clients of the registry and the eligibility service (see services.ranking.dependencies)."""
        app.state.upstreams = upstreams = make_upstreams(settings)
        try:
            yield
        finally:
            await upstreams.aclose()

    return create_service_app(
        settings=settings,
        title="Ranking",
        version=CODE_VERSION.removeprefix("ranking-"),
        description=DESCRIPTION,
        routers=[methodologies_router, runs_router, sensitivity_router, rankings_router, outbox_router("ranking")],
        lifespan_hooks=[upstream_clients],
        tags=TAGS,
    )
