"""China's official working days for the notice window (公示期): public holidays off, 调休 make-up working days on,
from the chinese-calendar library or the official schedule the city recorded; a year neither knows is a 503.

Every expectation is worked out by hand from the State Council's yearly notice on the holidays (放假安排), cited
where it is used, and checked against the library where the library knows the year.
"""

from datetime import date, timedelta
from typing import Any

import chinese_calendar
import pytest
from sqlalchemy import text

from services.eligibility.calendar.schemas import CalendarUnknownProblem
from services.eligibility.calendar.service import (
    LIBRARY_LAST_YEAR,
    CalendarUnknown,
    Holiday,
    RecordedSchedule,
    is_working_day,
    notice_end,
    recorded_schedules,
    working_day_after,
)
from tests.support import ANONYMOUS, AUDITOR, CITY, district

# 国办发明电〔2024〕12号 (the holidays of 2025): "国庆节、中秋节：10月1日（周三）至8日（周三）放假调休，共8天。
# 9月28日（周日）、10月11日（周六）上班。" A notice of 5 working days beginning on Tuesday 2025-09-30 (not counted):
# 10-01…10-08 off; 10-09 Thu (1), 10-10 Fri (2), 10-11 Sat worked (3), 10-12 Sun off, 10-13 Mon (4), 10-14 Tue (5).
NATIONAL_DAY_2025 = [date(2025, 10, 9), date(2025, 10, 10), date(2025, 10, 11), date(2025, 10, 13), date(2025, 10, 14)]
# The same notice: "春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。1月26日（周日）、
# 2月8日（周六）上班。" 5 working days after Friday 2025-01-24: 01-25 Sat off, 01-26 Sun worked (1), 01-27 Mon (2),
# 01-28…02-04 off, 02-05 Wed (3), 02-06 Thu (4), 02-07 Fri (5).
SPRING_FESTIVAL_2025 = [date(2025, 1, 26), date(2025, 1, 27), date(2025, 2, 5), date(2025, 2, 6), date(2025, 2, 7)]

# 国办发明电〔2025〕7号 (the holidays of 2026), as the city would record it.
SCHEDULE_2026: dict[str, Any] = {
    "notice": "国办发明电〔2025〕7号",
    "holidays": [
        {"name": "元旦", "first_day": "2026-01-01", "last_day": "2026-01-03"},  # 1月1日（周四）至3日（周六）
        {"name": "春节", "first_day": "2026-02-15", "last_day": "2026-02-23"},  # 2月15日（周日）至23日（周一），共9天
        {"name": "清明节", "first_day": "2026-04-04", "last_day": "2026-04-06"},
        {"name": "劳动节", "first_day": "2026-05-01", "last_day": "2026-05-05"},
        {"name": "端午节", "first_day": "2026-06-19", "last_day": "2026-06-21"},
        {"name": "中秋节", "first_day": "2026-09-25", "last_day": "2026-09-27"},
        {"name": "国庆节", "first_day": "2026-10-01", "last_day": "2026-10-07"},
    ],
    # 1月4日（周日）、2月14日（周六）、2月28日（周六）、5月9日（周六）、9月20日（周日）、10月10日（周六）上班
    "make_up_working_days": ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
}

# A year the library (1.11.0) does not know. Its schedule below is the test's own (a 元旦 of Friday 1 to Monday
# 4 January with Saturday 9 January worked), NOT the State Council's notice for 2027: it only shows that a
# recorded schedule is what the count follows.
UNKNOWN_YEAR = LIBRARY_LAST_YEAR + 1
SCHEDULE_2027: dict[str, Any] = {
    "notice": "国办发明电〔2026〕99号",
    "holidays": [
        {"name": "元旦", "first_day": "2027-01-01", "last_day": "2027-01-04"},
        {"name": "春节", "first_day": "2027-02-06", "last_day": "2027-02-12"},
    ],
    "make_up_working_days": ["2027-01-09"],
}


