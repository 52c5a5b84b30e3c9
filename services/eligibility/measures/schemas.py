from datetime import date

from pydantic import BaseModel, Field

from services.eligibility.parameters.schemas import ParameterKey, ParameterValueOut
from shared.policy.catalogue import MeasureFrequency, MeasureId, MeasureRecipient, SubjectType


class MeasureParameter(BaseModel):
    name: ParameterKey
    unit: str
    value: ParameterValueOut = Field(description="The value in force on `as_of`")
    citation: str


class MeasureOut(BaseModel):
    id: MeasureId
    clause: str
    title_zh: str
    title_en: str
    computable: bool
    recipient: MeasureRecipient
    subject_type: SubjectType | None
    frequency: MeasureFrequency = Field(description="`one_off`, `yearly`, `per_event`, or `not_monetary`")
    lead_department_zh: str
    lead_department_en: str
    summary_en: str
    citation: str
    effective_from: date
    effective_to: date
    facts: list[str] = Field(description="For a computable measure: the facts POST /calculate takes")
    parameters: list[MeasureParameter]


class MeasuresOut(BaseModel):
    as_of: date
    document: str
    items: list[MeasureOut]
