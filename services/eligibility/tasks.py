"""The eligibility service's tasks, run by its worker (`python -m services.eligibility.worker`).

Jobs submitted over HTTP (services.eligibility.jobs): `run_screening` (POST /screenings), `run_snapshot` (POST
/screenings/snapshots) and `run_awards_export` (GET /awards/export.csv|.xlsx). Periodic work (procrastinate's
periodic tasks, the crons are settings, in UTC): `take_snapshots` each night queues one `snapshot_year` per year in
force (services.eligibility.screenings.snapshots), and `remind_expiring_policies` each day records `policy.expiring`
(services.eligibility.reminders).

The blueprint is made per worker (`make_tasks(settings)`), because the crons and the retry waits are settings. Task
names are `eligibility:<name>` (shared.queue.make_queue's namespace).
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import date

import procrastinate

from services.eligibility.awards import export_jobs
from services.eligibility.jobs import JOBS, NAMESPACE
from services.eligibility.parameters.store import ParameterStore
from services.eligibility.registry_client.client import RegistryClient
from services.eligibility.reminders import service as reminders
from services.eligibility.screenings import jobs as screening_jobs
from services.eligibility.screenings import snapshots
from services.eligibility.settings import EligibilitySettings
from shared.clock import Clock
from shared.jobs import add_pruning, job_location, job_problem
from shared.queue import ScheduleRetry, WorkerResources, enqueue, worker_resources

logger = logging.getLogger(__name__)

SNAPSHOT_YEAR_TASK = f"{NAMESPACE}:snapshot_year"
# An unexpected error of a job (the database away a moment) is retried after these waits, then the job fails.
JOB_RETRY = ScheduleRetry(waits=(5.0, 30.0, 120.0))


@dataclass(frozen=True)
class Upstreams:
    """What the eligibility tasks read besides their database (WorkerResources.http): the registry, the parameters in
    force (the files plus the amendments, re-read when stale) and the clock (today in China)."""

    registry: RegistryClient
    parameters: ParameterStore
    clock: Clock


def _parts(context: procrastinate.JobContext) -> tuple[WorkerResources, EligibilitySettings, Upstreams]:
    resources = worker_resources(context)
    settings: EligibilitySettings = resources.settings
    upstreams: Upstreams = resources.http
    return resources, settings, upstreams


async def run_screening(context: procrastinate.JobContext, job_id: str) -> None:
    resources, _, upstreams = _parts(context)
    job = uuid.UUID(job_id)
    try:
        await screening_jobs.run(resources.sessions, upstreams.registry, upstreams.parameters, job)
    except Exception as error:
        if JOB_RETRY.attempts_left(context.job) == 0:
            logger.exception("screening job %s failed", job_id)
            await JOBS.fail(resources.sessions, job, [job_problem(error, job_location(job))])
            return
        raise


async def run_snapshot(context: procrastinate.JobContext, job_id: str) -> None:
    resources, settings, upstreams = _parts(context)
    job = uuid.UUID(job_id)
    try:
        await screening_jobs.run_snapshot(
            resources.sessions,
            upstreams.registry,
            upstreams.parameters,
            upstreams.clock.today(),
            settings.snapshot_keep_per_year,
            job,
        )
    except Exception as error:
        if JOB_RETRY.attempts_left(context.job) == 0:
            logger.exception("snapshot job %s failed", job_id)
            await JOBS.fail(resources.sessions, job, [job_problem(error, job_location(job))])
            return
        raise


async def run_awards_export(context: procrastinate.JobContext, job_id: str) -> None:
    resources, settings, _ = _parts(context)
    job = uuid.UUID(job_id)
    try:
        await export_jobs.run(resources.sessions, settings.award_export_max_rows, job)
    except Exception as error:
        if JOB_RETRY.attempts_left(context.job) == 0:
            logger.exception("export job %s failed", job_id)
            await JOBS.fail(resources.sessions, job, [job_problem(error, job_location(job))])
            return
        raise


async def take_snapshots(context: procrastinate.JobContext, timestamp: int) -> list[int]:
    """Queue the snapshot of every year in force on today (China); the years queued. One waiting snapshot per year
    at most (its queueing lock): a night whose snapshots are still waiting queues no second one."""
    resources, _, upstreams = _parts(context)
    today = upstreams.clock.today()
    years = snapshots.years_in_force(await upstreams.parameters.get(), today)
    queued: list[int] = []
    async with resources.sessions.begin() as session:
        for year in years:
            job = await enqueue(
                session,
                SNAPSHOT_YEAR_TASK,
                {"year": year, "as_of": today.isoformat()},
                lock=f"snapshot:{year}",
                queueing_lock=f"snapshot:{year}",
            )
            if job is not None:
                queued.append(year)
    logger.info("snapshots queued for %s (today %s)", queued, today)
    return queued


async def snapshot_year(context: procrastinate.JobContext, year: int, as_of: str) -> dict[str, object]:
    """Screen `year` on `as_of` (the whole registry), store it and record the difference with the previous one."""
    resources, settings, upstreams = _parts(context)
    day = date.fromisoformat(as_of)
    screening = await snapshots.screen_year(upstreams.registry, await upstreams.parameters.get(), year, day)
    async with resources.sessions.begin() as session:
        outcome = await snapshots.store(session, screening, year, day, keep=settings.snapshot_keep_per_year)
    logger.info(
        "snapshot %s of %s: %s eligible, %s newly, %s no longer eligible%s",
        outcome.snapshot_id,
        year,
        outcome.eligible,
        outcome.newly_eligible,
        outcome.no_longer_eligible,
        " (the year's baseline)" if outcome.baseline else "",
    )
    return {
        "snapshot_id": outcome.snapshot_id,
        "baseline": outcome.baseline,
        "newly_eligible": outcome.newly_eligible,
        "no_longer_eligible": outcome.no_longer_eligible,
    }


async def remind_expiring_policies(context: procrastinate.JobContext, timestamp: int) -> list[int]:
    """Record `policy.expiring` for the policies ending within the notice period; their ids."""
    resources, settings, upstreams = _parts(context)
    async with resources.sessions.begin() as session:
        sent = await reminders.remind_expiring(session, upstreams.clock.today(), settings.policy_expiry_notice_days)
    if sent:
        logger.info("policy.expiring recorded for %s", [reminder.document_number for reminder in sent])
    return [reminder.policy_id for reminder in sent]


def make_tasks(settings: EligibilitySettings) -> procrastinate.Blueprint:
    """The worker's blueprint: every task, the periodic ones on the crons of `settings`."""
    blueprint = procrastinate.Blueprint()
    blueprint.task(name="run_screening", pass_context=True, retry=JOB_RETRY)(run_screening)
    blueprint.task(name="run_awards_export", pass_context=True, retry=JOB_RETRY)(run_awards_export)
    blueprint.task(name="run_snapshot", pass_context=True, retry=JOB_RETRY)(run_snapshot)
    blueprint.task(
        name="snapshot_year",
        pass_context=True,
        retry=ScheduleRetry(waits=tuple(settings.snapshot_retry_waits_seconds)),
    )(snapshot_year)
    nightly = blueprint.task(name="take_snapshots", pass_context=True)(take_snapshots)
    blueprint.periodic(cron=settings.snapshot_cron, periodic_id="nightly")(nightly)
    daily = blueprint.task(name="remind_expiring_policies", pass_context=True)(remind_expiring_policies)
    blueprint.periodic(cron=settings.policy_expiry_cron, periodic_id="daily")(daily)
    add_pruning(blueprint, JOBS, cron=settings.job_prune_cron, retention_days=settings.job_retention_days)
    return blueprint
