from collections.abc import AsyncIterator, Iterator
from datetime import date

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.ranking import SERVICE_DIR as RANKING_DIR
from services.ranking.main import create_app as create_ranking_app
from services.ranking.settings import RankingSettings
from shared.auth import Principal
from shared.clock import Clock
from tests.ranking.doubles import upstreams_in_process
from tests.support import CITY, REGISTRY_TABLES, TestDatabase, asgi_client, truncate

DEFAULT_VERSION = "2024.1"
# The ranking service's today in every test unless a test holds its clock elsewhere: 2025 has ended, 2026 has not.
TODAY = date(2026, 3, 31)


def ranking_settings(database_url: str, **overrides: object) -> RankingSettings:
    values: dict[str, object] = {
        "database_url": database_url,
        "environment": "test",
        "upstream_retry_backoff_seconds": 0.01,
        **overrides,
    }
    return RankingSettings.model_validate(values)


@pytest.fixture(scope="session")
def ranking_database() -> Iterator[TestDatabase]:
    yield from TestDatabase("ranking", RANKING_DIR).lifecycle()


@pytest.fixture(scope="session")
async def ranking_app(
    ranking_database: TestDatabase, registry_app: FastAPI, eligibility_app: FastAPI
) -> AsyncIterator[FastAPI]:
    settings = ranking_settings(ranking_database.url)
    app = create_ranking_app(settings)
    # Both upstreams answer in-process: the real registry and eligibility apps behind httpx's ASGI transport.
    registry, eligibility = httpx.ASGITransport(app=registry_app), httpx.ASGITransport(app=eligibility_app)
    async with (
        upstreams_in_process(app, settings, registry=registry, eligibility=eligibility),
        app.router.lifespan_context(app),
    ):
        yield app


async def reset_ranking(app: FastAPI) -> None:
    """Back to the migrated state: no runs, only the seeded default methodology."""
    await truncate(app, ("runs",))
    async with app.state.engine.begin() as connection:
        await connection.execute(
            text("DELETE FROM methodologies WHERE version <> :default"), {"default": DEFAULT_VERSION}
        )
        await connection.execute(
            text("UPDATE methodologies SET is_default = TRUE WHERE version = :default"), {"default": DEFAULT_VERSION}
        )


@pytest.fixture(autouse=True)
async def _isolated(registry_app: FastAPI, ranking_app: FastAPI) -> AsyncIterator[None]:
    yield
    await truncate(registry_app, REGISTRY_TABLES)
    await reset_ranking(ranking_app)


@pytest.fixture(autouse=True)
def clock(ranking_app: FastAPI) -> Iterator[Clock]:
    """The ranking service's clock, held at TODAY; a test may `clock.hold(date(...))`; real time again after."""
    held: Clock = ranking_app.state.clock
    held.hold(TODAY)
    yield held
    held.hold(None)


@pytest.fixture
def client_for(ranking_app: FastAPI):  # type: ignore[no-untyped-def]
    """client_for(principal) → a client of the ranking service signed for that principal (None: unsigned)."""

    def make(principal: Principal | None) -> httpx.AsyncClient:
        return asgi_client(ranking_app, principal)

    return make


@pytest.fixture
def city(client_for) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return client_for(CITY)


@pytest.fixture
def registry(registry_app: FastAPI) -> httpx.AsyncClient:
    """A city client of the registry, to record the figures the tests rank."""
    return asgi_client(registry_app, CITY)


async def count_rows(app: FastAPI, table: str) -> int:
    async with app.state.engine.connect() as connection:
        return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
