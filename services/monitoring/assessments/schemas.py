"""A year's assessment of the plan's targets: what each indicator reached, against the trajectory to its target."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema, model_validator

from services.monitoring.vocabulary import AssessmentStatus as Status
from services.monitoring.vocabulary import (
    IndicatorId,
    IndicatorUnit,
    SourceKind,
    TargetComparator,
    TargetId,
    TargetMeasure,
    deprecated_name_of,
    with_both_names,
)
from services.monitoring.vocabulary import ProvenanceOrigin as Origin
from shared.identifiers import SectorCode
from shared.money import Yuan


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# An exact figure in its indicator's unit (a count, yuan, a percentage …) as a JSON string, never a float.
Figure = Annotated[
    Decimal,
    PlainSerializer(_plain, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["60", "1100.5"]}),
]

STATUSES: tuple[Status, ...] = ("on_track", "at_risk", "behind", "met", "missed", "no_data", "no_baseline")


class Provenance(BaseModel):
    """Where a value comes from: an observation the city recorded (its source and revision) or the registry."""

    year: int
    origin: Origin
    source: str = Field(description="统计局, a department, … or `registry` for a computed figure")
    source_kind: SourceKind | None = Field(description="Who published a recorded value; null for the registry")
    recorded_by: str | None
    recorded_at: datetime | None
    revision: int | None = Field(description="The observation's revision (corrections add one); null: registry")


class SeriesPoint(BaseModel):
    year: int
    value: Figure


class TargetAssessment(BaseModel):
    target_id: TargetId
    indicator_id: IndicatorId
    indicator_name_zh: str
    sector: SectorCode | None = Field(description="One of the plan's 18 sectors; null for producer services as a whole")
    sector_name_zh: str | None
    unit: IndicatorUnit
    measure: TargetMeasure
    comparator: TargetComparator
    comparator_text: str = Field(description="The words of the text: 超过, 达到, 以上, 左右, 约, 下降至, 年均增长 …")
    approximate: bool = Field(description="约/左右: met within the approximate_tolerance parameter")
    target_value: Figure = Field(description="As the text states it (in percent for the growth measures)")
    target_value_max: Figure | None = Field(description="The upper end of a range target (2—3家)")
    target_year: int
    target_level: Figure | None = Field(
        description="The indicator's value that meets the target in the target year (baseline + increase, baseline "
        "compounded …); null without a baseline where the measure needs one"
    )
    baseline_year: int | None
    baseline_value: Figure | None
    baseline_source: str | None
    year: int = Field(description="The year assessed")
    value: Figure | None = Field(description="The indicator's value in the year")
    achieved: Figure | None = Field(
        description="The value in the target's own terms: the increase since the baseline, the yearly compound "
        "growth or the growth since the baseline in percent (6 places), else the value itself"
    )
    expected: Figure | None = Field(description="The trajectory's value for the year (6 places)")
    progress: Figure | None = Field(description="Share of the way from the baseline to the target level (6 places)")
    expected_progress: Figure | None = Field(description="The trajectory's share for the year (6 places)")
    status: Status
    forecast: Figure | None = Field(description="The value the observed trend gives for the target year")
    forecast_meets_target: bool | None
    forecast_method: str = Field(description="How the forecast was made, or why there is none")
    trajectory_method: str = Field(description="linear for levels, compound for 年均增长, decreasing for 下降至 …")
    observed: list[SeriesPoint] = Field(description="The indicator's values from the baseline year to the year")
    trajectory: list[SeriesPoint] = Field(description="The trajectory from the baseline year to the target year")
    provenance: list[Provenance]
    clause: str
    citation: str


class StatusCounts(BaseModel):
    """How many targets have each status."""

    on_track: int = 0
    at_risk: int = 0
    behind: int = 0
    met: int = 0
    missed: int = 0
    no_data: int = 0
    no_baseline: int = 0


class SectorSummary(BaseModel):
    sector: SectorCode | None = Field(description="Null for producer services as a whole")
    sector_name_zh: str
    target_count: int = Field(description="How many of the plan's targets are the sector's")
    targets: int = Field(description=deprecated_name_of("target_count"), json_schema_extra={"deprecated": True})
    statuses: StatusCounts = Field(description="How many of the sector's targets have each status")
    mean_progress: Figure | None = Field(description="Mean progress of the targets with one (6 places)")

    @model_validator(mode="before")
    @classmethod
    def _both_names(cls, data: object) -> object:
        return with_both_names(data, old="targets", new="target_count")


class AssessmentParameterValues(BaseModel):
    """The assessment parameters used (GET /plan describes each), by their names, as exact decimal strings."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    on_track_ratio: str = Field(alias="monitoring.on_track_ratio", examples=["1.00"])
    at_risk_ratio: str = Field(alias="monitoring.at_risk_ratio", examples=["0.80"])
    approximate_tolerance: str = Field(alias="monitoring.approximate_tolerance", examples=["0.05"])
    small_cell_minimum: str = Field(alias="monitoring.small_cell_minimum", examples=["3"])
    cluster_revenue_threshold_yuan: Yuan = Field(alias="monitoring.cluster_revenue_threshold_yuan")


class AssessmentReport(BaseModel):
    year: int
    generated_at: datetime
    input_hash: str = Field(description="SHA-256 of every input (observations, registry figures, parameters)")
    code_version: str
    parameters: AssessmentParameterValues = Field(description="The assessment parameters used, by name")
    targets: list[TargetAssessment]
    sectors: list[SectorSummary]
