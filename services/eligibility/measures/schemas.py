from datetime import date

from pydantic import BaseModel, Field


class MeasureParameter(BaseModel):
    name: str
    unit: str
    value: str | dict[str, str] = Field(description="The value in force on `as_of`")
    citation: str


class MeasureOut(BaseModel):
    id: str
    clause: str
    title_zh: str
    title_en: str
    computable: bool
    recipient: str
    subject_type: str | None
    frequency: str = Field(description="`one_off`, `yearly`, `per_event`, or `not_monetary`")
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
