from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.eligibility.awards.workflow import Action
from services.eligibility.rules.base import DOCUMENT
from services.eligibility.screenings.subjects import RecipientKind
from shared.identifiers import DistrictCode, Name, Storable, Year
from shared.money import StoredYuan, Yuan

SubjectType = Literal["project", "cluster", "building", "enterprise", "district"]
Status = Literal["proposed", "approved", "publicised", "paid", "rejected", "withdrawn", "superseded"]
GroupKey = Literal["measure_id", "year", "district_code", "status", "policy", "recipient_kind", "recipient"]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), Storable]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000), Storable]


class AwardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    measure_id: Text = Field(
        description="A measure of 渝发改规范〔2024〕7号 (`M01`…, GET /measures); under another policy, its own clause",
        examples=["M01"],
    )
    policy_id: int | None = Field(default=None, ge=1, description="The registered policy (GET /policies)")
    policy: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=100), Storable] | None = (
        Field(
            default=None,
            description="Or the policy's document number, in any spelling (〔〕[]【】(), spaces, 第/号 variants): it "
            "must normalise to a registered policy. Neither given: 渝发改规范〔2024〕7号",
            examples=[DOCUMENT],
        )
    )
    subject_type: SubjectType
    subject_id: Text = Field(
        description="A registry id (project, cluster, building), a project's 项目代码 (e.g. 2024-500103-65-03-012345), "
        "a credit code, or a district code",
        examples=["42"],
    )
    year: Year | None = Field(
        default=None,
        description="Required for the yearly subjects (cluster, building, district): the year rewarded; refused for "
        "the one-off ones (project, enterprise), under every policy",
    )
    amount_yuan: Yuan = Field(description="The amount granted; for a computable measure at most what the rules give")
    recipient_kind: Literal["enterprise", "district"] | None = Field(
        default=None,
        description="Enterprise subjects under another policy: whom it pays, the enterprise itself or its district "
        "(required there); derived for this policy's measures (M07a the district, M07b the enterprise)",
    )
    district_code: DistrictCode | None = Field(
        default=None,
        description="Taken from the registry for a subject it holds (a different value is refused); required for "
        "another policy's subject the registry does not hold",
    )
    subject_name: Name | None = Field(
        default=None, description="For the official notice, for a subject the registry does not hold"
    )
    facts_year: Year | None = Field(
        default=None,
        description="M07a, M07b: the year of the enterprise's figures the rules read (default: the verified year on "
        "record that gives the most)",
    )
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
    on: date | None = Field(
        default=None,
        description="The date the step took effect (default: today, Asia/Shanghai); never in the future nor before "
        "the award's previous step. `publicise` always takes today: a notice cannot be backdated",
    )


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
    request_id: str | None = Field(description="The system's id of the request that made the step")
    client_request_id: str | None = Field(description="The X-Request-ID its caller sent, if any")


class AwardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    policy_id: int | None = Field(description="The registered policy (GET /policies/{id})")
    policy: str = Field(description="Its document number, canonical")
    measure_id: str
    subject_type: str
    subject_id: str
    subject_name: str | None
    recipient_kind: RecipientKind = Field(
        description="`enterprise` (a credit code), `district` (a district government, by code) or `city_department` "
        "(a city department or development-zone committee, by name)"
    )
    recipient: str | None = Field(description="Who receives the money, per recipient_kind")
    year: int | None
    stacking_key: str = Field(
        description="The subject, year (yearly subjects) or recipient kind (enterprises) 就高不重复 applies to"
    )
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
    recipient_kind: str | None = None
    recipient: str | None = None
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
    recipient_kind: str | None = None
    standing: bool | None = None
