from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.eligibility.calendar import service
from services.eligibility.calendar.schemas import CalendarUnknownProblem, CalendarYearOut, ScheduleIn, WorkingDaysOut
from shared.auth import Principal, Role, require_roles
from shared.db import SessionDep
from shared.openapi import problems
from shared.reference import MAX_YEAR, MIN_YEAR

router = APIRouter(tags=["calendar"])

YearPath = Annotated[int, Path(ge=MIN_YEAR, le=MAX_YEAR, description="The calendar year, e.g. 2025")]
CALENDAR_UNKNOWN = (
    "`calendar-unknown`: a day lies in a year whose official schedule neither the city has recorded nor the "
    "calendar library knows; `year` names it (the city records it with PUT /calendar/{year}).",
    CalendarUnknownProblem,
)


@router.get(
    "/calendar/{year}",
    response_model=CalendarYearOut,
    operation_id="getCalendarYear",
    summary="Get a year's official working days",
    description="Where the year's working days come from (`recorded` by the city, the `library`, or `unknown`), "
    "its holidays and its 调休 make-up working days, with the records the one in force replaced.",
    responses=problems({422: "The year is outside 2000–2100."}),
)
async def get_year(session: SessionDep, year: YearPath) -> CalendarYearOut:
    return await service.get_year(session, year)


@router.put(
    "/calendar/{year}",
    response_model=CalendarYearOut,
    operation_id="setCalendarYear",
    summary="Record a year's official schedule",
    description="Records the year's holidays and make-up working days as the State Council's notice (放假安排) sets "
    "them; replaces the earlier record, which is kept in `earlier_records`. Notice windows counted afterwards use "
    "it. A schedule that is not consistent (a day outside the year, overlapping holidays, a make-up day that is "
    "not a weekend day) is a 422 naming each problem.",
    responses=problems(
        {
            422: "The schedule is invalid; `errors` names each problem and nothing was recorded.",
        }
    ),
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
    operation_id="countWorkingDays",
    summary="Count official working days",
    description="The `days`-th official working day after `from` (not counted): where a notice window (公示期) of "
    "that many working days ends, across the year's end if need be.",
    responses=problems(
        {422: "`from` is not in `year`, or `days` is outside 1–366; `errors` names it.", 503: CALENDAR_UNKNOWN}
    ),
)
async def working_days(
    session: SessionDep,
    year: YearPath,
    start: Annotated[date, Query(alias="from", description="The day the count starts after, in `year`")],
    days: Annotated[int, Query(ge=1, le=366, description="How many working days")],
) -> WorkingDaysOut:
    return await service.count_working_days(session, year, start, days)
