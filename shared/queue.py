"""The job queue: procrastinate on the service's own PostgreSQL database, and the worker process around it.

Why procrastinate: it keeps jobs in PostgreSQL (the one database every mode already has: no broker to run), wakes
workers with LISTEN/NOTIFY, runs jobs sharing a `lock` one at a time in the order they were queued (a job waiting
for its retry keeps the later ones of its lock waiting: per-subject order of webhooks), retries on a strategy of
our own, records worker heartbeats (the jobs of a killed worker can be found and retried), supports periodic tasks
and abort requests, and is maintained. Its worker speaks psycopg; the apps keep asyncpg.

Jobs are queued through the caller's own session (`enqueue`), with the SQL function procrastinate itself calls
(`procrastinate_defer_jobs_v1`): the job is committed with the change that asks for it, or not at all — no change
without its job, no job without its change, even if the process dies between the two. `tests/test_queue.py`
shows a job queued this way is run by procrastinate's worker, so an upgrade that changes the function fails there.

Task names are `<service>:<task>`: each service defines its tasks on one `procrastinate.Blueprint` and its worker
loads it with `make_queue(url, blueprint, namespace=<service>)`.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, cast

import procrastinate
from procrastinate.app import WorkerOptions
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.util import await_only

from shared.queue_tables import QUEUE_TABLES

logger = logging.getLogger(__name__)

# The procrastinate release whose schema the migrations create (`create_queue_schema`): an upgrade of the library
# comes with a migration applying its sql/migrations files, and this constant moves with it.
QUEUE_VERSION = "3.10.0"
_TYPES = ("procrastinate_job_to_defer_v1", "procrastinate_job_event_type", "procrastinate_job_status")

_DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(CAST(:queue AS varchar), CAST(:task AS varchar), "
    "CAST(:priority AS integer), CAST(:lock AS text), CAST(:queueing_lock AS text), CAST(:args AS jsonb), "
    "CAST(:scheduled_at AS timestamptz))::procrastinate_job_to_defer_v1])) AS id"
)
_CANCEL = text("SELECT procrastinate_cancel_job_v1(CAST(:job_id AS bigint), true, false) AS id")


def queue_conninfo(database_url: str) -> str:
    """The libpq URL psycopg takes for a service's `postgresql+asyncpg://…` URL (the same server, role, database)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {url.render_as_string(hide_password=True)}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_queue(
    database_url: str, blueprint: procrastinate.Blueprint, *, namespace: str, pool_size: int = 2
) -> procrastinate.App:
    """The procrastinate app of one service's worker: its tasks are `<namespace>:<name>`. It holds at most
    `pool_size` connections for fetching and finishing jobs, plus one for LISTEN (which needs a direct connection:
    not through PgBouncer's transaction pooling)."""
    connector = procrastinate.PsycopgConnector(
        conninfo=queue_conninfo(database_url), min_size=1, max_size=max(pool_size, 1)
    )
    app = procrastinate.App(connector=connector)
    app.add_tasks_from(blueprint, namespace=namespace)
    return app


async def enqueue(
    session: AsyncSession,
    task: str,
    args: dict[str, Any],
    *,
    lock: str | None = None,
    queueing_lock: str | None = None,
    scheduled_at: datetime | None = None,
    queue: str = "default",
    priority: int = 0,
) -> int | None:
    """Queue `task` (`<service>:<name>`) with `args` in the session's transaction; its id.

    `lock`: jobs of one lock run one at a time, in the order queued. `queueing_lock`: at most one such job waits at
    once; queuing another while one waits queues nothing and answers None (a savepoint keeps the caller's
    transaction usable)."""
    parameters = {
        "queue": queue,
        "task": task,
        "priority": priority,
        "lock": lock,
        "queueing_lock": queueing_lock,
        "args": json.dumps(args),
        "scheduled_at": scheduled_at,
    }
    if queueing_lock is None:
        return cast(int, (await session.execute(_DEFER, parameters)).scalar_one())
    try:
        async with session.begin_nested():
            return cast(int, (await session.execute(_DEFER, parameters)).scalar_one())
    except IntegrityError:
        return None


async def request_abort(session: AsyncSession, queue_job_id: int) -> bool:
    """Cancel a queued job, or ask a running one to stop (its task sees `context.should_abort()`), in the session's
    transaction. False when the job had already finished."""
    return (await session.execute(_CANCEL, {"job_id": queue_job_id})).scalar_one() is not None


