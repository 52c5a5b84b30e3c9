from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from services.monitoring.observations import service
from services.monitoring.observations.schemas import (
    ObservationHistory,
    ObservationIn,
    ObservationOut,
    ObservationPage,
    Period,
)
from shared.auth import KeyHolderDep, Principal, Role, require_roles
from shared.db import SessionDep
from shared.etags import IfMatchDep, etag
from shared.pagination import DEFAULT_LIMIT, LimitQuery, cursor_after

router = APIRouter(prefix="/indicators/{indicator_id}/observations", tags=["observations"])

CityDep = Annotated[Principal, require_roles(Role.CITY)]
IndicatorPath = Annotated[str, Path(max_length=80)]
YearPath = Annotated[int, Path(ge=2000, le=2100)]
PeriodQuery = Annotated[Period, Query(description="`year` (default) or a quarter, Q1 … Q4")]
AfterPeriod = Annotated[tuple[int, Period] | None, Depends(cursor_after(tuple[int, Period]))]


@router.put(
    "/{year}",
    response_model=ObservationOut,
    responses={201: {"model": ObservationOut, "description": "The first value of the period"}},
    summary="Record (201) or correct (200, with a reason; If-Match the revision) a value (city)",
)
async def record_observation(
    indicator_id: IndicatorPath,
    year: YearPath,
    body: ObservationIn,
    session: SessionDep,
    principal: CityDep,
    response: Response,
    expected: IfMatchDep,
    period: PeriodQuery = "year",
) -> ObservationOut:
    recorded = await service.record(session, principal, indicator_id, year, period, body, expected)
    response.status_code = status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK
    response.headers["ETag"] = etag(recorded.observation.revision)
    return recorded.observation


@router.get("", response_model=ObservationPage, summary="The current value of each period, oldest first")
async def list_observations(
    indicator_id: IndicatorPath,
    session: SessionDep,
    _: KeyHolderDep,
    after: AfterPeriod,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> ObservationPage:
    return await service.current_page(session, indicator_id, after, limit)


@router.get("/{year}/history", response_model=ObservationHistory, summary="Every revision of a period's value")
async def observation_history(
    indicator_id: IndicatorPath,
    year: YearPath,
    session: SessionDep,
    _: KeyHolderDep,
    period: PeriodQuery = "year",
) -> ObservationHistory:
    return await service.history(session, indicator_id, year, period)
