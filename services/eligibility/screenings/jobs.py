"""A screening as a job: `POST /screenings` with `Prefer: respond-async` stores the body in a job (shared.jobs) and
queues it in the request's transaction; the worker screens exactly as the synchronous request does (the same code,
the caller's principal, the parameters in force) and the job's result is the screening's JSON.

The body is checked before anything is written: an invalid one is the 422 the synchronous request answers (FastAPI
parses it), another district's `district_code` under a district key the same 403. A screening writes nothing but
its job, so a retried one simply screens again.
"""

import logging
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.eligibility.jobs import JOBS, SCREENING, SCREENING_TASK, SNAPSHOT, SNAPSHOT_TASK
from services.eligibility.parameters.store import ParameterStore
from services.eligibility.registry_client.client import RegistryClient
from services.eligibility.screenings import service, snapshots
from services.eligibility.screenings.schemas import ScreeningIn, SnapshotIn, SnapshotOut
from shared.auth import Principal
from shared.errors import InvalidInput, ProblemError, field_error
from shared.jobs import JobCancelled, job_location, job_problem
from shared.scoping import listing_district

logger = logging.getLogger(__name__)
JSON = "application/json"


async def submit(session: AsyncSession, principal: Principal, body: ScreeningIn) -> Row[Any]:
    """Store the screening's body in a job and queue it (in the request's transaction); the job's row. A district
    key naming another district is refused (403) first, nothing written."""
    listing_district(principal, body.district_code)
    return await JOBS.submit(
        session,
        principal,
        kind=SCREENING,
        task=SCREENING_TASK,
        input=body.model_dump_json().encode(),
        input_media_type=JSON,
    )


async def run(
    sessions: async_sessionmaker[AsyncSession], registry: RegistryClient, store: ParameterStore, job_id: uuid.UUID
) -> None:
    """Run one screening job to its end: succeeded (the screening its result), failed (a problem), or cancelled."""
    job = await JOBS.start(sessions, job_id)
    if job is None:
        return  # finished (a retry after the commit), cancelled while queued, or unknown
    try:
        body = ScreeningIn.model_validate_json(job.input or b"")
        await JOBS.report_progress(sessions, job_id, 0, 1)
        answer = await service.screen(registry, await store.get(), job.principal, body)
        result = answer.model_dump(mode="json")
        async with sessions.begin() as session:
            await JOBS.lock(session, job_id)
            if await JOBS.finished(session, job_id):
                return
            if not await JOBS.succeed(session, job_id, result=result, done=1):
                raise JobCancelled(str(job_id))
    except JobCancelled:
        await JOBS.mark_cancelled(sessions, job_id)
        logger.info("screening job %s cancelled", job_id)
    except ProblemError as error:
        # The registry unreachable (503) or the request refused: the job fails with the synchronous answer's problem.
        await JOBS.fail(sessions, job_id, [job_problem(error, job_location(job_id))])
        logger.info("screening job %s failed: %s", job_id, error.detail)


async def submit_snapshot(
    session: AsyncSession, principal: Principal, body: SnapshotIn, years_in_force: Sequence[int]
) -> Row[Any]:
    """Queue the year's snapshot as a job (the city's: the nightly task's work, taken now); the job's row. Only a
    year the nightly screening covers today (`snapshots.years_in_force`): a snapshot of another (a year the policy
    does not reward, or any year once it has ended) would find nothing eligible and announce every enterprise as no
    longer eligible, which no later night would correct. 422, nothing written."""
    if body.year not in years_in_force:
        covered = ", ".join(map(str, years_in_force)) or "none: the policy is not in force today"
        raise InvalidInput(
            f"{body.year} is not a year the nightly screening covers today ({covered}).",
            errors=[field_error(["body", "year"], f"one of the years screened nightly today: {covered}")],
        )
    return await JOBS.submit(
        session,
        principal,
        kind=SNAPSHOT,
        task=SNAPSHOT_TASK,
        input=body.model_dump_json().encode(),
        input_media_type=JSON,
    )


async def run_snapshot(
    sessions: async_sessionmaker[AsyncSession],
    registry: RegistryClient,
    store: ParameterStore,
    today: date,
    keep: int,
    job_id: uuid.UUID,
) -> None:
    """Take one year's snapshot as a job: the snapshot, its events and the job's success commit together (a retry
    after a crash finds the job finished, or takes the snapshot again from nothing)."""
    job = await JOBS.start(sessions, job_id)
    if job is None:
        return
    try:
        body = SnapshotIn.model_validate_json(job.input or b"")
        await JOBS.report_progress(sessions, job_id, 0, 1)
        screening = await snapshots.screen_year(registry, await store.get(), body.year, today)
        async with sessions.begin() as session:
            await JOBS.lock(session, job_id)
            if await JOBS.finished(session, job_id):
                return
            outcome = await snapshots.store(session, screening, body.year, today, keep=keep)
            result = SnapshotOut(
                snapshot_id=outcome.snapshot_id,
                year=outcome.year,
                as_of=outcome.as_of,
                baseline=outcome.baseline,
                eligible=outcome.eligible,
                newly_eligible=outcome.newly_eligible,
                no_longer_eligible=outcome.no_longer_eligible,
            )
            if not await JOBS.succeed(session, job_id, result=result.model_dump(mode="json"), done=1):
                raise JobCancelled(str(job_id))
    except JobCancelled:
        await JOBS.mark_cancelled(sessions, job_id)
    except ProblemError as error:
        await JOBS.fail(sessions, job_id, [job_problem(error, job_location(job_id))])
        logger.info("snapshot job %s failed: %s", job_id, error.detail)
