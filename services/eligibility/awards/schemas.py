from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from typing_extensions import TypeAliasType

from services.eligibility.awards.workflow import AwardAction
from services.eligibility.calculations.schemas import CalculationOut, MeasureFacts
from services.eligibility.rules.base import DOCUMENT
from services.eligibility.screenings.subjects import RecipientKind
from shared.auth import Role
from shared.errors import Problem
from shared.identifiers import DistrictCode, Name, Storable, Year
from shared.money import StoredYuan, Yuan
from shared.policy.catalogue import SubjectType

AwardStatus = TypeAliasType(
    "AwardStatus", Literal["proposed", "approved", "publicised", "paid", "rejected", "withdrawn", "superseded"]
)
AwardGroupKey = TypeAliasType(
    "AwardGroupKey", Literal["measure_id", "year", "district_code", "status", "policy", "recipient_kind", "recipient"]
)
# What an award's history records: an action taken, or what the ledger did on its own (supersede, top up, resume).
AwardEventKind = TypeAliasType(
    "AwardEventKind",
    Literal["propose", "approve", "publicise", "object", "pay", "reject", "withdraw", "supersede", "top_up", "resume"],
)
# Whom an enterprise subject's award of another policy pays: the enterprise itself or its district.
EnterpriseRecipientKind = TypeAliasType("EnterpriseRecipientKind", Literal["enterprise", "district"])
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
    recipient_kind: EnterpriseRecipientKind | None = Field(
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
    action: AwardAction = Field(
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
    event: AwardEventKind = Field(
        description="The action taken, `propose`, or what the ledger did (`supersede`, `resume`)"
    )
    from_status: AwardStatus | None
    to_status: AwardStatus
    # Read from the event row (`effective_on`) or by its own name; documented and sent as `on`.
    on: date = Field(validation_alias=AliasChoices("on", "effective_on"))
    reason: str | None
    actor_role: Role
    actor_district: DistrictCode | None
    # Read from the event row (`at`) or by its own name; audit entries name their time the same way.
    occurred_at: datetime = Field(
        validation_alias=AliasChoices("occurred_at", "at"), description="When the step was recorded"
    )
    at: datetime = Field(
        description="Deprecated: the old name of `occurred_at` (the same time), sent for one more release",
        json_schema_extra={"deprecated": True},
    )
    request_id: str | None = Field(description="The system's id of the request that made the step")
    client_request_id: str | None = Field(description="The X-Request-ID its caller sent, if any")


class AwardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    policy_id: int | None = Field(description="The registered policy (GET /policies/{id})")
    policy: str = Field(description="Its document number, canonical")
    measure_id: str = Field(description="A measure of 渝发改规范〔2024〕7号 (`M01`…), or another policy's clause")
    subject_type: SubjectType
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
    district_code: DistrictCode
    amount_yuan: StoredYuan = Field(description="The entitlement")
    payable_yuan: StoredYuan = Field(description="What this award pays: the amount, or for a top-up the difference")
    tops_up_award_id: int | None = Field(description="The paid award this one tops up")
    status: AwardStatus
    is_standing: bool = Field(description="The one award that stands for its key")
    superseded_by_id: int | None
    publicised_on: date | None
    notice_ends_on: date | None = Field(description="The last day of the notice window (公示期)")
    paid_on: date | None
    allowed_actions: list[AwardAction]
    created_at: datetime
    created_by: str
    updated_at: datetime


class AwardCalculation(CalculationOut):
    """The rules' calculation stored with an award: `POST /calculate`'s answer on the facts the registry (or, for
    M06, the published ranking) holds, with where they were read."""

    source: str = Field(
        description="Where the facts were read, e.g. `registry: GET /projects/42` or `ranking: GET /rankings/2025`"
    )
    facts_year: int | None = Field(description="The year of the facts read")
    facts: MeasureFacts = Field(description="The facts the rule read, as POST /calculate takes them")
    ranking_run_id: int | None = Field(default=None, description="M06: the published ranking run paid on")


class AwardDetail(AwardOut):
    calculation: AwardCalculation | None = Field(
        description="The rules' trace on the registry's facts; null for an award of another policy"
    )
    events: list[AwardEventOut] = Field(description="The award's history, oldest first")


class AwardPage(BaseModel):
    items: list[AwardOut]
    next_cursor: str | None


class SummaryGroup(BaseModel):
    measure_id: str | None = None
    year: int | None = None
    district_code: DistrictCode | None = None
    status: AwardStatus | None = None
    policy: str | None = None
    recipient_kind: RecipientKind | None = None
    recipient: str | None = None
    count: int
    amount_yuan: StoredYuan
    payable_yuan: StoredYuan


class SummaryTotals(BaseModel):
    count: int
    amount_yuan: StoredYuan
    payable_yuan: StoredYuan


class SummaryOut(BaseModel):
    group_by: list[AwardGroupKey]
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


class StandingAward(BaseModel):
    """The award that stands for a stacking key (就高不重复), as a refusal names it."""

    id: int
    measure_id: str
    policy: str
    amount_yuan: Yuan
    payable_yuan: Yuan
    status: AwardStatus


class AwardNotHigherProblem(Problem):
    """409 on a proposal: an award that is not higher than the one standing for the same key (就高不重复)."""

    type: Literal["/problems/award-not-higher"] = Field(description="This problem's type.")
    standing_award: StandingAward | None = Field(
        default=None, description="The award that stands (absent when another proposal won a race for the key)"
    )


# The problem types a body of this model carries (named, with member names for generated clients).
AwardProposalInvalidType = TypeAliasType(
    "AwardProposalInvalidType",
    Annotated[
        Literal["/problems/award-above-entitlement", "/problems/invalid-input"],
        Field(
            title="AwardProposalInvalidType",
            description="The type of a proposal's 422: above what the rules allow, or an invalid body",
            json_schema_extra={"x-enum-varnames": ["AWARD_ABOVE_ENTITLEMENT", "INVALID_INPUT"]},
        ),
    ],
)


class AwardAboveEntitlementProblem(Problem):
    """422 on a proposal: an amount above what the rules give on the registry's facts."""

    type: AwardProposalInvalidType = Field(
        description="`/problems/award-above-entitlement` (with `maximum_yuan` and `calculation`), or "
        "`/problems/invalid-input` for an invalid body (`errors` names each field)"
    )
    maximum_yuan: Yuan | None = Field(default=None, description="The most the rules allow (absent on other 422s)")
    calculation: AwardCalculation | None = Field(default=None, description="The rules' calculation behind it")


class AwardStepRefusedProblem(Problem):
    """409 on a transition: the action is not allowed from the award's status, or falls outside the notice window."""

    type: Literal["/problems/award-step-refused"] = Field(description="This problem's type.")
    award_id: int
    current_status: AwardStatus
    allowed_actions: list[AwardAction] | None = Field(
        default=None, description="The actions allowed today, when the action is not allowed from the status"
    )
    notice_ends_on: date | None = Field(
        default=None, description="The notice window's last day, when the step falls on the wrong side of it"
    )
