from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from services.registry import SERVICE_DIR
from services.registry.main import create_app
from services.registry.settings import RegistrySettings
from shared.auth import Principal
from tests.support import CITY, TestDatabase, asgi_client, truncate

REGISTRY_TABLES = (
    "audit_log",
    "idempotent_requests",
    "enterprise_years",
    "enterprises",
    "cluster_evaluations",
    "clusters",
    "building_years",
    "buildings",
    "projects",
)


@pytest.fixture(scope="session")
def registry_database() -> Iterator[TestDatabase]:
    yield from TestDatabase("registry", SERVICE_DIR).lifecycle()


@pytest.fixture(scope="session")
async def registry_app(registry_database: TestDatabase) -> AsyncIterator[FastAPI]:
    app = create_app(RegistrySettings(database_url=registry_database.url, environment="test"))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(autouse=True)
async def _isolated(registry_app: FastAPI) -> AsyncIterator[None]:
    yield
    await truncate(registry_app, REGISTRY_TABLES)


@pytest.fixture
def client_for(registry_app: FastAPI):  # type: ignore[no-untyped-def]
    """client_for(principal) → an httpx client whose requests are signed for that principal (None: unsigned)."""
    opened: list[httpx.AsyncClient] = []

    def make(principal: Principal | None) -> httpx.AsyncClient:
        client = asgi_client(registry_app, principal)
        opened.append(client)
        return client

    yield make


@pytest.fixture
def city(client_for) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return client_for(CITY)
