from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema, field_validator

from services.eligibility.screenings.schemas import SubjectsRead, Year, check_district
from services.eligibility.screenings.subjects import RecipientKind
from shared.money import Yuan, format_yuan

# A difference of money: may be negative, still exact and written with two places.
SignedYuan = Annotated[
    Decimal,
    PlainSerializer(format_yuan, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d{1,16}\.\d{2}$", "examples": ["-500000.00"]}),
]


class SimulationIn(BaseModel):
    year: Year
    as_of: date
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Parameter name → value (a decimal string, or for a table an object of key → yuan string); "
        "each must lie within the policy's bounds",
    )
    district_code: str | None = None

    _district = field_validator("district_code")(check_district)


class Comparison(BaseModel):
    baseline_count: int
    baseline_amount_yuan: Yuan
    reform_count: int
    reform_amount_yuan: Yuan
    delta_amount_yuan: SignedYuan


class MeasureComparison(Comparison):
    measure_id: str


class DistrictComparison(Comparison):
    district_code: str


class ChangedSubject(BaseModel):
    measure_id: str
    subject_type: str
    subject_id: str
    subject_name: str
    district_code: str
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
    district_code: str | None
    overrides: dict[str, str | dict[str, str]] = Field(description="The overrides applied, as understood")
    parameters_changed: list[str]
    subjects_read: SubjectsRead
    evaluations: int
    total: Comparison
    by_measure: list[MeasureComparison]
    by_district: list[DistrictComparison]
    changed_subjects: list[ChangedSubject]
