from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from services.ranking.dependencies import UpstreamsDep
from services.ranking.runs import service
from services.ranking.runs.schemas import PublishIn, PublishOut, RunCreate, RunOut, RunPage, RunStatus
from shared.auth import Principal, Role, require_roles
from shared.clock import ClockDep
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, AfterIntegerId, LimitQuery

router = APIRouter(prefix="/runs", tags=["runs"])
RunId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CityDep = Annotated[Principal, require_roles(Role.CITY)]
ReaderDep = Annotated[Principal, require_roles(Role.CITY, Role.AUDITOR)]


@router.post(
    "",
    response_model=RunOut,
    status_code=status.HTTP_201_CREATED,
    summary="Compute a draft ranking of an ended year the policy rewards from the registry's statistics and the M06 "
    "award table (city)",
)
async def create_run(
    data: RunCreate, session: SessionDep, upstreams: UpstreamsDep, clock: ClockDep, principal: CityDep
) -> RunOut:
    return await service.create(session, upstreams, clock, principal, data)


@router.get("", response_model=RunPage, summary="Runs, newest first, by year and status (city, auditor)")
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
    "/{run_id}", response_model=RunOut, summary="One run, frozen: inputs, methodology, hash, rows (city, auditor)"
)
async def read_run(run_id: RunId, session: SessionDep, _: ReaderDep) -> RunOut:
    return await service.read(session, run_id)


@router.post(
    "/{run_id}/publish",
    response_model=PublishOut,
    summary="Publish a draft as the year's ranking (city); replacing a published one, or one in which the district "
    "code decided an award boundary, needs a reason",
)
async def publish_run(
    run_id: RunId, session: SessionDep, clock: ClockDep, principal: CityDep, data: PublishIn | None = None
) -> PublishOut:
    return await service.publish(session, clock, principal, run_id, data or PublishIn())
