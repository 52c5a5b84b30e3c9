from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from services.eligibility.calendar import service
from services.eligibility.calendar.schemas import CalendarYearOut, ScheduleIn, WorkingDaysOut
from shared.auth import Principal, Role, require_roles
from shared.db import SessionDep
from shared.reference import MAX_YEAR, MIN_YEAR

router = APIRouter(tags=["calendar"])

YearPath = Annotated[int, Path(ge=MIN_YEAR, le=MAX_YEAR, description="The calendar year, e.g. 2025")]
_UNKNOWN: dict[int | str, dict[str, Any]] = {
    503: {"description": "A day lies in a year whose official schedule is not known (`calendar-unknown`)"}
}


@router.get(
    "/calendar/{year}",
    response_model=CalendarYearOut,
    summary="A year's official working days: their source (recorded, library, unknown), holidays, 调休 days (public)",
)
async def get_year(session: SessionDep, year: YearPath) -> CalendarYearOut:
    return await service.get_year(session, year)


@router.put(
    "/calendar/{year}",
    response_model=CalendarYearOut,
    summary="Record a year's official schedule from the State Council's notice (city); replaces the earlier record",
)
async def record_year(
    session: SessionDep,
    year: YearPath,
    body: ScheduleIn,
    principal: Annotated[Principal, require_roles(Role.CITY)],
) -> CalendarYearOut:
    return await service.record_year(session, principal, year, body)


@router.get(
    "/calendar/{year}/working-days",
    response_model=WorkingDaysOut,
    responses=_UNKNOWN,
    summary="The `days`-th official working day after `from` (not counted): a notice window's end (public)",
)
async def working_days(
    session: SessionDep,
    year: YearPath,
    start: Annotated[date, Query(alias="from", description="The day the count starts after, in `year`")],
    days: Annotated[int, Query(ge=1, le=366, description="How many working days")],
) -> WorkingDaysOut:
    return await service.count_working_days(session, year, start, days)