async def recorded_rows(eligibility_app) -> int:
    async with eligibility_app.state.sessionmaker() as session:
        return int(await session.scalar(text("SELECT count(*) FROM official_calendars")))


def library_working_days_after(start: date, count: int) -> list[date]:
    """The same count, straight from the library: the hand-worked days must agree with it."""
    found: list[date] = []
    day = start
    while len(found) < count:
        day += timedelta(days=1)
        if chinese_calendar.is_workday(day):
            found.append(day)
    return found


# ---- the pure helpers ----------------------------------------------------------------------------------------------


def test_the_library_knows_2025_and_2026_and_not_2027():
    assert UNKNOWN_YEAR == 2027
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))


def test_national_day_2025_working_days_from_the_library():
    assert library_working_days_after(date(2025, 9, 30), 5) == NATIONAL_DAY_2025
    assert working_day_after(date(2025, 9, 30), 5) == date(2025, 10, 14)
    assert is_working_day(date(2025, 10, 11)) is True  # Saturday, 调休上班
    assert is_working_day(date(2025, 10, 8)) is False  # Wednesday, 放假
    assert is_working_day(date(2025, 10, 12)) is False  # an ordinary Sunday
    assert is_working_day(date(2025, 9, 30)) is True  # an ordinary Tuesday


def test_spring_festival_2025_from_the_library():
    assert library_working_days_after(date(2025, 1, 24), 5) == SPRING_FESTIVAL_2025
    assert working_day_after(date(2025, 1, 24), 5) == date(2025, 2, 7)


def test_a_recorded_year_is_read_from_its_record_not_the_library():
    # A record of 2025 without the 10-11 make-up day (as if the notice had none): 10-11 is then an ordinary
    # Saturday, and the 5th working day after 09-30 is 10-15 (10-09, 10-10, 10-13, 10-14, 10-15).
    recorded = {
        2025: RecordedSchedule(
            year=2025,
            notice="国办发明电〔2024〕12号",
            holidays=(Holiday("国庆节、中秋节", date(2025, 10, 1), date(2025, 10, 8)),),
            make_up_working_days=frozenset({date(2025, 9, 28)}),
        )
    }
    assert is_working_day(date(2025, 10, 11), recorded) is False
    assert is_working_day(date(2025, 9, 28), recorded) is True
    assert working_day_after(date(2025, 9, 30), 5, recorded) == date(2025, 10, 15)


def test_a_day_of_a_year_neither_knows_is_calendar_unknown():
    with pytest.raises(CalendarUnknown) as caught:
        is_working_day(date(2027, 1, 4))
    assert caught.value.year == 2027 and caught.value.status == 503 and caught.value.slug == "calendar-unknown"
    # 2026-12-28 Mon: 12-29 (1), 12-30 (2), 12-31 (3), then 2027-01-01 is of an unknown year.
    with pytest.raises(CalendarUnknown):
        working_day_after(date(2026, 12, 28), 5)
    assert working_day_after(date(2026, 12, 28), 3) == date(2026, 12, 31)


async def test_notice_end_reads_the_records_in_the_session(eligibility_app, client_for):
    async with eligibility_app.state.sessionmaker() as session:
        assert await notice_end(session, date(2025, 9, 30), 5) == date(2025, 10, 14)
        with pytest.raises(CalendarUnknown):
            await notice_end(session, date(2026, 12, 31), 5)
    assert (await client_for(CITY).put(f"/calendar/{UNKNOWN_YEAR}", json=SCHEDULE_2027)).status_code == 200
    async with eligibility_app.state.sessionmaker() as session:
        # The test's 2027: 01-01…01-04 off, 01-05 Tue (1) … 01-08 Fri (4), Saturday 01-09 worked (5).
        assert await notice_end(session, date(2026, 12, 31), 5) == date(2027, 1, 9)


# ---- GET /calendar/{year}/working-days ---------------------------------------------------------------------------


