from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.eligibility.awards.workflow import Action
from services.eligibility.rules.base import DOCUMENT
from shared.identifiers import DistrictCode, Name, Storable, Year
from shared.money import StoredYuan, Yuan

SubjectType = Literal["project", "cluster", "building", "enterprise", "district"]
Status = Literal["proposed", "approved", "publicised", "paid", "rejected", "withdrawn", "superseded"]
GroupKey = Literal["measure_id", "year", "district_code", "status", "policy"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), Storable]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000), Storable]


class AwardIn(BaseModel):
    measure_id: Text = Field(
        description="A measure of 渝发改规范〔2024〕7号 (`M01`…, GET /measures); under another policy, its own clause",
        examples=["M01"],
    )
    policy: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=100), Storable] = Field(
        default=DOCUMENT,
        description="The document the award is made under; another city policy's award is recorded the same way "
        "so that 就高不重复 sees it",
    )
    subject_type: SubjectType
    subject_id: Text = Field(
        description="A project, cluster or building id, a credit code, or a district code", examples=["42"]
    )
    year: Year | None = Field(
        default=None,
        description="For yearly measures (M03, M05, M06): the year rewarded. The stacking key is the subject, plus "
        "the year when one is given: under another policy, give it only if that award is yearly",
    )
    amount_yuan: Yuan = Field(description="The amount granted; for a computable measure at most what the rules give")
    district_code: DistrictCode | None = Field(
        default=None,
        description="Taken from the registry for this policy's computable measures; required for the others "
        "(but for a district subject, which is its own district)",
    )
    subject_name: Name | None = Field(
        default=None, description="For the official notice; taken from the registry when the registry is read"
    )
    facts_year: Year | None = Field(
        default=None,
        description="M07a, M07b: the year of the enterprise's figures the rules read (default: the year on record "
        "that gives the most)",
    )
    as_of: date | None = Field(default=None, description="The date the rules are applied on (default: today)")
    reason: Reason | None = Field(default=None, description="A note recorded with the proposal")

    @field_validator("amount_yuan")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        if value <= 0:
            raise ValueError("an award must be of more than 0.00 yuan")
        return value


class TransitionIn(BaseModel):
    action: Action = Field(
        description="`approve`, `publicise` (公示), `object` (within the notice window), `pay`, `reject`, `withdraw`"
    )
    reason: Reason | None = Field(default=None, description="Required to object, reject or withdraw")
    on: date | None = Field(default=None, description="The date the step takes effect (default: today)")


class AwardEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event: str
    from_status: str | None
    to_status: str
    on: date = Field(validation_alias="effective_on")
    reason: str | None
    actor_role: str
    actor_district: str | None
    at: datetime
    request_id: str | None


class AwardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    policy: str
    measure_id: str
    subject_type: str
    subject_id: str
    subject_name: str | None
    recipient: str | None = Field(description="Who receives the money: a credit code or a district code")
    year: int | None
    stacking_key: str = Field(description="The subject (and year, for a yearly measure) 就高不重复 applies to")
    district_code: str
    amount_yuan: StoredYuan = Field(description="The entitlement")
    payable_yuan: StoredYuan = Field(description="What this award pays: the amount, or for a top-up the difference")
    tops_up_award_id: int | None = Field(description="The paid award this one tops up")
    status: Status
    is_standing: bool = Field(description="The one award that stands for its key")
    superseded_by_id: int | None
    publicised_on: date | None
    notice_ends_on: date | None = Field(description="The last day of the notice window (公示期)")
    paid_on: date | None
    allowed_actions: list[Action]
    created_at: datetime
    created_by: str
    updated_at: datetime


class AwardDetail(AwardOut):
    calculation: dict[str, Any] | None = Field(description="The rules' trace on the registry's facts, if computed")
    events: list[AwardEventOut] = Field(description="The award's history, oldest first")


class AwardPage(BaseModel):
    items: list[AwardOut]
    next_cursor: str | None


class SummaryGroup(BaseModel):
    measure_id: str | None = None
    year: int | None = None
    district_code: str | None = None
    status: str | None = None
    policy: str | None = None
    count: int
    amount_yuan: StoredYuan
    payable_yuan: StoredYuan


class SummaryTotals(BaseModel):
    count: int
    amount_yuan: StoredYuan
    payable_yuan: StoredYuan


class SummaryOut(BaseModel):
    group_by: list[GroupKey]
    groups: list[SummaryGroup]
    totals: SummaryTotals = Field(
        description="Over every award the filters select; add `status=paid` for money paid, `standing=true` for "
        "the entitlements that stand"
    )


@dataclass(frozen=True, slots=True)
class AwardFilters:
    subject_type: str | None = None
    subject_id: str | None = None
    district_code: str | None = None
    measure_id: str | None = None
    status: str | None = None
    year: int | None = None
    policy: str | None = None
    standing: bool | None = None
