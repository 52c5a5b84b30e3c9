"""Fixtures every test package shares: the registry and eligibility databases, a running registry app, and an
eligibility app that reads it."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from services.eligibility import SERVICE_DIR as ELIGIBILITY_DIR
from services.eligibility.main import create_app as create_eligibility_app
from services.eligibility.settings import EligibilitySettings
from services.registry import SERVICE_DIR as REGISTRY_DIR
from services.registry.main import create_app as create_registry_app
from services.registry.settings import RegistrySettings
from tests.eligibility.doubles import registry_in_process
from tests.support import TestDatabase, stop_embedded_postgres, uvicorn_process


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The tests' own server (when no server answered at TEST_POSTGRES_URL) stops with the session, while its log
    # lines still have somewhere to go.
    stop_embedded_postgres()


@pytest.fixture(scope="session")
def registry_database() -> Iterator[TestDatabase]:
    yield from TestDatabase("registry", REGISTRY_DIR).lifecycle()


@pytest.fixture(scope="session")
def eligibility_database() -> Iterator[TestDatabase]:
    yield from TestDatabase("eligibility", ELIGIBILITY_DIR).lifecycle()


@pytest.fixture(scope="session")
async def registry_app(registry_database: TestDatabase) -> AsyncIterator[FastAPI]:
    app = create_registry_app(RegistrySettings(database_url=registry_database.url, environment="test"))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def eligibility_app(eligibility_database: TestDatabase, registry_app: FastAPI) -> AsyncIterator[FastAPI]:
    """The eligibility service reading the real registry app in-process, as the ranking and the monitoring read it
    (tests/eligibility has its own, with the settings its tests turn)."""
    settings = EligibilitySettings(database_url=eligibility_database.url, environment="test")
    app = create_eligibility_app(settings)
    async with (
        registry_in_process(app, settings, httpx.ASGITransport(app=registry_app)),
        app.router.lifespan_context(app),
    ):
        yield app


@pytest.fixture
def registry_process(registry_database: TestDatabase):  # type: ignore[no-untyped-def]
    """The registry as a real uvicorn process on the same database: (url, process)."""
    env = {
        "REGISTRY_DATABASE_URL": registry_database.url,
        "REGISTRY_ENVIRONMENT": "test",
        "REGISTRY_LOG_LEVEL": "WARNING",
        # Its tests send large imports to see the synchronous path's bounds; tests/jobs sees the job's.
        "REGISTRY_IMPORT_ASYNC_THRESHOLD_BYTES": "0",
    }
    with uvicorn_process("services.registry.main:create_app", env) as running:
        yield running