async def test_a_notice_from_2025_09_30_ends_on_2025_10_14(client_for):
    response = await client_for(ANONYMOUS).get("/calendar/2025/working-days", params={"from": "2025-09-30", "days": 5})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "from": "2025-09-30",
        "days": 5,
        "notice_ends_on": "2025-10-14",
        # The old name, deprecated, for one more release.
        "notice_end": "2025-10-14",
        "working_days": [day.isoformat() for day in NATIONAL_DAY_2025],
        "sources": {"2025": "library"},
    }


async def test_spring_festival_notices(client_for):
    client = client_for(ANONYMOUS)
    response = await client.get("/calendar/2025/working-days", params={"from": "2025-01-24", "days": 5})
    assert response.status_code == 200, response.text
    assert response.json()["notice_ends_on"] == "2025-02-07"
    assert response.json()["working_days"] == [day.isoformat() for day in SPRING_FESTIVAL_2025]
    # 国办发明电〔2025〕7号: "春节：2月15日（周日）至23日（周一）放假调休，共9天。2月14日（周六）…上班。"
    # 3 working days after Thursday 2026-02-12: 02-13 Fri (1), 02-14 Sat worked (2), 02-15…02-23 off, 02-24 Tue (3).
    response = await client.get("/calendar/2026/working-days", params={"from": "2026-02-12", "days": 3})
    assert response.status_code == 200, response.text
    assert response.json()["working_days"] == ["2026-02-13", "2026-02-14", "2026-02-24"]
    assert library_working_days_after(date(2026, 2, 12), 3) == [date(2026, 2, 13), date(2026, 2, 14), date(2026, 2, 24)]


async def test_a_window_into_a_year_neither_knows_is_a_503_problem(client_for, eligibility_app):
    response = await client_for(ANONYMOUS).get("/calendar/2026/working-days", params={"from": "2026-12-28", "days": 5})
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/calendar-unknown"
    assert problem["status"] == 503 and problem["year"] == 2027
    assert CalendarUnknownProblem.model_validate(problem).year == 2027
    assert "2027" in problem["detail"] and "PUT /calendar/2027" in problem["detail"]
    year = (await client_for(ANONYMOUS).get("/calendar/2027")).json()
    assert (year["source"], year["holidays"], year["make_up_working_days"], year["notice"]) == ("unknown", [], [], None)
    assert await recorded_rows(eligibility_app) == 0


async def test_after_the_city_records_the_year_the_window_is_counted_from_the_record(client_for, eligibility_app):
    response = await client_for(CITY).put("/calendar/2027", json=SCHEDULE_2027)
    assert response.status_code == 200, response.text
    recorded = response.json()
    assert recorded["source"] == "recorded" and recorded["notice"] == "国办发明电〔2026〕99号"
    assert recorded["holidays"] == SCHEDULE_2027["holidays"]
    assert recorded["make_up_working_days"] == ["2027-01-09"]
    assert recorded["recorded_by"] == "city" and recorded["recorded_at"] and recorded["earlier_records"] == []
    # 2026-12-28 Mon: 12-29 (1), 12-30 (2), 12-31 (3) from the library; the record's 01-01…01-04 off, 01-05 (4),
    # 01-06 (5).
    response = await client_for(ANONYMOUS).get("/calendar/2026/working-days", params={"from": "2026-12-28", "days": 5})
    assert response.status_code == 200, response.text
    assert response.json()["working_days"] == ["2026-12-29", "2026-12-30", "2026-12-31", "2027-01-05", "2027-01-06"]
    assert response.json()["sources"] == {"2026": "library", "2027": "recorded"}
    # 01-05…01-08 (1–4), the recorded make-up Saturday 01-09 (5).
    response = await client_for(ANONYMOUS).get("/calendar/2027/working-days", params={"from": "2027-01-04", "days": 5})
    assert response.json()["notice_ends_on"] == "2027-01-09"
    assert await recorded_rows(eligibility_app) == 1


# ---- GET /calendar/{year} and PUT /calendar/{year} ----------------------------------------------------------------