@dataclass(frozen=True)
class WorkerResources:
    """What a task of a service's worker works with: the sessions of its database (the task is the unit of work:
    `async with resources.sessions.begin() as session`), its settings, and its pooled upstream clients if any."""

    sessions: async_sessionmaker[AsyncSession]
    settings: Any
    http: Any = None


_RESOURCES = "resources"


def worker_resources(context: procrastinate.JobContext) -> WorkerResources:
    return cast(WorkerResources, context.additional_context[_RESOURCES])


@dataclass(frozen=True)
class ScheduleRetry(BaseRetryStrategy):
    """Retry after each wait of `waits` in turn (seconds: e.g. 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), then stop.

    Only for exceptions of `retry_on` (others fail at once): a task that gave up on purpose raises something else.
    """

    waits: Sequence[float]
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if not isinstance(exception, self.retry_on) or job.attempts >= len(self.waits):
            return None
        return RetryDecision(retry_at=datetime.now(UTC) + timedelta(seconds=float(self.waits[job.attempts])))

    def attempts_left(self, job: Job) -> int:
        """Retries still to come after the attempt now running (0: this is the last)."""
        return max(len(self.waits) - job.attempts, 0)


async def retry_stalled_jobs(app: procrastinate.App, *, stalled_after_seconds: float) -> int:
    """Queue again the jobs left `doing` by workers whose heartbeat stopped (killed, lost): how many."""
    retried = 0
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after_seconds):
        try:
            await app.job_manager.retry_job(job)
            retried += 1
        except Exception as error:  # another worker retried it first: nothing to do
            logger.info("stalled job %s not retried here: %s", job.id, error)
    if retried:
        logger.warning("retried %d jobs of stalled workers", retried)
    return retried


async def run_worker(
    app: procrastinate.App,
    resources: WorkerResources,
    *,
    name: str,
    concurrency: int = 4,
    heartbeat_seconds: float = 10.0,
    stalled_after_seconds: float = 30.0,
    shutdown_grace_seconds: float | None = None,
    loops: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    install_signal_handlers: bool = True,
    health_file: Path | None = None,
) -> None:
    """A service's worker process: procrastinate's worker on every queue, beside it the recovery of stalled workers'
    jobs (at start and every `stalled_after_seconds`) and `loops` (long-running coroutines such as the
    notifications relay). Returns after SIGTERM or SIGINT once the running jobs have finished.

    `shutdown_grace_seconds`: None (the default) waits for them however long they take. A bound would make
    procrastinate cancel the jobs still running at its end and record them `aborted`, for good (its retry strategy
    is asked about a CancelledError, which no strategy retries): an import cut off so would stay `running`
    forever. The orchestrator's own bound (Kubernetes' terminationGracePeriodSeconds, compose's stop_grace_period)
    ends in SIGKILL instead, and the jobs of a killed worker are queued again by the recovery of the others.

    `health_file` (WORKER_HEALTH_FILE in the worker mains): touched every `heartbeat_seconds` after a query on the
    queue's database succeeded, so that an exec probe (`python -m deploy.worker_health`) can tell a live worker
    from a hung one by the file's age."""
    async with app.open_async():
        await retry_stalled_jobs(app, stalled_after_seconds=stalled_after_seconds)

        async def recover() -> None:
            while True:
                await asyncio.sleep(stalled_after_seconds)
                try:
                    await retry_stalled_jobs(app, stalled_after_seconds=stalled_after_seconds)
                except Exception:  # the database away a moment: the next round tries again
                    logger.exception("recovery of stalled jobs failed")

        async def beat() -> None:
            assert health_file is not None
            while True:
                try:
                    await app.connector.execute_query_one_async("SELECT 1 AS alive")
                    await asyncio.to_thread(health_file.touch)
                except Exception:  # not touched: the probe sees the file age
                    logger.exception("worker health check failed")
                await asyncio.sleep(heartbeat_seconds)

        helpers = [asyncio.create_task(recover(), name="recover-stalled-jobs")]
        if health_file is not None:
            helpers.append(asyncio.create_task(beat(), name="health-file"))
        helpers += [asyncio.create_task(loop(), name=f"loop-{index}") for index, loop in enumerate(loops)]
        options: WorkerOptions = {
            "name": name,
            "concurrency": concurrency,
            "additional_context": {_RESOURCES: resources},
            "install_signal_handlers": install_signal_handlers,
            "update_heartbeat_interval": heartbeat_seconds,
            "stalled_worker_timeout": stalled_after_seconds,
            "delete_jobs": "successful",
        }
        if shutdown_grace_seconds is not None:  # procrastinate's own default: wait for the running jobs
            options["shutdown_graceful_timeout"] = shutdown_grace_seconds
        try:
            await app.run_worker_async(**options)
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)


