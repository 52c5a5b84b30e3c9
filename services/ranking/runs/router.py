from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from services.ranking.dependencies import UpstreamsDep
from services.ranking.runs import service
from services.ranking.runs.schemas import (
    RunCreate,
    RunNotDraftProblem,
    RunOut,
    RunPage,
    RunPublishIn,
    RunPublishOut,
    RunPublishRefusedProblem,
    RunStatus,
)
from shared.auth import Principal, Role, require_roles
from shared.clock import ClockDep
from shared.db import SessionDep
from shared.http import upstream_unavailable
from shared.openapi import problems
from shared.pagination import DEFAULT_LIMIT, AfterIntegerId, LimitQuery

router = APIRouter(prefix="/runs", tags=["runs"])
RunId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CityDep = Annotated[Principal, require_roles(Role.CITY)]
ReaderDep = Annotated[Principal, require_roles(Role.CITY, Role.AUDITOR)]
NO_RUN = "No run has this id."
# Drafts are the city's work and the auditor's to check: the service refuses other keys itself.
NOT_A_READER = "Only city and auditor keys read runs."


@router.post(
    "",
    response_model=RunOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="createRun",
    summary="Compute a draft ranking of a year",
    description="Reads the registry's district statistics of the year (verified figures) and the M06 award table "
    "of the eligibility service, ranks the 38 districts by the methodology (the default when none is named) and "
    "stores the draft, frozen with its inputs and their hash. The year must be one the policy rewards and have "
    "ended (Asia/Shanghai); `as_of` must lie within the policy's force.",
    responses=problems(
        {
            422: "The body is invalid, the year is not rewarded or has not ended, `as_of` lies outside the policy's "
            "force, or the methodology version does not exist; `errors` names the field.",
            503: upstream_unavailable("registry", "eligibility"),
        }
    ),
)
async def create_run(
    data: RunCreate, session: SessionDep, upstreams: UpstreamsDep, clock: ClockDep, principal: CityDep
) -> RunOut:
    return await service.create(session, upstreams, clock, principal, data)


@router.get(
    "",
    response_model=RunPage,
    operation_id="listRuns",
    summary="List runs",
    description="Runs, newest first, filtered by year and status; pass `next_cursor` as `cursor` for the next page.",
    responses=problems({403: NOT_A_READER, 422: "A filter, `limit` or `cursor` is invalid; `errors` names it."}),
)
async def list_runs(
    session: SessionDep,
    _: ReaderDep,
    before_id: AfterIntegerId,
    year: Annotated[int | None, Query(ge=1, le=9999)] = None,
    status: RunStatus | None = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> RunPage:
    return await service.list_page(session, year=year, status=status, before_id=before_id, limit=limit)


@router.get(
    "/{run_id}",
    response_model=RunOut,
    operation_id="getRun",
    summary="One run",
    description="A run as frozen: its inputs, methodology, input hash, data-quality result, rows and award "
    "boundaries, with its publication state.",
    responses=problems({403: NOT_A_READER, 404: NO_RUN, 422: "The run id is not a positive integer."}),
)
async def read_run(run_id: RunId, session: SessionDep, _: ReaderDep) -> RunOut:
    return await service.read(session, run_id)


@router.post(
    "/{run_id}/publish",
    response_model=RunPublishOut,
    operation_id="publishRun",
    summary="Publish a draft run as the year's ranking",
    description="Makes the draft the year's published ranking. A year that already has one keeps it as "
    "`superseded` and the answer lists what changed; that, and a run in which district_code decided an award "
    "boundary, need a `reason`. A run that fails the data-quality gate, or whose year has not ended, is not "
    "published.",
    responses=problems(
        {
            404: NO_RUN,
            409: (
                "The run is not a draft (`current_status` says what it is); only a draft is published, once.",
                RunNotDraftProblem,
            ),
            422: (
                "The run fails the data-quality gate (`failures`), district_code decided an award boundary and no "
                "reason is given (`boundary_ties`), the year already has a published ranking and no reason is "
                "given, or the year has not ended; `errors` names each.",
                RunPublishRefusedProblem,
            ),
        }
    ),
)
async def publish_run(
    run_id: RunId, session: SessionDep, clock: ClockDep, principal: CityDep, data: RunPublishIn | None = None
) -> RunPublishOut:
    return await service.publish(session, clock, principal, run_id, data or RunPublishIn())
