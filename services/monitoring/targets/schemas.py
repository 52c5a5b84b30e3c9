from pydantic import BaseModel, Field

from services.monitoring.assessments.schemas import Figure
from services.monitoring.vocabulary import (
    AssessmentParameterName,
    IndicatorId,
    IndicatorUnit,
    RegistryFigure,
    TargetComparator,
    TargetId,
    TargetMeasure,
    deprecated_name_of,
)
from shared.identifiers import SectorCode


class BaselineOut(BaseModel):
    year: int
    value: Figure
    source: str


class TargetOut(BaseModel):
    id: TargetId
    indicator_id: IndicatorId = Field(description="The indicator the target is set on")
    indicator: IndicatorId = Field(
        description=deprecated_name_of("indicator_id"), json_schema_extra={"deprecated": True}
    )
    sector: SectorCode | None = Field(description="Null for producer services as a whole")
    measure: TargetMeasure
    comparator: TargetComparator
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
    id: IndicatorId
    name_zh: str
    name_en: str
    sector: SectorCode | None = Field(description="Null for producer services as a whole")
    unit: IndicatorUnit
    computed_from: RegistryFigure | None = Field(description="The registry figure it is computed from; null: recorded")
    lead_departments: list[str]
    target_ids: list[TargetId] = Field(description="The targets set on it")
    targets: list[TargetId] = Field(
        description=deprecated_name_of("target_ids"), json_schema_extra={"deprecated": True}
    )


class IndicatorList(BaseModel):
    items: list[IndicatorOut]
    count: int


class PlanParameter(BaseModel):
    """An assessment parameter of the plan, with its bounds and where the text sets it."""

    name: AssessmentParameterName
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
    parameters: list[PlanParameter]
