"""The bulk import as a job: the task the registry's worker (`python -m services.registry.worker`) runs.

`POST /enterprises/import` with `Prefer: respond-async`, or with a body above `import_async_threshold_bytes`, stores
the body in a job (shared.jobs) and queues this task in the request's transaction. The task parses and validates the
rows as the synchronous import does and writes them chunk by chunk with the same code (service.py), reporting the
progress `{done, total}` (enterprises written of the import's enterprises) after each chunk in a short transaction of
its own, where it also learns whether the job was cancelled (DELETE /jobs/{id}): then it stops and rolls back.

Why one transaction, and not a checkpoint per chunk: the import's writes and the job's `succeeded` (with the report)
commit together or not at all. A worker killed mid-import leaves nothing written (its transaction dies with its
connection), so the job retried by another worker starts over from the stored body and gives exactly the report the
synchronous request would have given (with checkpoints, a resumed import would report the first chunks' enterprises
`unchanged`, and an atomic import could not be refused as a whole after chunks had committed). A retried task that
finds the job finished does nothing; two workers never run one job at once (its advisory lock). The cost is one
long transaction per import, as the synchronous import has.
"""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import procrastinate
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.registry.enterprises import imports, repository, service
from services.registry.jobs import store
from services.registry.settings import RegistrySettings
from shared.auth import Principal
from shared.clock import utcnow
from shared.errors import ProblemError
from shared.jobs import JobCancelled, job_location, job_problem
from shared.queue import ScheduleRetry, worker_resources

logger = logging.getLogger(__name__)

blueprint = procrastinate.Blueprint()

IMPORT_KIND = "enterprise-import"
IMPORT_TASK_NAME = "import_enterprises"
# Task names are `<service>:<task>` (shared.queue.make_queue).
IMPORT_TASK = f"registry:{IMPORT_TASK_NAME}"
# An unexpected error (the database away a moment) is retried after these waits, then the job fails. A refusal of
# the import itself (a problem: 400, 409, 413, 415, 422) fails the job at once, as the synchronous request answers it.
IMPORT_RETRY = ScheduleRetry(waits=(5.0, 30.0, 120.0))

Progress = Callable[[int, int], Awaitable[None]]


async def import_rows_with_progress(
    session: AsyncSession,
    principal: Principal,
    raw_rows: Iterable[Any],
    *,
    atomic: bool,
    max_errors_per_row: int,
    progress: Progress,
) -> dict[str, Any]:
    """service.import_rows, step for step (the same plan, checks, writes and report), calling `progress(done,
    total)` once the rows are validated and after each chunk's write (`done` of `total` enterprises)."""
    plan = await asyncio.to_thread(service._validated_plan, principal, raw_rows, max_errors_per_row)
    if atomic and plan.rejected:
        raise service._refusal(plan)

    years = sorted({year for planned in plan.enterprises.values() for year in planned.years})
    usccs = sorted(plan.enterprises)
    now = utcnow()
    accepted = created = updated = years_written = 0
    await progress(0, len(usccs))
    for start in range(0, len(usccs), service.IMPORT_CHUNK):
        chunk = usccs[start : start + service.IMPORT_CHUNK]
        existing, stored_years = await repository.existing_for_import(session, chunk, years)
        writable = service._checked(principal, plan, chunk, existing, stored_years)
        if atomic and plan.rejected:
            continue
        writes = await asyncio.to_thread(service._writes, principal, plan, writable, existing, stored_years, now)
        await service._write(session, principal, writes)
        accepted += len(writable)
        created += len(writes.new_enterprises)
        updated += len(writes.changed_enterprises)
        years_written += len(writes.new_years) + len(writes.changed_years)
        del writes, existing, stored_years
        await progress(start + len(chunk), len(usccs))
    plan.rejected.sort(key=lambda item: item["row"])
    if atomic and plan.rejected:
        raise service._refusal(plan)
    if years_written >= service.BULK_LOAD_ROWS:
        await repository.refresh_statistics(session)
    return {
        "rows": plan.rows,
        "created": created,
        "updated": updated,
        "unchanged": accepted - created - updated,
        "years_written": years_written,
        "rejected": plan.rejected,
    }


async def submit_import(
    session: AsyncSession,
    principal: Principal,
    *,
    body: bytes,
    content_type: str,
    atomic: bool,
    idempotency_key: str | None,
) -> Row[Any]:
    """Store the import's body in a job and queue it, in the request's transaction; the job's row."""
    return await store.submit(
        session,
        principal,
        kind=IMPORT_KIND,
        task=IMPORT_TASK,
        input=body,
        input_media_type=content_type,
        parameters={"atomic": atomic},
        idempotency_key=idempotency_key,
    )


async def read_job(session: AsyncSession, principal: Principal, job_id: uuid.UUID) -> Row[Any]:
    return await store.read(session, principal, job_id)


async def run_import_job(
    sessions: async_sessionmaker[AsyncSession], settings: RegistrySettings, job_id: uuid.UUID
) -> None:
    """Run one import job to its end: succeeded (the report its result), failed (a problem), or cancelled."""
    job = await store.start(sessions, job_id)
    if job is None:
        return  # finished (a retry after the commit), cancelled while queued, or unknown

    async def progress(done: int, total: int) -> None:
        await store.report_progress(sessions, job_id, done, total)

    try:
        async with sessions.begin() as session:
            await store.lock(session, job_id)
            if await store.finished(session, job_id):
                return  # another worker finished it while this one waited for the lock
            limits = imports.ImportLimits(max_rows=settings.import_max_rows, max_bytes=settings.import_max_bytes)
            rows = imports.parse_body(job.input_media_type or "", job.input or b"", limits)
            report = await import_rows_with_progress(
                session,
                job.principal,
                rows,
                atomic=bool(job.parameters.get("atomic", False)),
                max_errors_per_row=settings.import_max_errors_per_row,
                progress=progress,
            )
            if not await store.succeed(session, job_id, result=report):
                raise JobCancelled(str(job_id))  # cancelled between the last chunk and here: roll back
    except JobCancelled:
        await store.mark_cancelled(sessions, job_id)
        logger.info("import job %s cancelled; nothing written", job_id)
    except ProblemError as error:
        await store.fail(sessions, job_id, [job_problem(error, job_location(job_id))])
        logger.info("import job %s refused: %s", job_id, error.detail)


@blueprint.task(name=IMPORT_TASK_NAME, pass_context=True, retry=IMPORT_RETRY)
async def import_enterprises(context: procrastinate.JobContext, job_id: str) -> None:
    resources = worker_resources(context)
    settings: RegistrySettings = resources.settings
    job = uuid.UUID(job_id)
    try:
        await run_import_job(resources.sessions, settings, job)
    except asyncio.CancelledError:
        # procrastinate cancels the task when the job's abort is asked for as it starts (a DELETE that found it
        # still queued), or when the worker's shutdown runs out of time (then the job is retried, not cancelled).
        await asyncio.shield(store.mark_cancelled(resources.sessions, job, if_requested=True))
        raise
    except Exception as error:
        if IMPORT_RETRY.attempts_left(context.job) == 0:
            logger.exception("import job %s failed", job_id)
            await store.fail(resources.sessions, job, [job_problem(error, job_location(job))])
            return
        raise  # retried (IMPORT_RETRY); the job stays running meanwhile
