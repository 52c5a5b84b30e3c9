from pydantic import BaseModel, Field

from services.monitoring.assessments.schemas import Figure
from shared.policy.targets import Comparator, ComputedFrom, Measure, Unit


class BaselineOut(BaseModel):
    year: int
    value: Figure
    source: str


class TargetOut(BaseModel):
    id: str
    indicator: str
    sector: str | None
    measure: Measure
    comparator: Comparator
    comparator_text: str = Field(description="The text's words, … where the figure stands (达…以上, 年均增长…左右)")
    approximate: bool
    target_value: Figure
    target_value_max: Figure | None
    target_year: int
    baseline: BaselineOut | None = Field(description="Only where the text states one; else the baseline year's value")
    clause: str
    quote: str
    citation: str


class TargetList(BaseModel):
    items: list[TargetOut]
    count: int


class IndicatorOut(BaseModel):
    id: str
    name_zh: str
    name_en: str
    sector: str | None
    unit: Unit
    computed_from: ComputedFrom | None = Field(description="The registry figure it is computed from; null: recorded")
    lead_departments: list[str]
    targets: list[str] = Field(description="The targets set on it")


class IndicatorList(BaseModel):
    items: list[IndicatorOut]
    count: int


class ParameterOut(BaseModel):
    name: str
    value: Figure
    unit: str
    description_zh: str
    description_en: str
    min: Figure
    max: Figure
    citation: str


class PlanOut(BaseModel):
    document: str
    first_year: int
    last_year: int
    baseline_year: int
    parameters: list[ParameterOut]
