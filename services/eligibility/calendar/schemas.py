import unicodedata
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from typing_extensions import TypeAliasType

from shared.errors import Problem

CalendarSource = TypeAliasType("CalendarSource", Literal["recorded", "library", "unknown"])


def _one_line(text: str) -> str:
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in text):
        raise ValueError("text may not contain control characters (line breaks, NUL) or unpaired surrogates")
    return text


Notice = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=100), AfterValidator(_one_line)
]
HolidayName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), AfterValidator(_one_line)
]


class HolidayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: HolidayName = Field(examples=["国庆节、中秋节"])
    first_day: date = Field(description="The first day off, inside the year")
    last_day: date = Field(description="The last day off (the same day for a one-day holiday), inside the year")


class ScheduleIn(BaseModel):
    """A year's official schedule as the State Council's yearly notice on the holidays (放假安排) sets it."""

    model_config = ConfigDict(extra="forbid")

    notice: Notice = Field(description="The notice's document number", examples=["国办发明电〔2024〕12号"])
    holidays: list[HolidayIn] = Field(
        min_length=1,
        max_length=10,
        description="Each holiday (放假), its first and last day off, weekend days within it included; not "
        "overlapping one another nor a make-up working day",
    )
    make_up_working_days: list[date] = Field(
        default_factory=list,
        max_length=10,
        description="The weekend days that are worked (调休上班): each a Saturday or a Sunday, inside the year",
        examples=[["2025-09-28", "2025-10-11"]],
    )


class HolidayOut(BaseModel):
    name: str
    first_day: date
    last_day: date


class CalendarRecordOut(BaseModel):
    notice: str
    holidays: list[HolidayOut]
    make_up_working_days: list[date]
    recorded_at: datetime
    recorded_by: str


class CalendarLibraryOut(BaseModel):
    name: str = Field(examples=["chinese-calendar"])
    version: str
    first_year: int = Field(description="The first year the library knows")
    last_year: int = Field(description="The last year the library knows")


class CalendarYearOut(BaseModel):
    year: int
    source: CalendarSource = Field(
        description="Where the year's working days come from: `recorded` (the official schedule the city recorded), "
        "`library` (the chinese-calendar library) or `unknown` (neither: a notice window reaching into it is a 503)"
    )
    notice: str | None = Field(description="The State Council's notice the schedule follows, when recorded")
    holidays: list[HolidayOut] = Field(description="The days off besides ordinary weekends")
    make_up_working_days: list[date] = Field(description="The weekend days that are worked (调休)")
    recorded_at: datetime | None
    recorded_by: str | None
    earlier_records: list[CalendarRecordOut] = Field(
        description="Records of the year the one in force replaced, newest first"
    )
    library: CalendarLibraryOut


class WorkingDaysOut(BaseModel):
    model_config = ConfigDict(validate_by_name=True)

    from_: date = Field(alias="from", description="The day the count starts after (not counted)")
    days: int
    notice_ends_on: date = Field(description="The `days`-th official working day after `from`")
    notice_end: date = Field(
        description="Deprecated: the old name of `notice_ends_on` (the same day), sent for one more release",
        json_schema_extra={"deprecated": True},
    )
    working_days: list[date] = Field(description="The working days counted, in order")
    sources: dict[str, CalendarSource] = Field(description="Each year the count went through → its source")


class CalendarUnknownProblem(Problem):
    """503 `calendar-unknown`: a notice window reaches into a year whose official working days are not known."""

    # Optional: the gateway's own 503s (and a database that is away) share the status and have no year.
    year: int | None = Field(
        default=None,
        description="For `/problems/calendar-unknown`: the year the city should record the official schedule of "
        "(PUT /calendar/{year})",
    )
