"""Fixtures of the events tests: the three producers' apps (registry and eligibility from the root conftest, the
ranking here, reading both in-process), each test leaving every outbox and the producers' tables empty."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.ranking import SERVICE_DIR as RANKING_DIR
from services.ranking.main import create_app as create_ranking_app
from services.ranking.settings import RankingSettings
from shared.auth import Principal
from shared.outbox import TABLE_NAME
from tests.ranking.doubles import upstreams_in_process
from tests.support import REGISTRY_TABLES, SERVICE, TestDatabase, asgi_client, truncate

ELIGIBILITY_TABLES = ("parameter_amendments", "award_events", "awards", "official_calendars")
RANKING_DEFAULT_METHODOLOGY = "2024.1"


@pytest.fixture(scope="session")
def ranking_database() -> Iterator[TestDatabase]:
    yield from TestDatabase("ranking", RANKING_DIR).lifecycle()


@pytest.fixture(scope="session")
async def ranking_app(
    ranking_database: TestDatabase, registry_app: FastAPI, eligibility_app: FastAPI
) -> AsyncIterator[FastAPI]:
    settings = RankingSettings.model_validate(
        {"database_url": ranking_database.url, "environment": "test", "upstream_retry_backoff_seconds": 0.01}
    )
    app = create_ranking_app(settings)
    registry, eligibility = httpx.ASGITransport(app=registry_app), httpx.ASGITransport(app=eligibility_app)
    async with (
        upstreams_in_process(app, settings, registry=registry, eligibility=eligibility),
        app.router.lifespan_context(app),
    ):
        yield app


@pytest.fixture(autouse=True)
async def _isolated(request: pytest.FixtureRequest, registry_app: FastAPI) -> AsyncIterator[None]:
    # Before as well as after: the registry app is the whole session's, and earlier tests of other packages verify
    # figures (their events stay in its outbox).
    await truncate(registry_app, (*REGISTRY_TABLES, TABLE_NAME))
    yield
    await truncate(registry_app, (*REGISTRY_TABLES, TABLE_NAME))
    if "eligibility_app" in request.fixturenames:
        eligibility: FastAPI = request.getfixturevalue("eligibility_app")
        await truncate(eligibility, (*ELIGIBILITY_TABLES, TABLE_NAME))
        async with eligibility.state.engine.begin() as connection:
            await connection.execute(text("DELETE FROM policies WHERE created_by <> 'migration'"))
        eligibility.state.parameter_store.invalidate()
        eligibility.state.clock.hold(None)
    if "ranking_app" in request.fixturenames:
        ranking: FastAPI = request.getfixturevalue("ranking_app")
        await truncate(ranking, ("runs", TABLE_NAME))
        async with ranking.state.engine.begin() as connection:
            await connection.execute(
                text("DELETE FROM methodologies WHERE version <> :default"), {"default": RANKING_DEFAULT_METHODOLOGY}
            )
            await connection.execute(
                text("UPDATE methodologies SET is_default = TRUE WHERE version = :default"),
                {"default": RANKING_DEFAULT_METHODOLOGY},
            )
        ranking.state.clock.hold(None)
    registry_app.state.clock.hold(None)


async def outbox(app: FastAPI) -> list[dict[str, Any]]:
    """Every row of the app's outbox, in (txid, seq) order."""
    async with app.state.engine.connect() as connection:
        result = await connection.execute(text(f"SELECT * FROM {TABLE_NAME} ORDER BY txid, seq"))
        return [dict(row) for row in result.mappings()]


async def feed(app: FastAPI, *, after: str | None = None, limit: int | None = None, principal: Principal = SERVICE):
    """The app's feed as the notifications service reads it: (status, JSON body)."""
    params: dict[str, Any] = {}
    if after is not None:
        params["after"] = after
    if limit is not None:
        params["limit"] = limit
    async with asgi_client(app, principal) as client:
        response = await client.get("/outbox/events", params=params)
    return response.status_code, response.json()


async def feed_all(app: FastAPI) -> list[dict[str, Any]]:
    """Every event the feed serves now, followed page by page."""
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        status, body = await feed(app, after=cursor, limit=1000)
        assert status == 200, body
        if not body["items"]:
            return events
        events.extend(body["items"])
        cursor = body["cursor"]


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == event_type]