async def test_a_library_year_shows_its_holidays_and_make_up_days(client_for):
    response = await client_for(ANONYMOUS).get("/calendar/2025")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "library" and body["notice"] is None and body["recorded_by"] is None
    # 国办发明电〔2024〕12号, holiday by holiday (a holiday's weekend days are days off of it).
    assert body["holidays"] == [
        {"name": "元旦", "first_day": "2025-01-01", "last_day": "2025-01-01"},
        {"name": "春节", "first_day": "2025-01-28", "last_day": "2025-02-04"},
        {"name": "清明节", "first_day": "2025-04-04", "last_day": "2025-04-06"},
        {"name": "劳动节", "first_day": "2025-05-01", "last_day": "2025-05-05"},
        {"name": "端午节", "first_day": "2025-05-31", "last_day": "2025-06-02"},
        {"name": "国庆节、中秋节", "first_day": "2025-10-01", "last_day": "2025-10-08"},
    ]
    assert body["make_up_working_days"] == ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"]
    assert body["library"] == {"name": "chinese-calendar", "version": "1.11.0", "first_year": 2004, "last_year": 2026}


async def test_the_recorded_2026_notice_agrees_with_the_library_day_by_day(client_for, eligibility_app):
    before = (await client_for(ANONYMOUS).get("/calendar/2026")).json()
    assert before["source"] == "library"
    assert before["holidays"] == SCHEDULE_2026["holidays"]
    assert before["make_up_working_days"] == SCHEDULE_2026["make_up_working_days"]
    response = await client_for(CITY).put("/calendar/2026", json=SCHEDULE_2026)
    assert response.status_code == 200, response.text
    assert response.json()["source"] == "recorded" and response.json()["notice"] == "国办发明电〔2025〕7号"
    async with eligibility_app.state.sessionmaker() as session:
        recorded = await recorded_schedules(session)
    assert set(recorded) == {2026}
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert is_working_day(day, recorded) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


async def test_recording_a_year_again_replaces_the_record_and_keeps_the_earlier_one(client_for, eligibility_app):
    city = client_for(CITY)
    assert (await city.put("/calendar/2027", json=SCHEDULE_2027)).status_code == 200
    corrected = {**SCHEDULE_2027, "notice": "国办发明电〔2026〕100号", "make_up_working_days": []}
    response = await city.put("/calendar/2027", json=corrected)
    assert response.status_code == 200, response.text
    body = (await client_for(ANONYMOUS).get("/calendar/2027")).json()
    assert body["notice"] == "国办发明电〔2026〕100号" and body["make_up_working_days"] == []
    assert [record["notice"] for record in body["earlier_records"]] == ["国办发明电〔2026〕99号"]
    assert body["earlier_records"][0]["make_up_working_days"] == ["2027-01-09"]
    assert body["earlier_records"][0]["recorded_by"] == "city"
    assert await recorded_rows(eligibility_app) == 2
    # The record in force has no make-up day: after 2027-01-04, 01-05…01-08 (1–4), 01-09 Sat off, 01-11 Mon (5).
    response = await client_for(ANONYMOUS).get("/calendar/2027/working-days", params={"from": "2027-01-04", "days": 5})
    assert response.json()["notice_ends_on"] == "2027-01-11"


@pytest.mark.parametrize("principal", [district("500103"), AUDITOR], ids=["district", "auditor"])
async def test_only_the_city_records_a_schedule(client_for, eligibility_app, principal):
    response = await client_for(principal).put("/calendar/2027", json=SCHEDULE_2027)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await recorded_rows(eligibility_app) == 0
    assert (await client_for(ANONYMOUS).get("/calendar/2027")).json()["source"] == "unknown"


async def test_an_anonymous_caller_records_nothing(client_for, eligibility_app):
    response = await client_for(ANONYMOUS).put("/calendar/2027", json=SCHEDULE_2027)
    assert response.status_code == 401, response.text
    assert await recorded_rows(eligibility_app) == 0


