from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from services.monitoring.dependencies import HeavyReadDep, UpstreamsDep
from services.monitoring.publications import service
from services.monitoring.publications.schemas import PublicationHistory, PublicationOut, PublishIn
from shared.auth import Principal, Role, require_roles
from shared.clock import ClockDep
from shared.db import SessionDep

router = APIRouter(prefix="/publications", tags=["publications"])

CityDep = Annotated[Principal, require_roles(Role.CITY)]
YearPath = Annotated[int, Path(ge=2000, le=2100)]


@router.post(
    "/{year}",
    response_model=PublicationOut,
    status_code=status.HTTP_201_CREATED,
    summary="Publish the year's assessment and map, frozen with its input hash (city; once the year has ended)",
)
async def publish(
    year: YearPath,
    body: PublishIn,
    session: SessionDep,
    upstreams: UpstreamsDep,
    clock: ClockDep,
    principal: CityDep,
    response: Response,
    _: HeavyReadDep,
) -> PublicationOut:
    published = await service.publish(session, upstreams, clock, principal, year, body)
    response.headers["Location"] = f"/publications/{year}/versions/{published.version}"
    return published


@router.get("/{year}", response_model=PublicationOut, summary="The year's current publication (public)")
async def read_publication(year: YearPath, session: SessionDep) -> PublicationOut:
    return await service.current(session, year)


@router.get("/{year}/history", response_model=PublicationHistory, summary="Every published version, newest first")
async def publication_history(year: YearPath, session: SessionDep) -> PublicationHistory:
    return await service.history(session, year)


@router.get("/{year}/versions/{version}", response_model=PublicationOut, summary="One published version")
async def read_version(
    year: YearPath, version: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep
) -> PublicationOut:
    return await service.version(session, year, version)
