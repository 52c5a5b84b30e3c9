"""The job queue (shared/queue.py) on a real PostgreSQL database with procrastinate's real worker: a job queued in
a session exists only if that session commits, jobs of one lock run in order even while one waits for its retry, a
queueing lock queues one job, an abort cancels a queued job, and the jobs of a stalled worker are taken up again."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import procrastinate
import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.queue import (
    ScheduleRetry,
    WorkerResources,
    create_queue_schema,
    drop_queue_schema,
    enqueue,
    make_queue,
    queue_depth,
    request_abort,
    retry_stalled_jobs,
    run_worker,
    worker_resources,
)
from tests.support import postgres_admin_url

tasks = procrastinate.Blueprint()


class Refused(Exception):
    """What the flaky task raises while it still has failures to give."""


@tasks.task(name="record", pass_context=True)
async def record(context: procrastinate.JobContext, value: str) -> None:
    async with worker_resources(context).sessions.begin() as session:
        await session.execute(text("INSERT INTO done (value) VALUES (:value)"), {"value": value})


@tasks.task(name="flaky", pass_context=True, retry=ScheduleRetry(waits=[0.3, 0.3, 0.3], retry_on=(Refused,)))
async def flaky(context: procrastinate.JobContext, value: str, failures: int) -> None:
    async with worker_resources(context).sessions.begin() as session:
        if context.job.attempts < failures:
            await session.execute(text("INSERT INTO done (value) VALUES (:value)"), {"value": f"{value}-failed"})
            await session.commit()
            raise Refused(value)
        await session.execute(text("INSERT INTO done (value) VALUES (:value)"), {"value": value})


def _admin(statement: str) -> None:
    url = make_url(postgres_admin_url())

    async def run() -> None:
        connection = await asyncpg.connect(
            host=url.host, port=url.port or 5432, user=url.username, database=url.database
        )
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    name = f"test_queue_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield str(make_url(postgres_admin_url()).set(drivername="postgresql+asyncpg", database=name))
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate(connection: Connection, upgrade: bool) -> None:
    operations = Operations(MigrationContext.configure(connection))
    if upgrade:
        create_queue_schema(operations)
        operations.execute("CREATE TABLE done (id bigserial PRIMARY KEY, value text NOT NULL)")
    else:
        drop_queue_schema(operations)
        operations.execute("DROP TABLE done")


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(_migrate, True)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
def queue(database_url: str, engine: AsyncEngine) -> procrastinate.App:
    return make_queue(database_url, tasks, namespace="test")


@pytest.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with engine.begin() as connection:
        await connection.execute(text("TRUNCATE done, procrastinate_jobs, procrastinate_workers CASCADE"))
    yield async_sessionmaker(engine, expire_on_commit=False)


async def _values(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list((await session.execute(text("SELECT value FROM done ORDER BY id"))).scalars())


async def _until(sessions: async_sessionmaker[AsyncSession], count: int, within: float = 20.0) -> list[str]:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        values = await _values(sessions)
        if len(values) >= count:
            return values
        await asyncio.sleep(0.1)
    return await _values(sessions)


class _Worker:
    def __init__(
        self, queue: procrastinate.App, sessions: async_sessionmaker[AsyncSession], health_file: Path | None = None
    ) -> None:
        resources = WorkerResources(sessions=sessions, settings=None)
        self.task = asyncio.create_task(
            run_worker(
                queue,
                resources,
                name="test-worker",
                concurrency=2,
                heartbeat_seconds=0.5,
                stalled_after_seconds=2.0,
                shutdown_grace_seconds=5.0,
                install_signal_handlers=False,
                health_file=health_file,
            )
        )

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_a_job_exists_only_if_its_transaction_commits(
    queue: procrastinate.App, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with sessions.begin() as session:
        job_id = await enqueue(session, "test:record", {"value": "committed"})
    assert isinstance(job_id, int)
    async with sessions() as session:
        await enqueue(session, "test:record", {"value": "rolled back"})
        await session.rollback()
    health_file = tmp_path / "worker-health"
    worker = _Worker(queue, sessions, health_file)
    try:
        assert await _until(sessions, 1) == ["committed"]
        await asyncio.sleep(1.0)  # time for a second job to run, if one had been queued
        assert await _values(sessions) == ["committed"]
        # The worker answers its health probe: the file is touched while it can reach its database.
        touched = health_file.stat().st_mtime
        await asyncio.sleep(1.0)
        assert health_file.stat().st_mtime > touched
    finally:
        await worker.stop()
    # A job that succeeded leaves no row in the queue (its record is the caller's own).
    async with sessions() as session:
        assert await queue_depth(session) == {"due": 0}


async def test_jobs_of_one_lock_run_in_order_while_one_waits_for_its_retry(
    queue: procrastinate.App, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        await enqueue(session, "test:flaky", {"value": "first", "failures": 2}, lock="subject-1")
        await enqueue(session, "test:flaky", {"value": "second", "failures": 0}, lock="subject-1")
        await enqueue(session, "test:flaky", {"value": "elsewhere", "failures": 0}, lock="subject-2")
    worker = _Worker(queue, sessions)
    try:
        values = await _until(sessions, 5)
    finally:
        await worker.stop()
    # The other lock's job does not wait for subject-1's retries; subject-1's second job waits for its first.
    subject_1 = [value for value in values if value != "elsewhere"]
    assert subject_1 == ["first-failed", "first-failed", "first", "second"]
    assert values.count("elsewhere") == 1
    assert values.index("elsewhere") < values.index("first")


async def test_a_queueing_lock_queues_one_job_and_keeps_the_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        first = await enqueue(session, "test:record", {"value": "a"}, queueing_lock="nightly")
        second = await enqueue(session, "test:record", {"value": "b"}, queueing_lock="nightly")
        await session.execute(text("INSERT INTO done (value) VALUES ('still usable')"))
    assert isinstance(first, int)
    assert second is None
    async with sessions() as session:
        assert (await queue_depth(session))["todo"] == 1
    assert await _values(sessions) == ["still usable"]


async def test_an_aborted_queued_job_never_runs(
    queue: procrastinate.App, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        job_id = await enqueue(session, "test:record", {"value": "cancelled"})
    assert job_id is not None
    async with sessions.begin() as session:
        assert await request_abort(session, job_id) is True
    async with sessions.begin() as session:
        assert await request_abort(session, job_id) is False  # finished (cancelled): nothing to abort
    worker = _Worker(queue, sessions)
    try:
        await asyncio.sleep(1.5)
    finally:
        await worker.stop()
    assert await _values(sessions) == []


async def test_the_jobs_of_a_stalled_worker_are_run_again(
    queue: procrastinate.App, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # A worker that took a job and died: its heartbeat a minute old, its job left `doing`.
    async with sessions.begin() as session:
        job_id = await enqueue(session, "test:record", {"value": "recovered"})
        worker_id = (
            await session.execute(
                text(
                    "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 minute') "
                    "RETURNING id"
                )
            )
        ).scalar_one()
        await session.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :worker WHERE id = :job"),
            {"worker": worker_id, "job": job_id},
        )
    async with queue.open_async():
        assert await retry_stalled_jobs(queue, stalled_after_seconds=30) == 1
    worker = _Worker(queue, sessions)
    try:
        assert await _until(sessions, 1) == ["recovered"]
    finally:
        await worker.stop()


def test_schedule_retry_follows_its_waits() -> None:
    strategy = ScheduleRetry(waits=[5, 300], retry_on=(Refused,))
    job: Any = procrastinate.jobs.Job(id=1, queue="default", lock=None, queueing_lock=None, task_name="t", attempts=0)
    assert strategy.get_retry_decision(exception=Refused(), job=job) is not None
    assert strategy.get_retry_decision(exception=ValueError(), job=job) is None
    assert strategy.attempts_left(job) == 2
    last = job.evolve(attempts=2)
    assert strategy.get_retry_decision(exception=Refused(), job=last) is None
    assert strategy.attempts_left(last) == 0


async def test_the_schema_goes_with_its_downgrade(database_url: str) -> None:
    name = f"test_queue_down_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(_admin, f'CREATE DATABASE "{name}"')
    engine = create_async_engine(str(make_url(database_url).set(database=name)))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, True)
        async with engine.begin() as connection:
            await connection.run_sync(_migrate, False)
        async with engine.connect() as connection:
            left = (
                await connection.execute(
                    text(
                        "SELECT count(*) FROM pg_class WHERE relname LIKE 'procrastinate%' UNION ALL "
                        "SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%' UNION ALL "
                        "SELECT count(*) FROM pg_type WHERE typname LIKE 'procrastinate%'"
                    )
                )
            ).scalars()
            assert list(left) == [0, 0, 0]
    finally:
        await engine.dispose()
        await asyncio.to_thread(_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
