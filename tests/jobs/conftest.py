"""The registry's jobs: its app (tests/conftest.py), a worker in-process or as a process, and clean tables."""

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import procrastinate
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.registry.enterprises.tasks import blueprint
from shared.auth import Principal
from shared.queue import WorkerResources, make_queue, run_worker
from shared.settings import PROJECT_ROOT
from tests.support import CITY, REGISTRY_TABLES, TestDatabase, asgi_client, stop_process, truncate

JOB_TABLES = ("jobs", "procrastinate_jobs", "procrastinate_workers")


@pytest.fixture(autouse=True)
async def _isolated(registry_app: FastAPI) -> AsyncIterator[None]:
    yield
    await truncate(registry_app, (*REGISTRY_TABLES, *JOB_TABLES))


@pytest.fixture
def client_for(registry_app: FastAPI):
    def make(principal: Principal | None) -> httpx.AsyncClient:
        return asgi_client(registry_app, principal)

    return make


@pytest.fixture
def city(client_for):
    return client_for(CITY)


@pytest.fixture(scope="session")
def queue_app(registry_app: FastAPI) -> procrastinate.App:
    # Once per process: procrastinate's add_tasks_from renames the blueprint's tasks (a second app would find its
    # tasks under `registry:registry:…`).
    return make_queue(registry_app.state.settings.database_url, blueprint, namespace="registry")


@pytest.fixture
async def worker(registry_app: FastAPI, queue_app: procrastinate.App) -> AsyncIterator[asyncio.Task[None]]:
    """A registry worker (shared.queue.run_worker) in this process, on the test database, for the test's length."""
    settings = registry_app.state.settings
    app = queue_app
    resources = WorkerResources(sessions=registry_app.state.sessionmaker, settings=settings)
    task = asyncio.create_task(
        run_worker(app, resources, name="test-worker", concurrency=2, heartbeat_seconds=1, stalled_after_seconds=5)
    )
    yield task
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


@pytest.fixture
def worker_process(registry_database: TestDatabase):
    """start() → a `python -m services.registry.worker` process on the test database (each stopped at the end)."""
    started: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": registry_database.url,
        "REGISTRY_ENVIRONMENT": "test",
        "REGISTRY_LOG_LEVEL": "WARNING",
        "REGISTRY_WORKER_HEARTBEAT_SECONDS": "0.5",
        "REGISTRY_WORKER_STALLED_AFTER_SECONDS": "2",
    }

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.registry.worker"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        stop_process(process)


async def scalar(app: FastAPI, sql: str) -> int:
    async with app.state.engine.connect() as connection:
        return int((await connection.execute(text(sql))).scalar_one())
