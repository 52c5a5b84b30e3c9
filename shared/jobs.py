"""Long work as job resources: a service's `jobs` table, the job's HTTP answers, and the worker's bookkeeping.

A request asking for long work with `Prefer: respond-async` (RFC 7240), or too large to be answered while its
caller waits, is stored as a job (its input with it) and queued (shared.queue) in the request's own transaction:
`202 Accepted`, `Location: /jobs/{id}` and the job. The worker's task runs it and records what it does here:
`start` (queued → running), `report_progress` (in a short transaction of its own, so that a poller sees it while the
work's own transaction is still open; it also tells the task whether a cancellation was asked for), and
`succeed` (in the work's transaction: the work's writes and the job's `succeeded` commit together or not at all),
`fail` or `mark_cancelled`.

Each service keeps its jobs in its own database (`jobs_table(metadata)`, as shared.nonces.nonce_table) and mounts
`jobs_router(table, operation_prefix=...)`: `GET /jobs/{id}`, `GET /jobs/{id}/result`, `DELETE /jobs/{id}`.
District keys see their own district's jobs only (another's is a 404: a job's id tells nothing of its owner);
the city and the auditor see every job; the city and the job's own district may cancel it.
"""

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import procrastinate
from fastapi import APIRouter, Depends, Header, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Uuid,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import KeyHolderDep, Principal, Role
from shared.clock import utcnow
from shared.db import SessionDep
from shared.errors import Conflict, Forbidden, NotFound, Problem, ProblemError, SafeJSONResponse, caller_path
from shared.openapi import HEADERS, problems, schema_ref
from shared.queue import enqueue, request_abort, worker_resources

TABLE_NAME = "jobs"
# A job's input is kept with it until the job is deleted; the service bounds what it accepts (an import body is at
# most its `import_max_bytes`), this is the column's own ceiling.
MAX_INPUT_BYTES = 256 * 1024 * 1024


