import asyncio
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from services.eligibility.dependencies import ParametersDep, ReachWorkDep, RegistryDep
from services.eligibility.jobs.router import accepted_job
from services.eligibility.screenings import jobs, service, snapshots
from services.eligibility.screenings.schemas import ScreeningIn, ScreeningOut, SnapshotIn
from shared.auth import Principal, Role, require_roles
from shared.clock import ClockDep
from shared.db import SessionDep
from shared.http import upstream_unavailable
from shared.jobs import ACCEPTED_RESPONSE, JobOut, PreferAsyncDep
from shared.openapi import problems
from shared.perf import gc_paused

router = APIRouter(tags=["screenings"])


def rendered(answer: BaseModel) -> Response:
    """The answer as JSON, written in a worker thread: thousands of subjects are megabytes to serialise."""
    with gc_paused():
        return Response(answer.model_dump_json(), media_type="application/json")


@router.post(
    "/screenings",
    response_model=ScreeningOut,
    operation_id="createScreening",
    summary="Screen the registry against every computable measure",
    description="免申即享: evaluates every subject of the registry (projects, clusters, star buildings, enterprises) "
    "of `year`, on its verified facts, against every computable measure on `as_of`, and answers the eligible "
    "subjects with their amounts and facts (replayable with `POST /calculate`), the reasons others are not "
    "eligible, and totals per measure and district. Writes nothing. A district key screens its own district only "
    "(another `district_code` is a 403). With `Prefer: respond-async` it runs as a job: a 202 with `Location: "
    "/jobs/{id}`, the job's result the same JSON (a bad body is refused first, no job written).",
    responses=ACCEPTED_RESPONSE
    | problems(
        {
            403: "A district key named another district in `district_code`: it screens its own district only.",
            422: "The body is invalid (a year outside 2000–2100, an unknown district); `errors` names it.",
            503: upstream_unavailable("registry"),
        }
    ),
)
async def screen(
    registry: RegistryDep,
    parameters: ParametersDep,
    body: ScreeningIn,
    principal: Annotated[Principal, require_roles(Role.CITY, Role.AUDITOR, Role.DISTRICT)],
    _: ReachWorkDep,
    session: SessionDep,
    prefer_async: PreferAsyncDep,
    request: Request,
) -> Response:
    if prefer_async:
        return accepted_job(request, await jobs.submit(session, principal, body))
    answer = await service.screen(registry, parameters, principal, body)
    return await asyncio.to_thread(rendered, answer)


@router.post(
    "/screenings/snapshots",
    status_code=202,
    response_model=JobOut,
    operation_id="takeScreeningSnapshot",
    summary="Take a year's nightly screening snapshot now, as a job",
    description="The nightly work of 主动推送, taken now (after a correction the districts should hear of before "
    "night): the whole registry's screening of `year` on today is stored as the year's newest snapshot, and its "
    "difference with the previous one recorded as `enterprise.newly_eligible` / `enterprise.no_longer_eligible` "
    "events (a year's first snapshot is its baseline: no events). Always a job: 202 with `Location: /jobs/{id}`; "
    "its result says how many events were recorded. The city only.",
    responses=ACCEPTED_RESPONSE
    | problems(
        {
            422: "The body is invalid (an unknown field), or `year` is not one the nightly screening covers today "
            "(a year the policy rewards, up to the current one, while the policy is in force); `errors` names it."
        }
    ),
)
async def take_snapshot(
    body: SnapshotIn,
    principal: Annotated[Principal, require_roles(Role.CITY)],
    session: SessionDep,
    parameters: ParametersDep,
    clock: ClockDep,
    request: Request,
) -> Response:
    years = snapshots.years_in_force(parameters, clock.today())
    return accepted_job(request, await jobs.submit_snapshot(session, principal, body, years))
