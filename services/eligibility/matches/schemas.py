from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from services.eligibility.calculations.schemas import StepOut
from shared.money import Yuan


class MatchedAmount(BaseModel):
    measure_id: str
    clause: str
    title_zh: str
    title_en: str
    subject_type: str
    subject_id: str
    subject_name: str
    recipient: str = Field(description="Who receives the money: a credit code, or a district code")
    amount_yuan: Yuan
    lead_department_zh: str
    lead_department_en: str
    citation: str
    trace: list[StepOut]


class MatchedMeasure(BaseModel):
    measure_id: str
    clause: str
    title_zh: str
    title_en: str
    applies: Literal["applies", "may_apply"] = Field(
        description="`applies`: the registry shows the condition is met; `may_apply`: a condition to confirm"
    )
    basis: str
    lead_department_zh: str
    lead_department_en: str
    citation: str


class MatchesOut(BaseModel):
    uscc: str
    name: str
    district_code: str
    sector: str
    as_of: date
    year: int
    computable: list[MatchedAmount]
    total_amount_yuan: Yuan
    other_measures: list[MatchedMeasure]
