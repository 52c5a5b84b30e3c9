from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.eligibility.main import create_app as create_eligibility_app
from services.eligibility.settings import EligibilitySettings
from shared.auth import Principal
from shared.clock import Clock
from tests.eligibility.awards_support import OTHER_POLICY, TODAY, register_other_policy
from tests.eligibility.doubles import registry_in_process
from tests.support import CITY, REGISTRY_TABLES, TestDatabase, asgi_client, truncate

ELIGIBILITY_TABLES = ("parameter_amendments", "award_events", "awards", "official_calendars")
# Small pages, so that every screening in the tests follows the registry's cursors.
PAGE_SIZE = 3


def eligibility_settings(database_url: str, **overrides: object) -> EligibilitySettings:
    values: dict[str, object] = {
        "database_url": database_url,
        "environment": "test",
        "registry_page_size": PAGE_SIZE,
        "registry_retry_backoff_seconds": 0.01,
        "registry_connect_timeout_seconds": 1,
        **overrides,
    }
    return EligibilitySettings.model_validate(values)


@pytest.fixture(scope="session")
async def eligibility_app(eligibility_database: TestDatabase, registry_app: FastAPI) -> AsyncIterator[FastAPI]:
    settings = eligibility_settings(eligibility_database.url)
    app = create_eligibility_app(settings)
    # The registry answers in-process: the real registry app behind httpx's ASGI transport.
    async with (
        registry_in_process(app, settings, httpx.ASGITransport(app=registry_app)),
        app.router.lifespan_context(app),
    ):
        yield app


@pytest.fixture(autouse=True)
async def _isolated(registry_app: FastAPI, eligibility_app: FastAPI) -> AsyncIterator[None]:
    yield
    await truncate(registry_app, REGISTRY_TABLES)
    await truncate(eligibility_app, ELIGIBILITY_TABLES)
    # The register keeps the policy the migration seeded (this one); the tests' own registrations go.
    async with eligibility_app.state.engine.begin() as connection:
        await connection.execute(text("DELETE FROM policies WHERE created_by <> 'migration'"))
    eligibility_app.state.parameter_store.invalidate()
    eligibility_app.state.clock.hold(None)
    registry_app.state.clock.hold(None)


@pytest.fixture
async def award_ledger(client_for, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    """For the ledger's tests: the clock held on TODAY and OTHER_POLICY registered (both undone by `_isolated`)."""
    clock.hold(TODAY)
    assert (await register_other_policy(client_for(CITY)))["document_number"] == OTHER_POLICY


@pytest.fixture
def clock(eligibility_app: FastAPI) -> Clock:
    """The eligibility service's clock (today in Asia/Shanghai), for a test to hold at a date."""
    clock: Clock = eligibility_app.state.clock
    return clock


@pytest.fixture
def client_for(eligibility_app: FastAPI):  # type: ignore[no-untyped-def]
    """client_for(principal) → a client of the eligibility service signed for that principal (None: unsigned)."""

    def make(principal: Principal | None) -> httpx.AsyncClient:
        return asgi_client(eligibility_app, principal)

    return make


@pytest.fixture
def city(client_for) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    """A city client of the eligibility service."""
    client: httpx.AsyncClient = client_for(CITY)
    return client


@pytest.fixture
def registry(registry_app: FastAPI) -> httpx.AsyncClient:
    """A city client of the registry, to record the subjects the tests screen."""
    return asgi_client(registry_app, CITY)