async def queue_depth(session: AsyncSession) -> dict[str, int]:
    """Jobs per status (todo, doing, failed, …) and how many are due now: for metrics and readiness."""
    rows = await session.execute(
        text(
            "SELECT status::text AS status, count(*) AS jobs FROM procrastinate_jobs GROUP BY status "
            "UNION ALL SELECT 'due', count(*) FROM procrastinate_jobs "
            "WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= now())"
        )
    )
    return {row.status: int(row.jobs) for row in rows}


@dataclass(frozen=True)
class Sampler:
    """One family of gauges read from the service's database by `sampled_metrics`: `read` answers value by labels."""

    name: str
    documentation: str
    labels: tuple[str, ...]
    read: Callable[[AsyncSession], Coroutine[Any, Any, Mapping[tuple[str, ...], float]]]


async def _queue_jobs(session: AsyncSession) -> Mapping[tuple[str, ...], float]:
    depth = await queue_depth(session)
    # Every status present, even at zero: an alert on `due` must see a series when nothing waits.
    return {(status,): float(depth.get(status, 0)) for status in (*_JOB_STATUSES, "due")}


_JOB_STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborted")
QUEUE_JOBS = Sampler(
    "service_queue_jobs",
    "Jobs of the service's queue (shared/queue.py) by status; `due`: queued jobs whose time has come (a growing "
    "number means the workers do not keep up, or none runs).",
    ("status",),
    _queue_jobs,
)


def sampled_metrics(*samplers: Sampler, interval_seconds: float = 15.0) -> Callable[[Any], Any]:
    """A lifespan hook of a service app (shared.app): every `interval_seconds`, read each sampler in one short
    read-only session and set its gauges on the app's metrics. A failed sample keeps the previous values."""

    @asynccontextmanager
    async def hook(app: Any) -> AsyncIterator[None]:
        gauges = [
            (sampler, app.state.metrics.sampled(sampler.name, sampler.documentation, sampler.labels))
            for sampler in samplers
        ]

        async def sample() -> None:
            while True:
                try:
                    async with app.state.sessionmaker() as session:
                        for sampler, family in gauges:
                            family.values = dict(await sampler.read(session))
                except Exception:  # the database away a moment: the next round tries again
                    logger.warning("metrics sample failed", exc_info=True)
                await asyncio.sleep(interval_seconds)

        task = asyncio.create_task(sample(), name="metrics-sampler")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return hook


# Migrations ------------------------------------------------------------------------------------------------------


def _schema_sql() -> str:
    return resources.files("procrastinate.sql").joinpath("schema.sql").read_text(encoding="utf-8")


def create_queue_schema(op: Any) -> None:
    """In a service's Alembic migration: procrastinate's tables, types and functions (of QUEUE_VERSION)."""
    if procrastinate.__version__ != QUEUE_VERSION:
        raise RuntimeError(
            f"procrastinate {procrastinate.__version__} is installed; the migrations create the schema of "
            f"{QUEUE_VERSION}: pin it, or add a migration applying its sql/migrations files"
        )
    # One script of many statements (with $$ bodies): run by the driver's simple query protocol, which takes a
    # script whole, in the migration's transaction (asyncpg's execute without arguments).
    driver_connection = op.get_bind().connection.driver_connection
    await_only(driver_connection.execute(_schema_sql()))


def drop_queue_schema(op: Any) -> None:
    """The downgrade of `create_queue_schema`: every procrastinate object, jobs included."""
    op.execute("DROP TABLE IF EXISTS " + ", ".join(sorted(QUEUE_TABLES)) + " CASCADE")
    op.execute(
        """
        DO $$
        DECLARE f regprocedure;
        BEGIN
            FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
                     WHERE p.proname LIKE 'procrastinate\\_%' AND p.pronamespace = current_schema()::regnamespace
            LOOP
                EXECUTE 'DROP FUNCTION ' || f || ' CASCADE';
            END LOOP;
        END;
        $$
        """
    )
    op.execute("DROP TYPE IF EXISTS " + ", ".join(_TYPES) + " CASCADE")
