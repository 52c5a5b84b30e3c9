"""The 2027 targets of 渝府发〔2024〕18号 as data (monitoring/targets.json): indicators, targets, assessment parameters.

Every sentence of the plan with 到2027年 and a number was read by a person and written as records, one per target
number, each quoting its clause; nothing parses the text at run time. An indicator is what is observed year by year
(a stock, a flow or a revenue), a target says what the indicator must do by the target year:
`level` its value in the year; `increase` its value minus its value in the baseline year (新增/培育 N);
`annual_growth` compound yearly growth in percent from the baseline year (年均增长); `growth_since_baseline` percent
growth over the baseline year the text states (较2023年增长); `per_year` a yearly flow (每年…达到).
The assessment's thresholds are not in the text; they are parameters here, each with its bounds and a citation.
"""

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, StringConstraints, model_validator

from shared.policy import POLICY_DIR
from shared.policy.parameters import read_policy_file
from shared.policy.references import ACTION_PLAN_DOCUMENT, Reference
from shared.reference import SECTOR_CODES

TARGETS_FILE = POLICY_DIR / "monitoring" / "targets.json"

Measure = Literal["level", "increase", "annual_growth", "growth_since_baseline", "per_year"]
Comparator = Literal["exceeds", "reaches", "at_least", "down_to", "range"]
Unit = Literal["percent", "count", "yuan", "persons", "person_times", "events"]
ComputedFrom = Literal[
    "registry.above_scale_count",
    "registry.revenue_yuan",
    "registry.employees",
    "registry.new_above_scale_since_baseline",
    "registry.clusters_reaching_10bn",
    "registry.leading_enterprises",
]
COMPUTED: frozenset[str] = frozenset(get_args(ComputedFrom))
# The unit each registry figure is in: an indicator computed from it must be in the same unit.
COMPUTED_UNITS: dict[str, Unit] = {
    "registry.above_scale_count": "count",
    "registry.revenue_yuan": "yuan",
    "registry.employees": "persons",
    "registry.new_above_scale_since_baseline": "count",
    "registry.clusters_reaching_10bn": "count",
    "registry.leading_enterprises": "count",
}
# Growth targets are percentages whatever the indicator's unit.
GROWTH_MEASURES: frozenset[str] = frozenset({"annual_growth", "growth_since_baseline"})
# Units counted in whole things: a target or a baseline in them is a whole number.
WHOLE_UNITS: frozenset[str] = frozenset({"count", "persons", "person_times", "events"})
# The indicators whose value counts from the baseline year on (0 in it by definition): the registry's new
# above-size enterprises are those above size in the year and not in the baseline year.
COUNTED_FROM_BASELINE: frozenset[str] = frozenset({"registry.new_above_scale_since_baseline"})
HEADLINE_PREFIX = "producer_services"

ParameterName = Literal[
    "monitoring.on_track_ratio",
    "monitoring.at_risk_ratio",
    "monitoring.approximate_tolerance",
    "monitoring.small_cell_minimum",
    "monitoring.cluster_revenue_threshold_yuan",
]
PARAMETER_NAMES: tuple[str, ...] = get_args(ParameterName)


def _decimal_string(value: Any) -> Any:
    # Written as strings so that no figure passes through a float; NaN and infinities are no figures.
    if not isinstance(value, str):
        raise ValueError('a figure is written as a string, e.g. "6400"')
    try:
        number = Decimal(value)
    except ArithmeticError as error:  # decimal.InvalidOperation
        raise ValueError(f"{value!r} is not a number") from error
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number


