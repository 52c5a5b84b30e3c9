"""China's official working days, year by year, from the city's record of the year's official schedule or from the
chinese-calendar library; and the notice window (公示期) counted in them.

A day is a working day when the year's source says so: a public holiday (放假) is off, a make-up working day (调休上班,
a Saturday or Sunday that is worked) is on, other days are Monday to Friday. A year the city recorded is read from
that record (the newest one), even when the library knows it too: the record is the State Council's notice itself.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import chinese_calendar  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncSession

from services.eligibility.calendar import repository
from services.eligibility.calendar.models import OfficialCalendar
from services.eligibility.calendar.schemas import (
    CalendarLibraryOut,
    CalendarRecordOut,
    CalendarSource,
    CalendarYearOut,
    HolidayOut,
    ScheduleIn,
    WorkingDaysOut,
)
from shared.auth import Principal
from shared.errors import InvalidInput, ServiceUnavailable, field_error
from shared.requestid import current_client_request_id, current_request_id

LIBRARY_NAME = "chinese-calendar"
LIBRARY_VERSION: str = chinese_calendar.__version__
# The years the library holds the State Council's schedule of (it raises NotImplementedError outside them).
LIBRARY_FIRST_YEAR: int = min(day.year for day in chinese_calendar.holidays)
LIBRARY_LAST_YEAR: int = max(day.year for day in chinese_calendar.holidays)
# The library names holidays in English; the notices name them so.
_HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}
# The longest holiday a yearly notice has set is nine days (春节 2026); a longer span is a typing error.
MAX_HOLIDAY_DAYS = 15
SATURDAY = 5


class CalendarUnknown(ServiceUnavailable):
    """A day of a year whose official working days neither the city's record nor the library knows."""

    title = "Working-Day Calendar Unknown"
    slug = "calendar-unknown"

    def __init__(self, year: int) -> None:
        super().__init__(
            f"China's official working days of {year} are not known: the calendar library ({LIBRARY_NAME} "
            f"{LIBRARY_VERSION}) knows {LIBRARY_FIRST_YEAR}–{LIBRARY_LAST_YEAR} and the city has recorded no "
            f"official schedule for {year}. The city can record the year's official schedule (the State Council's "
            f"notice on the holidays of {year}) at PUT /calendar/{year} (through the gateway: "
            f"/api/v1/eligibility/calendar/{year}).",
            year=year,
        )
        self.year = year


@dataclass(frozen=True, slots=True)
class Holiday:
    name: str
    first_day: date
    last_day: date

    def days(self) -> Iterator[date]:
        day = self.first_day
        while day <= self.last_day:
            yield day
            day += timedelta(days=1)


@dataclass(frozen=True, slots=True)
class RecordedSchedule:
    """A year's official schedule as the city recorded it."""

    year: int
    notice: str
    holidays: tuple[Holiday, ...]
    make_up_working_days: frozenset[date]

    @property
    def days_off(self) -> frozenset[date]:
        return frozenset(day for holiday in self.holidays for day in holiday.days())

    @classmethod
    def from_record(cls, record: OfficialCalendar) -> "RecordedSchedule":
        return cls(
            year=record.year,
            notice=record.notice,
            holidays=tuple(
                Holiday(item["name"], date.fromisoformat(item["first_day"]), date.fromisoformat(item["last_day"]))
                for item in record.holidays
            ),
            make_up_working_days=frozenset(date.fromisoformat(day) for day in record.make_up_working_days),
        )


Recorded = Mapping[int, RecordedSchedule]


def year_source(year: int, recorded: Recorded | None = None) -> CalendarSource:
    if recorded and year in recorded:
        return "recorded"
    if LIBRARY_FIRST_YEAR <= year <= LIBRARY_LAST_YEAR:
        return "library"
    return "unknown"


