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
from shared.openapi import HEADERS, problems
from shared.pagination import DEFAULT_LIMIT, LimitQuery, cursor_after

router = APIRouter(prefix="/indicators/{indicator_id}/observations", tags=["observations"])

CityDep = Annotated[Principal, require_roles(Role.CITY)]
IndicatorPath = Annotated[str, Path(max_length=80, examples=["software_it.main_business_revenue"])]
YearPath = Annotated[int, Path(ge=2000, le=2100)]
PeriodQuery = Annotated[Period, Query(description="`year` (default) or a quarter, Q1 … Q4")]
AfterPeriod = Annotated[tuple[int, Period] | None, Depends(cursor_after(tuple[int, Period]))]
NO_INDICATOR = "The plan has no indicator with this id (`GET /indicators` lists them)."


@router.put(
    "/{year}",
    response_model=ObservationOut,
    operation_id="setObservation",
    summary="Record or correct a value of an indicator",
    description="Records the value of a period (201), or corrects it (200): a correction needs a `reason` and "
    "keeps the earlier revision in the history; sending the current value again changes nothing (200). Send the "
    "value's `ETag` as `If-Match` to correct it only if nobody did meanwhile. Only indicators the registry does "
    "not compute are recorded, in the indicator's unit, for the baseline year to the plan's last year.",
    responses={
        200: {"description": "The value corrected, or unchanged", "headers": {"ETag": HEADERS["ETag"]}},
        201: {
            "model": ObservationOut,
            "description": "The first value of the period",
            "headers": {"ETag": HEADERS["ETag"]},
        },
        **problems(
            {
                404: NO_INDICATOR,
                412: "`If-Match` does not name the value's current revision: read it again.",
                422: "The body is invalid, the unit is not the indicator's, the indicator is computed from the "
                "registry, the year is outside the plan, or a correction has no reason; `errors` names the field.",
            }
        ),
    },
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


@router.get(
    "",
    response_model=ObservationPage,
    operation_id="listObservations",
    summary="The current value of each period of an indicator",
    description="The current revision of each recorded period, oldest first; pass `next_cursor` as `cursor` for "
    "the next page.",
    responses=problems({404: NO_INDICATOR, 422: "`limit` or `cursor` is invalid."}),
)
async def list_observations(
    indicator_id: IndicatorPath,
    session: SessionDep,
    _: KeyHolderDep,
    after: AfterPeriod,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> ObservationPage:
    return await service.current_page(session, indicator_id, after, limit)


@router.get(
    "/{year}/history",
    response_model=ObservationHistory,
    operation_id="getObservationHistory",
    summary="Every revision of a period's value",
    description="Every revision of the value of one period, oldest first, with who recorded it, when and why.",
    responses=problems(
        {
            404: "The plan has no indicator with this id, or no value is recorded for the period.",
            422: "The year or the period is invalid.",
        }
    ),
)
async def observation_history(
    indicator_id: IndicatorPath,
    year: YearPath,
    session: SessionDep,
    _: KeyHolderDep,
    period: PeriodQuery = "year",
) -> ObservationHistory:
    return await service.history(session, indicator_id, year, period)