def _with(**changes: Any) -> dict[str, Any]:
    return {**SCHEDULE_2027, **changes}


def _holiday(first_day: str, last_day: str, name: str = "元旦") -> dict[str, str]:
    return {"name": name, "first_day": first_day, "last_day": last_day}


BAD_BODIES = [
    ("holiday-in-another-year", _with(holidays=[_holiday("2026-12-31", "2027-01-03")]), ["body", "holidays", 0, "first_day"]),
    ("holiday-ends-in-another-year", _with(holidays=[_holiday("2027-12-31", "2028-01-01")]), ["body", "holidays", 0, "last_day"]),
    ("holiday-ends-before-it-begins", _with(holidays=[_holiday("2027-01-04", "2027-01-01")]), ["body", "holidays", 0, "last_day"]),
    ("holiday-too-long", _with(holidays=[_holiday("2027-01-01", "2027-01-31")], make_up_working_days=[]), ["body", "holidays", 0, "last_day"]),
    ("holidays-overlap", _with(holidays=[_holiday("2027-01-01", "2027-01-04"), _holiday("2027-01-03", "2027-01-05", "春节")]), ["body", "holidays", 1, "first_day"]),
    ("no-holidays", _with(holidays=[]), ["body", "holidays"]),
    ("not-a-date", _with(holidays=[_holiday("2027-02-30", "2027-03-01")]), ["body", "holidays", 0, "first_day"]),
    ("no-name", _with(holidays=[{"first_day": "2027-01-01", "last_day": "2027-01-04"}]), ["body", "holidays", 0, "name"]),
    ("make-up-on-a-wednesday", _with(make_up_working_days=["2027-01-06"]), ["body", "make_up_working_days", 0]),
    ("make-up-inside-a-holiday", _with(make_up_working_days=["2027-01-09", "2027-01-02"]), ["body", "make_up_working_days", 1]),
    ("make-up-in-another-year", _with(make_up_working_days=["2026-12-26"]), ["body", "make_up_working_days", 0]),
    ("make-up-twice", _with(make_up_working_days=["2027-01-09", "2027-01-09"]), ["body", "make_up_working_days", 1]),
    ("no-notice", {key: value for key, value in SCHEDULE_2027.items() if key != "notice"}, ["body", "notice"]),
    ("notice-with-a-line-break", _with(notice="国办发明电\n〔2026〕99号"), ["body", "notice"]),
    ("notice-too-long", _with(notice="长" * 101), ["body", "notice"]),
    ("unknown-field", _with(comment="x"), ["body", "comment"]),
]  # fmt: skip


@pytest.mark.parametrize(("body", "loc"), [case[1:] for case in BAD_BODIES], ids=[case[0] for case in BAD_BODIES])
async def test_a_bad_schedule_is_a_422_naming_the_field_and_nothing_is_written(client_for, eligibility_app, body, loc):
    response = await client_for(CITY).put("/calendar/2027", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["loc"] for error in problem["errors"]] == [loc], problem
    assert await recorded_rows(eligibility_app) == 0


async def test_a_year_outside_the_range_is_a_422_naming_it(client_for, eligibility_app):
    response = await client_for(CITY).put("/calendar/1999", json=SCHEDULE_2027)
    assert response.status_code == 422, response.text
    assert ["path", "year"] in [error["loc"] for error in response.json()["errors"]]
    assert await recorded_rows(eligibility_app) == 0


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"from": "2025-09-30", "days": 0}, ["query", "days"]),
        ({"from": "2025-09-30", "days": 367}, ["query", "days"]),
        ({"from": "2024-12-31", "days": 5}, ["query", "from"]),  # not in the path's year 2025
        ({"from": "2025-13-01", "days": 5}, ["query", "from"]),
        ({"days": 5}, ["query", "from"]),
    ],
)
async def test_a_bad_count_is_a_422_naming_the_parameter(client_for, params, loc):
    response = await client_for(ANONYMOUS).get("/calendar/2025/working-days", params=params)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["errors"]] == [loc]