def is_working_day(day: date, recorded: Recorded | None = None) -> bool:
    """Whether `day` is an official working day in China, from the city's record of its year (`recorded`: year →
    schedule) or else the library. CalendarUnknown if neither knows its year."""
    schedule = recorded.get(day.year) if recorded else None
    if schedule is not None:
        if day in schedule.make_up_working_days:
            return True
        if day in schedule.days_off:
            return False
        return day.weekday() < SATURDAY
    if year_source(day.year) == "unknown":
        raise CalendarUnknown(day.year)
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        raise CalendarUnknown(day.year) from None


def working_days_after(start: date, working_days: int, recorded: Recorded | None = None) -> list[date]:
    """The first `working_days` official working days after `start` (`start` itself not counted), in order."""
    if working_days < 1:
        raise ValueError(f"working_days must be at least 1, not {working_days}")
    found: list[date] = []
    day = start
    while len(found) < working_days:
        day += timedelta(days=1)
        if is_working_day(day, recorded):
            found.append(day)
    return found


def working_day_after(start: date, working_days: int, recorded: Recorded | None = None) -> date:
    """The `working_days`-th official working day after `start` (`start` not counted): the pure form of notice_end."""
    return working_days_after(start, working_days, recorded)[-1]


async def recorded_schedules(session: AsyncSession, from_year: int | None = None) -> dict[int, RecordedSchedule]:
    """The official schedules the city recorded (the one in force of each year), from `from_year` on if given."""
    return {
        record.year: RecordedSchedule.from_record(record)
        for record in await repository.current_records(session, from_year)
    }


async def notice_end(session: AsyncSession, start: date, working_days: int) -> date:
    """The last day of a notice window of `working_days` official working days beginning after `start` (`start` not
    counted): public holidays off, 调休 make-up working days on. CalendarUnknown (a 503 problem) if the window
    reaches a year whose schedule neither the city recorded nor the library knows."""
    return working_day_after(start, working_days, await recorded_schedules(session, start.year))


# ---- the endpoints -------------------------------------------------------------------------------------------------


def _library_out() -> CalendarLibraryOut:
    return CalendarLibraryOut(
        name=LIBRARY_NAME, version=LIBRARY_VERSION, first_year=LIBRARY_FIRST_YEAR, last_year=LIBRARY_LAST_YEAR
    )


def library_holidays(year: int) -> list[HolidayOut]:
    """The library's days off of `year`, as spans of consecutive days (a holiday's weekend days included)."""
    days = sorted(day for day in chinese_calendar.holidays if day.year == year)
    spans: list[HolidayOut] = []
    names: list[str] = []
    for day in days:
        name = _HOLIDAY_NAMES_ZH.get(chinese_calendar.holidays[day], chinese_calendar.holidays[day])
        if spans and spans[-1].last_day + timedelta(days=1) == day:
            spans[-1].last_day = day
            if name not in names:
                names.append(name)
                spans[-1].name = "、".join(names)
        else:
            names = [name]
            spans.append(HolidayOut(name=name, first_day=day, last_day=day))
    return spans


def library_make_up_days(year: int) -> list[date]:
    return sorted(day for day in chinese_calendar.workdays if day.year == year)


def _holidays_out(items: Sequence[dict[str, Any]]) -> list[HolidayOut]:
    return [HolidayOut.model_validate(item) for item in items]


def _record_out(record: OfficialCalendar) -> CalendarRecordOut:
    return CalendarRecordOut(
        notice=record.notice,
        holidays=_holidays_out(record.holidays),
        make_up_working_days=[date.fromisoformat(day) for day in record.make_up_working_days],
        recorded_at=record.recorded_at,
        recorded_by=record.recorded_by,
    )


def _year_out(year: int, records: Sequence[OfficialCalendar]) -> CalendarYearOut:
    if records:
        current = _record_out(records[0])
        return CalendarYearOut(
            year=year,
            source="recorded",
            notice=current.notice,
            holidays=current.holidays,
            make_up_working_days=current.make_up_working_days,
            recorded_at=current.recorded_at,
            recorded_by=current.recorded_by,
            earlier_records=[_record_out(record) for record in records[1:]],
            library=_library_out(),
        )
    source = year_source(year)
    known = source == "library"
    return CalendarYearOut(
        year=year,
        source=source,
        notice=None,
        holidays=library_holidays(year) if known else [],
        make_up_working_days=library_make_up_days(year) if known else [],
        recorded_at=None,
        recorded_by=None,
        earlier_records=[],
        library=_library_out(),
    )


