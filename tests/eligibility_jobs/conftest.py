"""Fixtures of the eligibility service's jobs and periodic work: the app (reading the real registry app in-process),
and a real procrastinate worker running the service's tasks in-process on the same database."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.eligibility.main import create_app as create_eligibility_app
from services.eligibility.registry_client.client import make_registry_client
from services.eligibility.settings import EligibilitySettings
from services.eligibility.tasks import Upstreams, make_tasks
from shared.clock import Clock
from shared.db import make_sessionmaker
from shared.queue import WorkerResources, make_queue, run_worker
from tests.eligibility.doubles import registry_in_process
from tests.support import CITY, REGISTRY_TABLES, TestDatabase, asgi_client, truncate

ELIGIBILITY_TABLES = (
    "parameter_amendments",
    "award_events",
    "awards",
    "official_calendars",
    "outbox_events",
    "jobs",
    "screening_snapshot_entries",
    "screening_snapshots",
    "policy_expiry_notices",
    "procrastinate_jobs",
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_workers",
)
# Small pages, so that every screening follows the registry's cursors; an export holds at most this many awards.
PAGE_SIZE = 3
EXPORT_MAX_ROWS = 3


def jobs_settings(database_url: str, **overrides: object) -> EligibilitySettings:
    values: dict[str, object] = {
        "database_url": database_url,
        "environment": "test",
        "registry_page_size": PAGE_SIZE,
        "registry_retries": 0,
        "registry_retry_backoff_seconds": 0.01,
        "registry_connect_timeout_seconds": 1,
        "award_export_max_rows": EXPORT_MAX_ROWS,
        "worker_concurrency": 2,
        "worker_heartbeat_seconds": 0.5,
        "worker_stalled_after_seconds": 2.0,
        "snapshot_retry_waits_seconds": [0.2],
        # Far from any test run: a worker's start never defers these unless a test asks for it.
        "snapshot_cron": "0 0 1 1 *",
        "policy_expiry_cron": "0 0 1 1 *",
        **overrides,
    }
    return EligibilitySettings.model_validate(values)


@pytest.fixture(scope="session")
async def eligibility_app(eligibility_database: TestDatabase, registry_app: FastAPI) -> AsyncIterator[FastAPI]:
    settings = jobs_settings(eligibility_database.url)
    app = create_eligibility_app(settings)
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
    async with eligibility_app.state.engine.begin() as connection:
        await connection.execute(text("DELETE FROM policies WHERE created_by <> 'migration'"))
    eligibility_app.state.parameter_store.invalidate()
    eligibility_app.state.clock.hold(None)
    registry_app.state.clock.hold(None)


@pytest.fixture
def clock(eligibility_app: FastAPI) -> Clock:
    """The eligibility service's clock, shared by its in-process worker."""
    clock: Clock = eligibility_app.state.clock
    return clock


@pytest.fixture
def client_for(eligibility_app: FastAPI) -> Callable[[Any], httpx.AsyncClient]:
    def make(principal: Any) -> httpx.AsyncClient:
        return asgi_client(eligibility_app, principal)

    return make


@pytest.fixture
def registry(registry_app: FastAPI) -> httpx.AsyncClient:
    """A city client of the registry, to record the subjects the tests screen."""
    return asgi_client(registry_app, CITY)


@pytest.fixture
def upstreams(eligibility_app: FastAPI, registry_app: FastAPI, clock: Clock) -> Upstreams:
    """What the worker's tasks read: the registry in-process, the app's parameter store, the app's clock."""
    settings: EligibilitySettings = eligibility_app.state.settings
    return Upstreams(
        make_registry_client(settings, httpx.ASGITransport(app=registry_app)),
        eligibility_app.state.parameter_store,
        clock,
    )


Worker = Callable[..., AbstractAsyncContextManager[None]]


@pytest.fixture
def worker(eligibility_app: FastAPI, upstreams: Upstreams) -> Worker:
    """`async with worker(**settings overrides):` the service's procrastinate worker runs its tasks meanwhile."""

    @asynccontextmanager
    async def running(**overrides: object) -> AsyncIterator[None]:
        settings = jobs_settings(eligibility_app.state.settings.database_url, **overrides)
        queue = make_queue(settings.database_url, make_tasks(settings), namespace="eligibility")
        resources = WorkerResources(
            sessions=make_sessionmaker(eligibility_app.state.engine), settings=settings, http=upstreams
        )
        task = asyncio.create_task(
            run_worker(
                queue,
                resources,
                name="eligibility-test-worker",
                concurrency=settings.worker_concurrency,
                heartbeat_seconds=settings.worker_heartbeat_seconds,
                stalled_after_seconds=settings.worker_stalled_after_seconds,
                shutdown_grace_seconds=5.0,
                install_signal_handlers=False,
            )
        )
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return running
