from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from services.eligibility.parameters.schemas import ParameterKey, ParameterValueIn, ParameterValueOut
from services.eligibility.screenings.schemas import SubjectsRead, Year
from services.eligibility.screenings.subjects import RecipientKind
from shared.identifiers import DistrictCode
from shared.money import Yuan, format_yuan
from shared.policy.catalogue import MeasureId, SubjectType

# A difference of money: may be negative, still exact and written with two places.
SignedYuan = Annotated[
    Decimal,
    PlainSerializer(format_yuan, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d{1,16}\.\d{2}$", "examples": ["-500000.00"]}),
]


class SimulationIn(BaseModel):
    year: Year
    as_of: date
    overrides: dict[ParameterKey, ParameterValueIn] = Field(
        default_factory=dict,
        description="Parameter name → value (a decimal string, or for a table an object of key → yuan string); "
        "each must lie within the policy's bounds",
        examples=[{"m13.ratio": "0.20", "m06.award_by_rank_yuan": {"1": "4000000.00"}}],
    )
    district_code: DistrictCode | None = Field(default=None, description="One district only (a district key: its own)")


class SimulationComparison(BaseModel):
    baseline_count: int
    baseline_amount_yuan: Yuan
    reform_count: int
    reform_amount_yuan: Yuan
    delta_amount_yuan: SignedYuan


class MeasureComparison(SimulationComparison):
    measure_id: MeasureId


class DistrictComparison(SimulationComparison):
    district_code: DistrictCode


class ChangedSubject(BaseModel):
    measure_id: MeasureId
    subject_type: SubjectType
    subject_id: str
    subject_name: str
    district_code: DistrictCode
    recipient_kind: RecipientKind
    recipient: str = Field(description="Who receives the money, per recipient_kind")
    baseline_eligible: bool
    baseline_amount_yuan: Yuan
    reform_eligible: bool
    reform_amount_yuan: Yuan
    delta_amount_yuan: SignedYuan


class SimulationOut(BaseModel):
    year: int
    as_of: date
    district_code: DistrictCode | None
    overrides: dict[ParameterKey, ParameterValueOut] = Field(description="The overrides applied, as understood")
    parameters_changed: list[ParameterKey]
    subjects_read: SubjectsRead
    evaluations: int
    total: SimulationComparison
    by_measure: list[MeasureComparison]
    by_district: list[DistrictComparison]
    changed_subjects: list[ChangedSubject]
