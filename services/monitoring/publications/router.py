from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from services.monitoring.dependencies import HeavyReadDep, UpstreamsDep
from services.monitoring.publications import service
from services.monitoring.publications.schemas import AssessmentPublishIn, PublicationHistory, PublicationOut
from shared.auth import Principal, Role, require_roles
from shared.clock import ClockDep
from shared.db import SessionDep
from shared.http import upstream_unavailable
from shared.openapi import HEADERS, problems

router = APIRouter(prefix="/publications", tags=["publications"])

CityDep = Annotated[Principal, require_roles(Role.CITY)]
YearPath = Annotated[int, Path(ge=2000, le=2100, examples=[2025])]
NOT_PUBLISHED = "No assessment of the year has been published."


@router.post(
    "/{year}",
    response_model=PublicationOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="publishAssessment",
    summary="Publish the year's assessment and map",
    description="Freezes the year's assessment and the public view of its map (every small cell withheld) as a new "
    "version with its input hash, once the year has ended; a new version only when an input changed.",
    responses={
        201: {"description": "The new version", "headers": {"Location": HEADERS["Location"]}},
        **problems(
            {
                409: "Nothing has changed since the current version was published (same input hash); it stays current.",
                422: "The year is not a year of the plan or has not ended, or the body is invalid; `errors` names "
                "the field.",
                503: upstream_unavailable("registry", "eligibility"),
            }
        ),
    },
)
async def publish(
    year: YearPath,
    body: AssessmentPublishIn,
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


@router.get(
    "/{year}",
    response_model=PublicationOut,
    operation_id="getPublication",
    summary="The year's current publication",
    description="The newest published version of the year's assessment and map.",
    responses=problems({404: NOT_PUBLISHED}),
)
async def read_publication(year: YearPath, session: SessionDep) -> PublicationOut:
    return await service.current(session, year)


@router.get(
    "/{year}/history",
    response_model=PublicationHistory,
    operation_id="listPublicationVersions",
    summary="Every published version of a year",
    description="Every version published for the year, newest first, with its input hash and reason.",
    responses=problems({404: NOT_PUBLISHED}),
)
async def publication_history(year: YearPath, session: SessionDep) -> PublicationHistory:
    return await service.history(session, year)


@router.get(
    "/{year}/versions/{version}",
    response_model=PublicationOut,
    operation_id="getPublicationVersion",
    summary="One published version",
    description="One version of the year's publication, current or superseded.",
    responses=problems({404: "The year has no published version with this number."}),
)
async def read_version(
    year: YearPath, version: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep
) -> PublicationOut:
    return await service.version(session, year, version)
