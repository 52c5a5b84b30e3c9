from datetime import date
from typing import Literal

from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType

from services.eligibility.awards.schemas import AwardStatus
from services.eligibility.calculations.schemas import TraceStep
from services.eligibility.screenings.subjects import RecipientKind
from shared.identifiers import DistrictCode, SectorCode
from shared.money import Yuan
from shared.policy.catalogue import MeasureId, SubjectType

# `applies`: the registry shows the condition is met; `may_apply`: a condition to confirm.
MatchApplicability = TypeAliasType("MatchApplicability", Literal["applies", "may_apply"])


class LedgerHolding(BaseModel):
    """What the award ledger already holds for the same subject and recipient (就高不重复)."""

    award_id: int
    policy: str
    measure_id: str = Field(description="The award's measure, under its policy")
    status: AwardStatus
    amount_yuan: Yuan


class MatchedAmount(BaseModel):
    measure_id: MeasureId
    clause: str
    title_zh: str
    title_en: str
    subject_type: SubjectType
    subject_id: str
    subject_name: str
    year: int = Field(description="The year the facts are of")
    recipient_kind: RecipientKind = Field(
        description="`enterprise`: the money is the enterprise's; `district` or `city_department`: it goes to that "
        "body (e.g. M07a's reward goes to the enterprise's district, not to the enterprise)"
    )
    recipient: str = Field(description="Who receives the money, per recipient_kind")
    amount_yuan: Yuan = Field(description="What the rules give on the registry's verified facts")
    held: LedgerHolding | None = Field(description="The standing award the ledger holds for this subject, if any")
    open_yuan: Yuan = Field(description="What is still open: the amount above the standing award (0.00 if covered)")
    lead_department_zh: str
    lead_department_en: str
    citation: str
    trace: list[TraceStep]


class MatchedMeasure(BaseModel):
    measure_id: MeasureId
    clause: str
    title_zh: str
    title_en: str
    applies: MatchApplicability = Field(
        description="`applies`: the registry shows the condition is met; `may_apply`: a condition to confirm"
    )
    basis: str
    lead_department_zh: str
    lead_department_en: str
    citation: str


class MatchesOut(BaseModel):
    uscc: str
    name: str
    district_code: DistrictCode
    sector: SectorCode
    as_of: date
    year: int
    policy_in_force: bool = Field(description="Whether the policy is in force on as_of and rewards the year")
    not_applicable_reason: str | None = Field(description="Why nothing applies, when the policy does not")
    computable: list[MatchedAmount]
    total_amount_yuan: Yuan = Field(description="Open amounts the enterprise itself may still receive")
    amount_to_others_yuan: Yuan = Field(description="Open amounts that go to its district or another body")
    other_measures: list[MatchedMeasure]
