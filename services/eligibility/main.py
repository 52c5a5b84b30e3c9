"""The eligibility service: `uvicorn --factory services.eligibility.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.eligibility.awards.ranking import ranking_client
from services.eligibility.awards.router import router as awards_router
from services.eligibility.calculations.router import COMPUTATIONS
from services.eligibility.calculations.router import router as calculations_router
from services.eligibility.calendar.router import router as calendar_router
from services.eligibility.matches.router import router as matches_router
from services.eligibility.measures.router import router as measures_router
from services.eligibility.parameters.definitions import load_parameter_set
from services.eligibility.parameters.router import router as parameters_router
from services.eligibility.parameters.store import ParameterStore
from services.eligibility.policies.router import router as policies_router
from services.eligibility.registry_client.client import RegistryClient
from services.eligibility.screenings.router import router as screenings_router
from services.eligibility.settings import EligibilitySettings
from services.eligibility.simulations.router import router as simulations_router
from shared.app import create_service_app

DESCRIPTION = """渝发改规范〔2024〕7号 as code: the catalogue of the 16 measures, parameters with dated values,
citations and the policy's bounds, a calculator that explains every yuan, screening of the registry (免申即享), matching
of an enterprise to the measures that apply (第三十二条 of 渝府发〔2024〕18号), and what-if simulations."""


def _settings(app: FastAPI) -> EligibilitySettings:
    settings: EligibilitySettings = app.state.settings
    return settings


@asynccontextmanager
async def parameter_store(app: FastAPI) -> AsyncIterator[None]:
    settings = _settings(app)
    store = ParameterStore(
        load_parameter_set(settings.parameters_file), app.state.sessionmaker, settings.parameters_refresh_seconds
    )
    await store.reload()
    app.state.parameter_store = store
    yield


def make_registry_http(settings: EligibilitySettings) -> httpx.AsyncClient:
    """The pooled client for the registry; tests and the bench swap the transport."""
    return httpx.AsyncClient(
        base_url=settings.registry_url,
        timeout=httpx.Timeout(settings.registry_timeout_seconds, connect=settings.registry_connect_timeout_seconds),
        limits=httpx.Limits(max_connections=settings.registry_concurrency * 2, max_keepalive_connections=32),
    )


@asynccontextmanager
async def registry_client(app: FastAPI) -> AsyncIterator[None]:
    settings = _settings(app)
    transport: httpx.AsyncBaseTransport | None = getattr(app.state, "registry_transport", None)
    http = (
        httpx.AsyncClient(
            base_url=settings.registry_url, transport=transport, timeout=settings.registry_timeout_seconds
        )
        if transport is not None
        else make_registry_http(settings)
    )
    app.state.registry = RegistryClient(
        http,
        secret=settings.internal.secret,
        retries=settings.registry_retries,
        backoff_seconds=settings.registry_retry_backoff_seconds,
        page_size=settings.registry_page_size,
        concurrency=settings.registry_concurrency,
    )
    try:
        yield
    finally:
        await http.aclose()


def create_app(settings: EligibilitySettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or EligibilitySettings(),
        title="Eligibility",
        version="1.0.0",
        description=DESCRIPTION,
        routers=[
            measures_router,
            parameters_router,
            calculations_router,
            screenings_router,
            matches_router,
            simulations_router,
            awards_router,
            policies_router,
            calendar_router,
        ],
        lifespan_hooks=[parameter_store, registry_client, ranking_client],
        computations=COMPUTATIONS,
    )
