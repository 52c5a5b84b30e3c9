from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

from services.eligibility.calculations.schemas import MeasureFacts
from services.eligibility.rules.base import NotEligibleReasonCode
from services.eligibility.screenings.subjects import RecipientKind, ScreeningGapCode
from shared.identifiers import DistrictCode
from shared.money import Yuan
from shared.policy.catalogue import MeasureId, SubjectType
from shared.reference import MAX_YEAR, MIN_YEAR

Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR, description="The year whose figures are evaluated")]


# What a screening counts a subject under: the rules' reason for nothing, or the gap that kept it from them.
ScreeningReasonCode = TypeAliasType(
    "ScreeningReasonCode",
    Annotated[
        NotEligibleReasonCode | ScreeningGapCode,
        Field(
            title="ScreeningReasonCode",
            description="Why screened subjects were not paid: a rule's reason (`NotEligibleReasonCode`) or a "
            "missing or unverified fact (`ScreeningGapCode`)",
        ),
    ],
)


class ScreeningIn(BaseModel):
    as_of: date = Field(description="The date the policy and parameters are applied on")
    year: Year
    district_code: DistrictCode | None = Field(default=None, description="One district only (a district key: its own)")


class SnapshotIn(BaseModel):
    """A year whose nightly snapshot is taken now (after a correction the districts should hear of before night)."""

    model_config = ConfigDict(extra="forbid")

    year: Year


class SnapshotOut(BaseModel):
    """A snapshot taken: the year's eligible pairs stored, and the events of its difference with the previous one."""

    snapshot_id: int
    year: int
    as_of: date = Field(description="The day (China) the screening applied the policy on")
    baseline: bool = Field(description="The year's first snapshot: nothing to compare with, so no events")
    eligible: int = Field(description="Eligible subject–measure pairs stored")
    newly_eligible: int = Field(description="`enterprise.newly_eligible` events recorded")
    no_longer_eligible: int = Field(description="`enterprise.no_longer_eligible` events recorded")


class ScreenedSubject(BaseModel):
    measure_id: MeasureId
    subject_type: SubjectType
    subject_id: str
    subject_name: str
    district_code: DistrictCode
    recipient_kind: RecipientKind = Field(
        description="`enterprise` (a credit code), `district` (a district government, by code) or `city_department` "
        "(a city department or development-zone committee, by name)"
    )
    recipient: str = Field(description="Who receives the money, per recipient_kind")
    amount_yuan: Yuan
    facts: MeasureFacts = Field(description="The facts read from the registry; POST /calculate replays them")


class ReasonCount(BaseModel):
    measure_id: MeasureId
    code: ScreeningReasonCode
    count: int
    example: str = Field(description="The message of one such case")


class MeasureTotal(BaseModel):
    measure_id: MeasureId
    count: int
    amount_yuan: Yuan


class DistrictTotal(BaseModel):
    district_code: DistrictCode
    count: int
    amount_yuan: Yuan


class ScreeningTotals(BaseModel):
    count: int
    amount_yuan: Yuan
    by_measure: list[MeasureTotal]
    by_district: list[DistrictTotal]


class NotScreened(BaseModel):
    measure_id: MeasureId
    reason: str


class SubjectsRead(BaseModel):
    projects: int
    clusters: int
    buildings: int
    enterprises: int


class ScreeningOut(BaseModel):
    as_of: date
    year: int
    district_code: DistrictCode | None
    policy_in_force: bool = Field(description="Whether the policy is in force on as_of")
    year_rewarded: bool = Field(description="Whether the policy rewards the year screened (2024–2027 by default)")
    subjects_read: SubjectsRead
    evaluations: int
    eligible: list[ScreenedSubject]
    not_eligible: list[ReasonCount] = Field(description="Subjects evaluated and not eligible, or lacking a fact")
    totals: ScreeningTotals
    not_screened: list[NotScreened]
