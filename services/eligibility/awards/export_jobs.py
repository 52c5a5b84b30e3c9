"""The awards exports as jobs: `GET /awards/export.csv|.xlsx` with `Prefer: respond-async` stores the filters in a
job (shared.jobs) and queues it in the request's transaction; the worker writes the file with the same code as the
synchronous request (services.eligibility.awards.service) and the job's result is the file.

The request is checked before anything is written, as the synchronous one is: invalid filters are a 422 (FastAPI
and `policy_filter`), another district under a district key a 403, and a selection above the export's bound the
same 422 (counted at submission; counted again when the file is written, as the ledger may have grown meanwhile).
"""

import dataclasses
import logging
import uuid
from typing import Any, Literal

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.eligibility.awards import repository, service
from services.eligibility.awards.schemas import AwardFilters
from services.eligibility.jobs import AWARDS_EXPORT_CSV, AWARDS_EXPORT_XLSX, EXPORT_TASK, JOBS
from shared.auth import Principal
from shared.downloads import CSV, XLSX
from shared.errors import InvalidInput, ProblemError, field_error
from shared.jobs import JobCancelled, job_location, job_problem

logger = logging.getLogger(__name__)

ExportFormat = Literal["csv", "xlsx"]
KINDS: dict[str, ExportFormat] = {AWARDS_EXPORT_CSV: "csv", AWARDS_EXPORT_XLSX: "xlsx"}
# The files the synchronous routes answer (shared.downloads.download), with their names.
FILES = {"csv": ("awards.csv", CSV), "xlsx": ("awards.xlsx", XLSX)}


async def submit(
    session: AsyncSession, principal: Principal, filters: AwardFilters, file_format: ExportFormat, max_rows: int
) -> Row[Any]:
    """Store the export's filters in a job and queue it (in the request's transaction); the job's row."""
    selected = service.scoped(principal, filters)  # 403 for another district, before anything is written
    total = await repository.count(session, selected)
    if total > max_rows:
        raise InvalidInput(
            f"The filters select {total} awards; an export holds at most {max_rows}. Narrow the filters.",
            errors=[field_error(["query"], f"{total} awards selected, at most {max_rows} per export")],
        )
    return await JOBS.submit(
        session,
        principal,
        kind=AWARDS_EXPORT_CSV if file_format == "csv" else AWARDS_EXPORT_XLSX,
        task=EXPORT_TASK,
        parameters={"filters": dataclasses.asdict(filters)},
    )


async def run(sessions: async_sessionmaker[AsyncSession], max_rows: int, job_id: uuid.UUID) -> None:
    """Run one export job to its end: succeeded (the file its result), failed (a problem), or cancelled."""
    job = await JOBS.start(sessions, job_id)
    if job is None:
        return
    file_format = KINDS[job.kind]
    filters = AwardFilters(**job.parameters.get("filters", {}))
    filename, media_type = FILES[file_format]
    try:
        await JOBS.report_progress(sessions, job_id, 0, 1)
        async with sessions.begin() as session:
            await JOBS.lock(session, job_id)
            if await JOBS.finished(session, job_id):
                return
            if file_format == "csv":
                body = await service.export_csv(session, job.principal, filters, max_rows)
            else:
                body = await service.export_xlsx(session, job.principal, filters, max_rows)
            if not await JOBS.succeed(session, job_id, file=body, media_type=media_type, filename=filename, done=1):
                raise JobCancelled(str(job_id))
    except JobCancelled:
        await JOBS.mark_cancelled(sessions, job_id)
        logger.info("export job %s cancelled", job_id)
    except ProblemError as error:
        await JOBS.fail(sessions, job_id, [job_problem(error, job_location(job_id))])
        logger.info("export job %s failed: %s", job_id, error.detail)
