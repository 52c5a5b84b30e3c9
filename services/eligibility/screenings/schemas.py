from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator

from services.eligibility.screenings.subjects import RecipientKind
from shared.money import Yuan
from shared.reference import DISTRICT_CODES, MAX_YEAR, MIN_YEAR

Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR, description="The year whose figures are evaluated")]


def check_district(code: str | None) -> str | None:
    if code is not None and code not in DISTRICT_CODES:
        raise ValueError(f"{code!r} is not one of the 38 district codes of Chongqing")
    return code


class ScreeningIn(BaseModel):
    as_of: date = Field(description="The date the policy and parameters are applied on")
    year: Year
    district_code: str | None = Field(default=None, description="One district only (a district key: its own)")

    _district = field_validator("district_code")(check_district)


class ScreenedSubject(BaseModel):
    measure_id: str
    subject_type: str
    subject_id: str
    subject_name: str
    district_code: str
    recipient_kind: RecipientKind = Field(
        description="`enterprise` (a credit code), `district` (a district government, by code) or `city_department` "
        "(a city department or development-zone committee, by name)"
    )
    recipient: str = Field(description="Who receives the money, per recipient_kind")
    amount_yuan: Yuan
    facts: dict[str, Any] = Field(description="The facts read from the registry; POST /calculate replays them")


class ReasonCount(BaseModel):
    measure_id: str
    code: str
    count: int
    example: str = Field(description="The message of one such case")


class MeasureTotal(BaseModel):
    measure_id: str
    count: int
    amount_yuan: Yuan


class DistrictTotal(BaseModel):
    district_code: str
    count: int
    amount_yuan: Yuan


class Totals(BaseModel):
    count: int
    amount_yuan: Yuan
    by_measure: list[MeasureTotal]
    by_district: list[DistrictTotal]


class NotScreened(BaseModel):
    measure_id: str
    reason: str


class SubjectsRead(BaseModel):
    projects: int
    clusters: int
    buildings: int
    enterprises: int


class ScreeningOut(BaseModel):
    as_of: date
    year: int
    district_code: str | None
    policy_in_force: bool = Field(description="Whether the policy is in force on as_of")
    year_rewarded: bool = Field(description="Whether the policy rewards the year screened (2024–2027 by default)")
    subjects_read: SubjectsRead
    evaluations: int
    eligible: list[ScreenedSubject]
    not_eligible: list[ReasonCount] = Field(description="Subjects evaluated and not eligible, or lacking a fact")
    totals: Totals
    not_screened: list[NotScreened]
