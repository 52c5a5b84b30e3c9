"""A year's assessment of the plan's targets: what each indicator reached, against the trajectory to its target."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from shared.policy.targets import Comparator, Measure, Unit


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# An exact figure in its indicator's unit (a count, yuan, a percentage …) as a JSON string, never a float.
Figure = Annotated[
    Decimal,
    PlainSerializer(_plain, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["60", "1100.5"]}),
]

# on_track / at_risk / behind: before the target year, progress against the trajectory's; met / missed: in the
# target year; no_data: no value for the year; no_baseline: a value, but nothing to measure progress from.
Status = Literal["on_track", "at_risk", "behind", "met", "missed", "no_data", "no_baseline"]
STATUSES: tuple[Status, ...] = ("on_track", "at_risk", "behind", "met", "missed", "no_data", "no_baseline")
Origin = Literal["observation", "registry"]


class Provenance(BaseModel):
    """Where a value comes from: an observation the city recorded (its source and revision) or the registry."""

    year: int
    origin: Origin
    source: str = Field(description="统计局, a department, … or `registry` for a computed figure")
    source_kind: str | None = Field(description="statistics_bureau / department / other; null for the registry")
    recorded_by: str | None
    recorded_at: datetime | None
    revision: int | None = Field(description="The observation's revision (corrections add one); null: registry")


class SeriesPoint(BaseModel):
    year: int
    value: Figure


class TargetAssessment(BaseModel):
    target_id: str
    indicator_id: str
    indicator_name_zh: str
    sector: str | None = Field(description="One of the plan's 18 sectors; null for producer services as a whole")
    sector_name_zh: str | None
    unit: Unit
    measure: Measure
    comparator: Comparator
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


class SectorSummary(BaseModel):
    sector: str | None
    sector_name_zh: str
    targets: int
    statuses: dict[Status, int] = Field(description="How many of the sector's targets have each status")
    mean_progress: Figure | None = Field(description="Mean progress of the targets with one (6 places)")


class AssessmentReport(BaseModel):
    year: int
    generated_at: datetime
    input_hash: str = Field(description="SHA-256 of every input (observations, registry figures, parameters)")
    code_version: str
    parameters: dict[str, str] = Field(description="The assessment parameters used, by name")
    targets: list[TargetAssessment]
    sectors: list[SectorSummary]