Figure = Annotated[Decimal, BeforeValidator(_decimal_string)]
Year = Annotated[int, Field(ge=2000, le=2100)]
IndicatorId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*\.[a-z0-9_]+$", max_length=80)]
TargetId = Annotated[str, StringConstraints(pattern=r"^T[0-9]{2}$")]
Text = Annotated[str, StringConstraints(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _of_the_plan(reference: Reference, where: str) -> None:
    if reference.document != ACTION_PLAN_DOCUMENT:
        raise ValueError(f"{where}: the reference is to {reference.document}, not {ACTION_PLAN_DOCUMENT}")


class ParameterBounds(_Strict):
    min: Figure
    max: Figure


class AssessmentParameter(_Strict):
    """One threshold of the assessment, with the bounds its value must keep and the clause it serves."""

    name: ParameterName
    value: Figure
    unit: Text
    description_zh: Text
    description_en: Text
    bounds: ParameterBounds
    reference: Reference

    @model_validator(mode="after")
    def _within_bounds(self) -> "AssessmentParameter":
        _of_the_plan(self.reference, self.name)
        if not self.bounds.min <= self.value <= self.bounds.max:
            raise ValueError(f"{self.name}: {self.value} is outside its bounds {self.bounds.min}–{self.bounds.max}")
        return self

    @property
    def citation(self) -> str:
        return self.reference.citation


@dataclass(frozen=True, slots=True)
class AssessmentParameters:
    """The parameters' values, typed: what the assessment and the map read."""

    on_track_ratio: Decimal
    at_risk_ratio: Decimal
    approximate_tolerance: Decimal
    small_cell_minimum: int
    cluster_revenue_threshold_yuan: Decimal


class Baseline(_Strict):
    """A baseline the text states (year and value); its source names where the figure comes from."""

    year: Year
    value: Figure
    source: Text


class Indicator(_Strict):
    id: IndicatorId
    name_zh: Text
    name_en: Text
    # One of the 18 sectors (the plan's items （一）…（十八） in order), or None for producer services as a whole.
    sector: str | None
    unit: Unit
    # The registry figure the indicator is computed from; None: observed (recorded by the city with its source).
    computed_from: ComputedFrom | None
    # The departments named after the target's sentence (…等按职责分工负责), in the text's order.
    lead_departments: tuple[Text, ...]

    @model_validator(mode="after")
    def _consistent(self) -> "Indicator":
        if self.sector is not None and self.sector not in SECTOR_CODES:
            raise ValueError(f"{self.id}: {self.sector!r} is not one of the 18 sectors")
        prefix = self.sector or HEADLINE_PREFIX
        if not self.id.startswith(f"{prefix}."):
            raise ValueError(f"{self.id}: the id of an indicator of {prefix} starts with {prefix + '.'!r}")
        if self.computed_from is not None and COMPUTED_UNITS[self.computed_from] != self.unit:
            expected = COMPUTED_UNITS[self.computed_from]
            raise ValueError(f"{self.id}: {self.computed_from} is in {expected}, not {self.unit}")
        if len(set(self.lead_departments)) != len(self.lead_departments):
            raise ValueError(f"{self.id}: a lead department is named twice")
        return self

    @property
    def counted_from_baseline(self) -> bool:
        """True when the indicator's value in the baseline year is 0 by definition (it counts from it on)."""
        return self.computed_from in COUNTED_FROM_BASELINE


class Target(_Strict):
    id: TargetId
    indicator: IndicatorId
    measure: Measure
    comparator: Comparator
    # The text's own words, "…" where the figure stands (e.g. "达…以上", "年均增长…左右").
    comparator_text: Text
    approximate: bool
    # In the indicator's unit, or in percent for the growth measures.
    target_value: Figure
    target_value_max: Figure | None
    target_year: Year
    baseline: Baseline | None
    reference: Reference
    _indicator: Indicator | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> "Target":
        _of_the_plan(self.reference, self.id)
        approximate_words = "约" in self.comparator_text or "左右" in self.comparator_text
        if self.approximate != approximate_words:
            raise ValueError(f"{self.id}: approximate is {self.approximate} but the words are {self.comparator_text!r}")
        if (self.comparator == "range") != (self.target_value_max is not None):
            raise ValueError(f"{self.id}: a range target, and only one, has a target_value_max")
        if self.target_value_max is not None and self.target_value_max <= self.target_value:
            raise ValueError(f"{self.id}: target_value_max {self.target_value_max} is not above {self.target_value}")
        if self.target_value < 0:
            raise ValueError(f"{self.id}: a target is not negative")
        if self.comparator == "down_to" and self.measure != "level":
            raise ValueError(f"{self.id}: 下降至 is said of a level")
        if self.baseline is not None and self.baseline.year >= self.target_year:
            raise ValueError(f"{self.id}: the baseline year {self.baseline.year} is not before {self.target_year}")
        return self

    @property
    def value(self) -> Decimal:
        return self.target_value

    @property
    def value_max(self) -> Decimal | None:
        return self.target_value_max

    @property
    def indicator_record(self) -> Indicator:
        if self._indicator is None:  # only a Target read outside a PlanTargets has none
            raise LookupError(f"{self.id} was not read with its indicators")
        return self._indicator

    @property
    def sector(self) -> str | None:
        return self.indicator_record.sector

    @property
    def value_unit(self) -> Unit:
        """The unit of target_value: percent for the growth measures, the indicator's otherwise."""
        return "percent" if self.measure in GROWTH_MEASURES else self.indicator_record.unit

    @property
    def citation(self) -> str:
        return self.reference.citation


class PlanPeriod(_Strict):
    first_year: Year
    last_year: Year


class TargetsFile(_Strict):
    """monitoring/targets.json as written."""

    document: Literal["渝府发〔2024〕18号"]
    plan_period: PlanPeriod
    baseline_year: Year
    assessment_parameters: tuple[AssessmentParameter, ...]
    indicators: tuple[Indicator, ...] = Field(min_length=1)
    targets: tuple[Target, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "TargetsFile":
        period = self.plan_period
        if not self.baseline_year < period.first_year <= period.last_year:
            raise ValueError(
                f"the baseline year {self.baseline_year} comes before the plan period "
                f"{period.first_year}–{period.last_year}, which runs forward"
            )
        self._check_parameters()
        indicators = {indicator.id: indicator for indicator in self.indicators}
        for label, ids in (
            ("indicator", [i.id for i in self.indicators]),
            ("target", [t.id for t in self.targets]),
            ("indicator and measure", [f"{t.indicator} {t.measure}" for t in self.targets]),
        ):
            twice = sorted({item for item in ids if ids.count(item) > 1})
            if twice:
                raise ValueError(f"{label} {', '.join(twice)} appears more than once")
        for target in self.targets:
            indicator = indicators.get(target.indicator)
            if indicator is None:
                raise ValueError(f"{target.id}: there is no indicator {target.indicator!r}")
            self._check_target(target, indicator)
            target._indicator = indicator
        unused = sorted(set(indicators) - {t.indicator for t in self.targets})
        if unused:
            raise ValueError(f"indicators {', '.join(unused)} have no target")
        return self

    def _check_parameters(self) -> None:
        names = [p.name for p in self.assessment_parameters]
        if sorted(names) != sorted(PARAMETER_NAMES):
            raise ValueError(f"the assessment parameters are {', '.join(PARAMETER_NAMES)}, each once; not {names}")
        by_name = {p.name: p for p in self.assessment_parameters}
        if by_name["monitoring.at_risk_ratio"].value > by_name["monitoring.on_track_ratio"].value:
            raise ValueError("monitoring.at_risk_ratio is above monitoring.on_track_ratio")
        cells = by_name["monitoring.small_cell_minimum"]
        if cells.value != cells.value.to_integral_value():
            raise ValueError(f"monitoring.small_cell_minimum {cells.value} is not a whole number of enterprises")
        threshold = by_name["monitoring.cluster_revenue_threshold_yuan"]
        if not threshold.bounds.min == threshold.bounds.max == threshold.value:
            raise ValueError(
                "monitoring.cluster_revenue_threshold_yuan is fixed by the text (百亿级): min = max = value"
            )

    def _check_target(self, target: Target, indicator: Indicator) -> None:
        period = self.plan_period
        if not period.first_year <= target.target_year <= period.last_year:
            raise ValueError(f"{target.id}: target year {target.target_year} is outside the plan period")
        unit = "percent" if target.measure in GROWTH_MEASURES else indicator.unit
        figures = [(unit, target.target_value), (unit, target.target_value_max)]
        if target.baseline is not None:  # a baseline is a value of the indicator, in its unit
            figures.append((indicator.unit, target.baseline.value))
        for in_unit, figure in figures:
            if in_unit in WHOLE_UNITS and figure is not None and figure != figure.to_integral_value():
                raise ValueError(f"{target.id}: a figure in {in_unit} is a whole number")
        growth_over = target.baseline.year if target.baseline is not None else self.baseline_year
        if target.measure == "growth_since_baseline" and growth_over != self.baseline_year:
            raise ValueError(f"{target.id}: the growth is over {self.baseline_year}, the baseline says otherwise")
        if target.measure == "growth_since_baseline" and f"较{self.baseline_year}年" not in target.reference.quote:
            raise ValueError(f"{target.id}: the quote does not state the growth over 较{self.baseline_year}年")


@dataclass(frozen=True, slots=True)
class PlanTargets:
    """What the monitoring service reads: the plan's period, the parameters, the indicators and their targets."""

    document: str
    first_year: int
    last_year: int
    baseline_year: int
    parameters: AssessmentParameters
    parameter_records: tuple[AssessmentParameter, ...]
    indicators: tuple[Indicator, ...]
    targets: tuple[Target, ...]

    def indicator(self, indicator_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise KeyError(f"no indicator {indicator_id!r} among the plan's targets")

    def targets_of(self, indicator_id: str) -> tuple[Target, ...]:
        """The targets of one indicator, in the file's order; KeyError for an unknown indicator."""
        self.indicator(indicator_id)
        return tuple(target for target in self.targets if target.indicator == indicator_id)

    def target(self, target_id: str) -> Target:
        for target in self.targets:
            if target.id == target_id:
                return target
        raise KeyError(f"no target {target_id!r} among the plan's targets")


def _plan(file: TargetsFile) -> PlanTargets:
    values = {p.name: p.value for p in file.assessment_parameters}
    return PlanTargets(
        document=file.document,
        first_year=file.plan_period.first_year,
        last_year=file.plan_period.last_year,
        baseline_year=file.baseline_year,
        parameters=AssessmentParameters(
            on_track_ratio=values["monitoring.on_track_ratio"],
            at_risk_ratio=values["monitoring.at_risk_ratio"],
            approximate_tolerance=values["monitoring.approximate_tolerance"],
            small_cell_minimum=int(values["monitoring.small_cell_minimum"]),
            cluster_revenue_threshold_yuan=values["monitoring.cluster_revenue_threshold_yuan"],
        ),
        parameter_records=file.assessment_parameters,
        indicators=file.indicators,
        targets=file.targets,
    )


def read_plan_targets(path: Path = TARGETS_FILE) -> PlanTargets:
    """`path` read (no key twice, no key unknown) and checked; PolicyFileError names the file and the fault."""
    return _plan(read_policy_file(path, TargetsFile))


@cache
def plan_targets() -> PlanTargets:
    """The data file as shipped: read once per process."""
    return read_plan_targets()
