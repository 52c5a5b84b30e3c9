"""The monitoring service on its own database, reading the real registry and eligibility apps in-process."""

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from services.monitoring import SERVICE_DIR as MONITORING_DIR
from services.monitoring.dependencies import get_upstreams
from services.monitoring.main import create_app as create_monitoring_app
from services.monitoring.settings import MonitoringSettings
from services.monitoring.upstream.client import Upstreams, make_upstreams
from shared.auth import Principal
from shared.clock import Clock
from tests.support import CITY, REGISTRY_TABLES, TestDatabase, asgi_client, overridden, truncate

# The monitoring service's today in every test unless a test holds its clock elsewhere: 2025 has ended.
TODAY = date(2026, 3, 31)
MONITORING_TABLES = ("observations", "publications")


def monitoring_settings(database_url: str, **overrides: object) -> MonitoringSettings:
    values: dict[str, object] = {
        "database_url": database_url,
        "environment": "test",
        "upstream_retry_backoff_seconds": 0.01,
        **overrides,
    }
    return MonitoringSettings.model_validate(values)


def upstreams_in_process(
    app: FastAPI,
    settings: MonitoringSettings,
    *,
    registry: httpx.AsyncBaseTransport | None = None,
    eligibility: httpx.AsyncBaseTransport | None = None,
) -> AbstractAsyncContextManager[Upstreams]:
    return overridden(
        app, get_upstreams, make_upstreams(settings, registry_transport=registry, eligibility_transport=eligibility)
    )


@pytest.fixture(scope="session")
def monitoring_database() -> Iterator[TestDatabase]:
    yield from TestDatabase("monitoring", MONITORING_DIR).lifecycle()


@pytest.fixture(scope="session")
async def monitoring_app(
    monitoring_database: TestDatabase, registry_app: FastAPI, eligibility_app: FastAPI
) -> AsyncIterator[FastAPI]:
    settings = monitoring_settings(monitoring_database.url)
    app = create_monitoring_app(settings)
    registry, eligibility = httpx.ASGITransport(app=registry_app), httpx.ASGITransport(app=eligibility_app)
    async with (
        upstreams_in_process(app, settings, registry=registry, eligibility=eligibility),
        app.router.lifespan_context(app),
    ):
        yield app


@pytest.fixture(autouse=True)
async def _isolated(registry_app: FastAPI, monitoring_app: FastAPI) -> AsyncIterator[None]:
    yield
    await truncate(registry_app, REGISTRY_TABLES)
    await truncate(monitoring_app, MONITORING_TABLES)


@pytest.fixture(autouse=True)
def clock(monitoring_app: FastAPI) -> Iterator[Clock]:
    held: Clock = monitoring_app.state.clock
    held.hold(TODAY)
    yield held
    held.hold(None)


@pytest.fixture
def client_for(monitoring_app: FastAPI):  # type: ignore[no-untyped-def]
    """client_for(principal) → a client of the monitoring service signed for that principal (None: unsigned)."""

    def make(principal: Principal | None) -> httpx.AsyncClient:
        return asgi_client(monitoring_app, principal)

    return make


@pytest.fixture
def city(client_for) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return client_for(CITY)


@pytest.fixture
def registry(registry_app: FastAPI) -> httpx.AsyncClient:
    """A city client of the registry, to record the figures the tests assess."""
    return asgi_client(registry_app, CITY)