async def get_year(session: AsyncSession, year: int) -> CalendarYearOut:
    return _year_out(year, await repository.records_of_year(session, year))


def _schedule_errors(year: int, body: ScheduleIn) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    days_off: dict[date, int] = {}
    for index, holiday in enumerate(body.holidays):
        where: list[str | int] = ["body", "holidays", index]
        bad = False
        for name, day in (("first_day", holiday.first_day), ("last_day", holiday.last_day)):
            if day.year != year:
                errors.append(field_error([*where, name], f"{day} is not in {year}: each day of the record is"))
                bad = True
        if bad:
            continue
        if holiday.last_day < holiday.first_day:
            errors.append(field_error([*where, "last_day"], f"before first_day ({holiday.first_day})"))
            continue
        length = (holiday.last_day - holiday.first_day).days + 1
        if length > MAX_HOLIDAY_DAYS:
            errors.append(
                field_error([*where, "last_day"], f"a holiday of {length} days: at most {MAX_HOLIDAY_DAYS} days")
            )
            continue
        span = Holiday(holiday.name, holiday.first_day, holiday.last_day)
        overlapped = next((days_off[day] for day in span.days() if day in days_off), None)
        if overlapped is not None:
            errors.append(field_error([*where, "first_day"], f"overlaps holidays[{overlapped}]"))
            continue
        days_off.update(dict.fromkeys(span.days(), index))
    seen: set[date] = set()
    for index, day in enumerate(body.make_up_working_days):
        where_day: list[str | int] = ["body", "make_up_working_days", index]
        if day.year != year:
            errors.append(field_error(where_day, f"{day} is not in {year}: each day of the record is"))
        elif day.weekday() < SATURDAY:
            errors.append(field_error(where_day, f"{day} is a {day:%A}: a make-up working day is a Saturday or Sunday"))
        elif day in days_off:
            errors.append(field_error(where_day, f"{day} is a day off of holidays[{days_off[day]}]"))
        elif day in seen:
            errors.append(field_error(where_day, f"{day} is named twice"))
        seen.add(day)
    return errors


async def record_year(session: AsyncSession, principal: Principal, year: int, body: ScheduleIn) -> CalendarYearOut:
    """Record `year`'s official schedule (the city): it replaces the year's earlier record, which is kept."""
    errors = _schedule_errors(year, body)
    if errors:
        raise InvalidInput(f"The official schedule of {year} is not valid; nothing was recorded.", errors=errors)
    holidays = sorted(body.holidays, key=lambda holiday: holiday.first_day)
    await repository.add(
        session,
        OfficialCalendar(
            year=year,
            notice=body.notice,
            holidays=[
                {"name": h.name, "first_day": h.first_day.isoformat(), "last_day": h.last_day.isoformat()}
                for h in holidays
            ],
            make_up_working_days=[day.isoformat() for day in sorted(body.make_up_working_days)],
            recorded_by=principal.label,
            request_id=current_request_id(),
            client_request_id=current_client_request_id(),
        ),
    )
    await session.flush()
    return await get_year(session, year)


async def count_working_days(session: AsyncSession, year: int, start: date, days: int) -> WorkingDaysOut:
    if start.year != year:
        raise InvalidInput(
            f"The count starts in {year}: `from` ({start}) is not in it.",
            errors=[field_error(["query", "from"], f"{start} is not in {year}")],
        )
    recorded = await recorded_schedules(session, start.year)
    counted = working_days_after(start, days, recorded)
    years = range(start.year, counted[-1].year + 1)
    return WorkingDaysOut(
        from_=start,
        days=days,
        notice_ends_on=counted[-1],
        notice_end=counted[-1],  # the deprecated name, for one more release
        working_days=counted,
        sources={str(y): year_source(y, recorded) for y in years},
    )
