"""The monitoring service: `uvicorn --factory services.monitoring.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.monitoring import CODE_VERSION
from services.monitoring.assessments.router import router as assessments_router
from services.monitoring.map.router import router as map_router
from services.monitoring.observations.router import router as observations_router
from services.monitoring.publications.router import router as publications_router
from services.monitoring.settings import MonitoringSettings
from services.monitoring.targets.router import router as targets_router
from services.monitoring.upstream.client import make_upstreams
from shared.app import create_service_app

DESCRIPTION = """统计监测 under 渝府发〔2024〕18号 第（三十一）条 (可统计、可监测、可评估) and the
producer-services map of 第（二十三）条: every quantified 2027 target of the plan as cited data;
yearly values of its indicators, computed from the registry's verified figures where the registry
measures them and recorded by the city with their source otherwise (corrections kept as history);
each year's assessment (progress against the trajectory, status, forecast) as JSON, a workbook and
SVG charts; the map per district and sector; frozen yearly publications."""


TAGS = [
    {
        "name": "targets",
        "description": "The 2027 targets of 渝府发〔2024〕18号 and their indicators, as the plan states them, with the "
        "clause each comes from.",
    },
    {
        "name": "observations",
        "description": "Figures the registry does not hold (from the statistics bureau and departments), recorded "
        "by the city with their source; every revision kept.",
    },
    {
        "name": "assessments",
        "description": "统计监测: each target's progress in a year against its trajectory, with the workbook and "
        "the charts.",
    },
    {"name": "map", "description": "The producer-services map: an indicator per district, as data and as a tile map."},
    {
        "name": "publications",
        "description": "A year's assessment published as a frozen, versioned document (city), read by anyone.",
    },
]


def create_app(settings: MonitoringSettings | None = None) -> FastAPI:
    settings = settings or MonitoringSettings()

    @asynccontextmanager
    async def upstream_clients(app: FastAPI) -> AsyncIterator[None]:
        """The pooled clients of the registry and the eligibility service (see services.monitoring.dependencies)."""
        app.state.upstreams = upstreams = make_upstreams(settings)
        try:
            yield
        finally:
            await upstreams.aclose()

    return create_service_app(
        settings=settings,
        title="Monitoring",
        version=CODE_VERSION.removeprefix("monitoring-"),
        description=DESCRIPTION,
        routers=[targets_router, observations_router, assessments_router, map_router, publications_router],
        lifespan_hooks=[upstream_clients],
        tags=TAGS,
    )