class JobStatus(StrEnum):
    """Where a job is: waiting for a worker, being worked on, or finished one of three ways."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


logger = logging.getLogger(__name__)
FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


def jobs_table(metadata: MetaData) -> Table:
    """A service's `jobs` table on its own metadata (so that its migrations and `alembic check` see it)."""
    statuses = ", ".join(f"'{value}'" for value in JobStatus)
    return Table(
        TABLE_NAME,
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("kind", String(64), nullable=False),
        Column("status", String(16), nullable=False),
        Column("progress_done", BigInteger, nullable=False, server_default=text("0")),
        Column("progress_total", BigInteger, nullable=True),
        # The answer: JSON, or a file (bytes, media type, filename).
        Column("result", JSONB, nullable=True),
        Column("result_file", LargeBinary, nullable=True),
        Column("result_media_type", String(255), nullable=True),
        Column("result_filename", String(255), nullable=True),
        # Problems (RFC 9457 objects) of a failed job.
        Column("errors", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
        Column("requester_role", String(16), nullable=False),
        Column("requester_district", String(6), nullable=True),
        # What the request sent: its body and media type, and its other parameters (query values) as JSON. The body
        # is kept until the job has finished (a retried task reads it again), then cleared.
        Column("input", LargeBinary, nullable=True),
        Column("input_media_type", String(255), nullable=True),
        Column("parameters", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("idempotency_key", String(128), nullable=True),
        Column("queue_job_id", BigInteger, nullable=True),
        Column("cancel_requested", Boolean, nullable=False, server_default=text("false")),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("started_at", DateTime(timezone=True), nullable=True),
        Column("finished_at", DateTime(timezone=True), nullable=True),
        CheckConstraint(f"status IN ({statuses})", name="status"),
        CheckConstraint(f"input IS NULL OR octet_length(input) <= {MAX_INPUT_BYTES}", name="input_bounded"),
        Index(f"ix_{TABLE_NAME}_requester_district_created_at", "requester_district", "created_at"),
    )


# ---- schemas -------------------------------------------------------------------------------------------------


class JobProgress(BaseModel):
    done: int = Field(description="Units of work done so far (what a unit is, the job's kind says).", ge=0)
    total: int | None = Field(description="Units of work in all; null until the job knows.", ge=0)


class JobOut(BaseModel):
    """A job: long work submitted with `Prefer: respond-async` (or too large to be answered at once)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str = Field(description="What the job does, e.g. `enterprise-import`.", examples=["enterprise-import"])
    status: JobStatus
    progress: JobProgress
    result_url: str | None = Field(
        description="Where the result is read once the job succeeded (`GET …/jobs/{id}/result`); null before.",
        examples=["/api/v1/registry/jobs/0b6a4a8e-3c3c-4a5e-9d0e-6f2b1d5f6a11/result"],
    )
    errors: list[Problem] = Field(description="Why a failed job failed: RFC 9457 problems. Empty otherwise.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobConflictProblem(Problem):
    """`/problems/job-state`: the job is not in the state the request needs (not finished yet, or finished
    already)."""

    job_status: JobStatus = Field(description="The job's status when the request was refused.")


class JobStateConflict(Conflict):
    slug = "job-state"


class TooManyJobs(ProblemError):
    """The caller has as many jobs waiting or running as one caller may: its next waits for one of them to end."""

    status, title, slug = 429, "Too Many Requests", "too-many-jobs"


# Jobs one caller (the city, the auditor, a district's keys together) may have queued or running at once: each holds
# its input in the database and a place in the workers' queue, so that one caller cannot fill either.
MAX_UNFINISHED_PER_REQUESTER = 10


def add_pruning(blueprint: procrastinate.Blueprint, store: "JobStore", *, cron: str, retention_days: int) -> None:
    """A periodic task on a worker's `blueprint` deleting the jobs finished more than `retention_days` ago (their
    results are held for that long: `result_url` answers 404 after)."""

    async def prune_jobs(context: procrastinate.JobContext, timestamp: int) -> int:
        async with worker_resources(context).sessions.begin() as session:
            pruned = await store.prune(session, finished_before=utcnow() - timedelta(days=retention_days))
        logger.info("pruned %d jobs finished more than %d days ago", pruned, retention_days)
        return pruned

    task = blueprint.task(name="prune_jobs", pass_context=True)(prune_jobs)
    blueprint.periodic(cron=cron, periodic_id="prune")(task)


# ---- Prefer: respond-async -------------------------------------------------------------------------------------


def prefers_async(values: Sequence[str]) -> bool:
    """Whether `Prefer` header values (RFC 7240 §2: comma-separated preferences, each a token with an optional value
    and parameters after `;`, tokens compared case-insensitively, the header possibly sent more than once) ask for
    `respond-async`."""
    for value in values:
        for preference in value.split(","):
            name = preference.split(";", 1)[0].split("=", 1)[0].strip().lower()
            if name == "respond-async":
                return True
    return False


async def _prefer(
    request: Request,
    prefer: Annotated[
        str | None,
        Header(
            alias="Prefer",
            max_length=1024,
            description="`respond-async` (RFC 7240): answer at once with a job (202) rather than wait for the work.",
            examples=["respond-async"],
        ),
    ] = None,
) -> bool:
    return prefers_async(request.headers.getlist("prefer"))


PreferAsyncDep = Annotated[bool, Depends(_prefer)]
PREFERENCE_APPLIED = {"Preference-Applied": "respond-async"}


# ---- the store and the worker's bookkeeping ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobInput:
    """What a task reads of its job."""

    id: uuid.UUID
    kind: str
    status: JobStatus
    principal: Principal
    input: bytes | None
    input_media_type: str | None
    parameters: dict[str, Any]
    attempts: int


class JobCancelled(Exception):
    """Raised by a task's progress report when the job's cancellation was asked for: the work stops, rolls back."""


def _principal_of(row: Row[Any]) -> Principal:
    return Principal(Role(row.requester_role), row.requester_district)


def _visible(principal: Principal, row: Row[Any]) -> bool:
    if principal.role in (Role.CITY, Role.AUDITOR, Role.SERVICE):
        return True
    return principal.role is Role.DISTRICT and row.requester_district == principal.district_code


def _submitted_by(principal: Principal, row: Row[Any]) -> bool:
    """The principal is the job's requester (a district: any key of its district; the auditor: the auditor)."""
    return bool(row.requester_role == principal.role.value and row.requester_district == principal.district_code)


@dataclass(frozen=True)
class JobStore:
    """The jobs of one service (its `jobs_table`)."""

    table: Table

    # -- requests -----------------------------------------------------------------------------------------------

    async def submit(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        kind: str,
        task: str,
        input: bytes | None = None,
        input_media_type: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        queue: str = "default",
    ) -> Row[Any]:
        """Store a job and queue its `task` (args `{"job_id": …}`) in the session's transaction: both commit with
        the request, or neither. The job's row. 429 while the caller has MAX_UNFINISHED_PER_REQUESTER jobs queued
        or running (two requests at once may both pass the count: the bound is approximate by one or two)."""
        t = self.table
        unfinished = (
            await session.execute(
                select(func.count())
                .select_from(t)
                .where(
                    t.c.requester_role == principal.role.value,
                    t.c.requester_district.is_not_distinct_from(principal.district_code),
                    t.c.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
                )
            )
        ).scalar_one()
        if unfinished >= MAX_UNFINISHED_PER_REQUESTER:
            raise TooManyJobs(
                f"{unfinished} jobs of {principal.label} are queued or running, as many as one caller may have: "
                "wait for one to finish (GET /jobs/{id}) or cancel one (DELETE /jobs/{id}).",
                headers={"Retry-After": "30"},
            )
        job_id = uuid.uuid4()
        await session.execute(
            self.table.insert().values(
                id=job_id,
                kind=kind,
                status=JobStatus.QUEUED.value,
                requester_role=principal.role.value,
                requester_district=principal.district_code,
                input=input,
                input_media_type=input_media_type,
                parameters=dict(parameters or {}),
                idempotency_key=idempotency_key,
                created_at=utcnow(),
            )
        )
        queue_job_id = await enqueue(session, task, {"job_id": str(job_id)}, queue=queue)
        row = (
            await session.execute(
                update(self.table)
                .where(self.table.c.id == job_id)
                .values(queue_job_id=queue_job_id)
                .returning(*self._public_columns())
            )
        ).one()
        return row

    def _public_columns(self) -> list[Column[Any]]:
        # Everything but the input and the result's bytes, which may be large.
        return [column for column in self.table.c if column.name not in ("input", "result_file", "result")]

    async def prune(self, session: AsyncSession, *, finished_before: datetime) -> int:
        """Delete the jobs that finished (succeeded, failed, cancelled) before `finished_before`, with their inputs
        and results (an export's file among them): how many. Queued and running jobs are never touched."""
        t = self.table
        result = await session.execute(
            delete(t).where(t.c.status.in_(sorted(FINISHED)), t.c.finished_at < finished_before)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def get(self, session: AsyncSession, job_id: uuid.UUID) -> Row[Any] | None:
        return (await session.execute(select(*self._public_columns()).where(self.table.c.id == job_id))).one_or_none()

    async def read(self, session: AsyncSession, principal: Principal, job_id: uuid.UUID) -> Row[Any]:
        """The job if the principal may see it; 404 otherwise (another district's job is not told apart)."""
        row = await self.get(session, job_id)
        if row is None or not _visible(principal, row):
            raise NotFound(f"No job {job_id}.")
        return row

    async def result(
        self, session: AsyncSession, principal: Principal, job_id: uuid.UUID
    ) -> tuple[Any, bytes | None, str | None, str | None]:
        """A succeeded job's result: (JSON, file bytes, media type, filename); 409 while it has none."""
        job = await self.read(session, principal, job_id)
        if job.status != JobStatus.SUCCEEDED:
            raise JobStateConflict(
                f"The job is {job.status}: a result is read once it has succeeded.",
                job_status=job.status,
            )
        t = self.table
        row = (
            await session.execute(
                select(t.c.result, t.c.result_file, t.c.result_media_type, t.c.result_filename).where(t.c.id == job_id)
            )
        ).one()
        return row.result, row.result_file, row.result_media_type, row.result_filename

    async def cancel(self, session: AsyncSession, principal: Principal, job_id: uuid.UUID) -> tuple[Row[Any], bool]:
        """Cancel a job: (the job, whether it is still stopping). A queued job is cancelled at once; a running one
        is asked to stop (its task stops at its next progress report); a finished one is a 409 (a cancelled one is
        answered as it is)."""
        t = self.table
        job = (
            await session.execute(select(*self._public_columns()).where(t.c.id == job_id).with_for_update())
        ).one_or_none()
        if job is None or not _visible(principal, job):
            raise NotFound(f"No job {job_id}.")
        if not (principal.role is Role.CITY or _submitted_by(principal, job)):
            raise Forbidden("A job is cancelled by the city or by whoever submitted it.")
        if job.status == JobStatus.CANCELLED:
            return job, False
        if job.status in FINISHED:
            raise JobStateConflict(
                f"The job has {job.status} already: there is nothing to cancel.", job_status=job.status
            )
        values: dict[str, Any] = {}
        if job.status == JobStatus.QUEUED:
            # Out of the queue too. A running job is not aborted by procrastinate (which would cancel its task
            # mid-statement): it stops itself at its next progress report, between two steps.
            if job.queue_job_id is not None:
                await request_abort(session, job.queue_job_id)
            values = {"status": JobStatus.CANCELLED.value, "input": None, "finished_at": utcnow()}
        row = (
            await session.execute(
                update(t)
                .where(t.c.id == job_id)
                .values(cancel_requested=True, **values)
                .returning(*self._public_columns())
            )
        ).one()
        return row, row.status != JobStatus.CANCELLED

    # -- the worker's side ----------------------------------------------------------------------------------------

    async def start(self, sessions: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> JobInput | None:
        """Mark the job running (one more attempt), in a transaction of its own; None when there is nothing to do
        (it finished, was cancelled, or is unknown). A job cancelled while queued is finished here."""
        t = self.table
        async with sessions.begin() as session:
            row = (await session.execute(select(t).where(t.c.id == job_id).with_for_update())).one_or_none()
            if row is None or row.status in FINISHED:
                return None
            if row.cancel_requested:
                await session.execute(
                    update(t)
                    .where(t.c.id == job_id)
                    .values(status=JobStatus.CANCELLED.value, input=None, finished_at=utcnow())
                )
                return None
            await session.execute(
                update(t)
                .where(t.c.id == job_id)
                .values(
                    status=JobStatus.RUNNING.value,
                    started_at=func.coalesce(t.c.started_at, func.now()),
                    attempts=t.c.attempts + 1,
                )
            )
        return JobInput(
            id=row.id,
            kind=row.kind,
            status=JobStatus.RUNNING,
            principal=_principal_of(row),
            input=row.input,
            input_media_type=row.input_media_type,
            parameters=dict(row.parameters),
            attempts=row.attempts + 1,
        )

    async def report_progress(
        self, sessions: async_sessionmaker[AsyncSession], job_id: uuid.UUID, done: int, total: int | None
    ) -> None:
        """Record the progress in a short transaction of its own (a poller sees it at once); raises JobCancelled
        when the job's cancellation was asked for, so that the work stops between two steps."""
        t = self.table
        async with sessions.begin() as session:
            cancel = (
                await session.execute(
                    update(t)
                    .where(t.c.id == job_id, t.c.status == JobStatus.RUNNING.value)
                    .values(progress_done=done, progress_total=total)
                    .returning(t.c.cancel_requested)
                )
            ).scalar_one_or_none()
        if cancel is None or cancel:
            raise JobCancelled(str(job_id))

    async def finished(self, session: AsyncSession, job_id: uuid.UUID) -> bool:
        """Whether the job is finished (committed by another transaction: after a crash, a retried task finds its
        work done)."""
        status_ = (await session.execute(select(self.table.c.status).where(self.table.c.id == job_id))).scalar()
        return status_ is None or status_ in FINISHED

    async def lock(self, session: AsyncSession, job_id: uuid.UUID) -> None:
        """Hold the job's advisory lock for the session's transaction: two workers never run one job at once (a
        second waits, then finds it finished)."""
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"{TABLE_NAME}:{job_id}"}
        )

    async def succeed(
        self,
        session: AsyncSession,
        job_id: uuid.UUID,
        *,
        result: Any = None,
        file: bytes | None = None,
        media_type: str | None = None,
        filename: str | None = None,
        done: int | None = None,
    ) -> bool:
        """Mark the job succeeded with its result, in the work's own transaction (so the work's writes and the
        job's success commit together). False, and nothing changed, when the job was cancelled meanwhile: the
        caller rolls its work back."""
        t = self.table
        values: dict[str, Any] = {
            "status": JobStatus.SUCCEEDED.value,
            "input": None,
            "result": result,
            "result_file": file,
            "result_media_type": media_type,
            "result_filename": filename,
            "finished_at": utcnow(),
        }
        if done is not None:
            values |= {"progress_done": done, "progress_total": func.greatest(t.c.progress_total, done)}
        updated = await session.execute(
            update(t)
            .where(t.c.id == job_id, t.c.status == JobStatus.RUNNING.value, t.c.cancel_requested.is_(False))
            .values(**values)
            .returning(t.c.id)
        )
        return updated.scalar_one_or_none() is not None

    async def fail(
        self, sessions: async_sessionmaker[AsyncSession], job_id: uuid.UUID, errors: Sequence[Mapping[str, Any]]
    ) -> None:
        """Mark the job failed with its problems, in a transaction of its own (the work's rolled back)."""
        t = self.table
        async with sessions.begin() as session:
            await session.execute(
                update(t)
                .where(t.c.id == job_id, t.c.status.not_in([s.value for s in FINISHED]))
                .values(
                    status=JobStatus.FAILED.value,
                    errors=[dict(error) for error in errors],
                    input=None,
                    finished_at=utcnow(),
                )
            )

    async def mark_cancelled(
        self, sessions: async_sessionmaker[AsyncSession], job_id: uuid.UUID, *, if_requested: bool = False
    ) -> bool:
        """Mark the job cancelled (its work stopped and rolled back), in a transaction of its own; with
        `if_requested`, only if its cancellation was asked for (a task cancelled by its worker's shutdown is not: it
        is retried). Whether it was marked."""
        t = self.table
        condition = [t.c.id == job_id, t.c.status.not_in([s.value for s in FINISHED])]
        if if_requested:
            condition.append(t.c.cancel_requested.is_(True))
        async with sessions.begin() as session:
            marked = await session.execute(
                update(t)
                .where(*condition)
                .values(status=JobStatus.CANCELLED.value, cancel_requested=True, input=None, finished_at=utcnow())
                .returning(t.c.id)
            )
            return marked.scalar_one_or_none() is not None


def job_problem(exc: Exception, instance: str, *, request_id: str | None = None) -> dict[str, Any]:
    """A failed job's problem from the error that ended it (a shared.errors.ProblemError keeps its type, status,
    detail and field errors; anything else is an internal error, its detail not shown)."""
    if isinstance(exc, ProblemError):
        problem: dict[str, Any] = {
            "type": f"/problems/{exc.slug}",
            "title": exc.title,
            "status": exc.status,
            "detail": exc.detail,
            "instance": instance,
            "request_id": request_id,
        }
        if exc.errors is not None:
            problem["errors"] = exc.errors
        return problem
    return {
        "type": "/problems/internal-error",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "The job failed on an unexpected error; it was logged. Submit it again, or report the job's id.",
        "instance": instance,
        "request_id": request_id,
    }


# ---- HTTP --------------------------------------------------------------------------------------------------------


def _prefix(request: Request) -> str:
    """The gateway's `/api/v1/<service>` before the service's paths ("" when called directly)."""
    called = caller_path(request)
    return called[: len(called) - len(request.url.path)]


def job_location(job_id: uuid.UUID) -> str:
    """The job's path in the service (the gateway rewrites a service-relative Location to the caller's)."""
    return f"/jobs/{job_id}"


def job_out(request: Request, row: Row[Any]) -> JobOut:
    """The job as its caller reads it: `result_url` and the problems' `instance` are the caller's paths."""
    prefix = _prefix(request)
    path = prefix + job_location(row.id)
    errors = [Problem.model_validate({**error, "instance": path}) for error in row.errors or []]
    return JobOut(
        id=row.id,
        kind=row.kind,
        status=JobStatus(row.status),
        progress=JobProgress(done=row.progress_done, total=row.progress_total),
        result_url=f"{path}/result" if row.status == JobStatus.SUCCEEDED else None,
        errors=errors,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _applied(request: Request) -> dict[str, str]:
    """`Preference-Applied` only where the caller asked for `respond-async` (RFC 7240 §3): a job made because the
    request was too large, or a route that always answers with one, applied no preference."""
    return PREFERENCE_APPLIED if prefers_async(request.headers.getlist("prefer")) else {}


def accepted(request: Request, response: Response, row: Row[Any]) -> JobOut:
    """Set a 202's headers (`Location` of the job, `Preference-Applied` if asked for) and answer the job."""
    response.status_code = status.HTTP_202_ACCEPTED
    response.headers["Location"] = job_location(row.id)
    response.headers.update(_applied(request))
    return job_out(request, row)


def accepted_response(request: Request, row: Row[Any], *, headers: Mapping[str, str] | None = None) -> Response:
    """A 202 answering the job (for routes that render their responses themselves)."""
    return SafeJSONResponse(
        job_out(request, row).model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": job_location(row.id), **_applied(request), **(headers or {})},
    )


ACCEPTED_RESPONSE: dict[int | str, dict[str, Any]] = {
    202: {
        "model": JobOut,
        "description": "Accepted as a job (`Prefer: respond-async`, or a request too large to wait for): poll the "
        "job at `Location` until it has finished, then read its result at `result_url`.",
        "headers": {
            "Location": HEADERS["Location"],
            "Preference-Applied": {
                "description": "`respond-async` when the caller asked for it with `Prefer` (RFC 7240).",
                "schema": {"type": "string", "enum": ["respond-async"]},
            },
        },
    },
    **problems(
        {
            429: f"The caller has {MAX_UNFINISHED_PER_REQUESTER} jobs queued or running already (`too-many-jobs`): "
            "wait for one to finish, or cancel one."
        }
    ),
}

JobId = Annotated[uuid.UUID, Path(alias="id", description="The job's id, as `Location` named it.")]
_NOT_FOUND = "No job with this id that the caller may see (a district key sees its own district's jobs only)."
_INVALID_ID = "The id is not a UUID."


def _result_content(results: Sequence[type[BaseModel]], files: Sequence[str]) -> dict[str, Any]:
    """The result's documented content: the JSON models the service's jobs answer (one of them), and its files."""
    content: dict[str, Any] = {}
    if results:
        refs = [schema_ref(model) for model in results]
        content["application/json"] = {"schema": refs[0] if len(refs) == 1 else {"oneOf": refs}}
    for media_type in files:
        content[media_type] = {"schema": {"type": "string", "format": "binary"}}
    return content


def jobs_router(
    store: JobStore,
    *,
    operation_prefix: str,
    results: Sequence[type[BaseModel]] = (),
    files: Sequence[str] = (),
    tag: str = "jobs",
) -> APIRouter:
    """`GET /jobs/{id}`, `GET /jobs/{id}/result`, `DELETE /jobs/{id}` over `store`, their operation ids
    `get<Prefix>Job`, `get<Prefix>JobResult`, `cancel<Prefix>Job` (unique in the gateway's merged document)."""
    router = APIRouter(prefix="/jobs", tags=[tag])

    @router.get(
        "/{id}",
        response_model=JobOut,
        operation_id=f"get{operation_prefix}Job",
        summary="A job: its status and progress",
        description="The job's status (`queued`, `running`, then `succeeded`, `failed` or `cancelled`), its progress "
        "`{done, total}`, once it has succeeded the `result_url` to read its result at, and the problems of a "
        "failed job. A district key sees its own district's jobs; the city and the auditor see every job.",
        responses={200: {"description": "The job"}, **problems({404: _NOT_FOUND, 422: _INVALID_ID})},
    )
    async def read_job(job_id: JobId, session: SessionDep, principal: KeyHolderDep, request: Request) -> JobOut:
        return job_out(request, await store.read(session, principal, job_id))

    @router.get(
        "/{id}/result",
        operation_id=f"get{operation_prefix}JobResult",
        summary="A succeeded job's result",
        description="What the work answers when it is done: the JSON the synchronous request would have answered, "
        "or the file it makes (with its media type and `Content-Disposition`). 409 until the job has succeeded "
        "(`job_status` says where it is).",
        responses={
            200: {
                "description": "The result: the JSON of one of the service's kinds of job, or a file",
                "content": _result_content(results, files),
                "headers": {"Content-Disposition": HEADERS["Content-Disposition"]},
            },
            **problems(
                {
                    404: _NOT_FOUND,
                    409: ("The job has not succeeded (yet): it has no result.", JobConflictProblem),
                    422: _INVALID_ID,
                }
            ),
        },
    )
    async def read_job_result(job_id: JobId, session: SessionDep, principal: KeyHolderDep) -> Response:
        result, file, media_type, filename = await store.result(session, principal, job_id)
        if file is not None:
            headers = {"Content-Disposition": f'attachment; filename="{filename}"'} if filename else None
            return Response(file, media_type=media_type or "application/octet-stream", headers=headers)
        return SafeJSONResponse(result)

    @router.delete(
        "/{id}",
        response_model=JobOut,
        operation_id=f"cancel{operation_prefix}Job",
        summary="Cancel a job",
        description="A queued job is cancelled at once (200, the job `cancelled`); a running one stops at its next "
        "step, what it did rolled back (202, the job still `running` until it has stopped). A cancelled job is "
        "answered as it is; one that has succeeded or failed is a 409. The city and the job's own district may "
        "cancel it (the auditor only reads).",
        responses={
            200: {"description": "The job, cancelled"},
            202: {"model": JobOut, "description": "The running job was asked to stop"},
            **problems(
                {
                    403: "The auditor's key reads jobs only.",
                    404: _NOT_FOUND,
                    409: ("The job has finished already (`job_status`).", JobConflictProblem),
                    422: _INVALID_ID,
                }
            ),
        },
    )
    async def cancel_job(
        job_id: JobId, session: SessionDep, principal: KeyHolderDep, request: Request, response: Response
    ) -> JobOut:
        row, stopping = await store.cancel(session, principal, job_id)
        response.status_code = status.HTTP_202_ACCEPTED if stopping else status.HTTP_200_OK
        return job_out(request, row)

    return router
