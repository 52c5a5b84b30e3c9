"""The arithmetic of an assessment, pure: a target, its indicator's values by year, the parameters → the assessment.

Every target is judged in the indicator's own terms. Its *target level* is the value the indicator must reach in
the target year: the stated value (level, per_year), the baseline plus the increase (新增 N), the baseline grown by
the percentage (较2023年增长 N%) or compounded yearly (年均增长 N%). The trajectory runs from the baseline to that
level: compound for 年均增长, a straight line otherwise (falling for 下降至); a per-year flow is the target in every
year. Progress is the share of the way from the baseline to the target level; before the target year a target is
on track when its progress is at least on_track_ratio of the trajectory's, at risk down to at_risk_ratio, and behind
below; in the target year it is met or missed by the comparator the text uses (约/左右 within
approximate_tolerance; along the way the trajectory runs to the stated figure itself). All in Decimal: figures
are exact, ratios six places half-up.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

from services.monitoring.assessments.schemas import (
    STATUSES,
    Provenance,
    SectorSummary,
    SeriesPoint,
    StatusCounts,
    TargetAssessment,
)
from services.monitoring.vocabulary import AssessmentStatus as Status
from shared.policy.targets import AssessmentParameters, Indicator, Target
from shared.reference import SECTORS

SIX_PLACES = Decimal("0.000001")
# Digits the arithmetic carries: a figure of up to 10^18 with six places, compounded, divided and raised to
# fractional powers, stays exact to the sixth place well inside this.
PRECISION = 60
# A forecast beyond what any indicator can hold (the observations' numeric(24, 6)) is no forecast.
FIGURE_LIMIT = Decimal("1e18")
HUNDRED = Decimal(100)
WHOLE_CITY_ZH = "全市生产性服务业"
_SECTOR_NAMES = {sector.code: sector.name_zh for sector in SECTORS}


def six(value: Decimal) -> Decimal:
    return value.quantize(SIX_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Point:
    """An indicator's value in a year and where it comes from."""

    year: int
    value: Decimal
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class _Baseline:
    year: int
    value: Decimal | None
    source: str | None


def _baseline(target: Target, default_year: int, series: Mapping[int, Point]) -> _Baseline:
    """The text's own baseline where it states one, else the indicator's value in the plan's baseline year."""
    if target.baseline is not None:
        return _Baseline(target.baseline.year, target.baseline.value, target.baseline.source)
    point = series.get(default_year)
    if point is None:
        return _Baseline(default_year, None, None)
    return _Baseline(default_year, point.value, point.provenance.source)


def _growth_factor(percent: Decimal) -> Decimal:
    return 1 + percent / HUNDRED


def target_level(target: Target, baseline: Decimal | None) -> Decimal | None:
    """The indicator's value that meets the target (for a range, its lower end)."""
    match target.measure:
        case "level" | "per_year":
            return target.target_value
        case "increase":
            return None if baseline is None else baseline + target.target_value
        case "growth_since_baseline":
            return None if baseline is None else six(baseline * _growth_factor(target.target_value))
        case "annual_growth":
            return None
    raise AssertionError(target.measure)


def _compound(baseline: Decimal, percent: Decimal, years: int) -> Decimal:
    return six(baseline * _growth_factor(percent) ** years)


def already_met(target: Target, baseline: _Baseline, tolerance: Decimal) -> bool:
    """A level the baseline already meets (市级工业设计中心250家以上 from 260): it is to be held, not reached."""
    return target.measure == "level" and baseline.value is not None and meets(target, baseline.value, tolerance)


def trajectory(
    target: Target, baseline: _Baseline, first_year: int, tolerance: Decimal
) -> tuple[list[SeriesPoint], str]:
    """The values the target implies year by year, and how they were drawn."""
    end = target.target_year
    if already_met(target, baseline, tolerance):
        points = [SeriesPoint(year=year, value=target.target_value) for year in range(baseline.year, end + 1)]
        return points, "flat: the baseline already meets the target, which is to be held every year"
    if target.measure == "per_year":
        points = [SeriesPoint(year=year, value=target.target_value) for year in range(first_year, end + 1)]
        return points, "flat: the per-year figure in every year of the plan"
    if baseline.value is None:
        return [], "none: no baseline value"
    start, span = baseline.value, end - baseline.year
    if target.measure == "annual_growth":
        points = [
            SeriesPoint(year=year, value=_compound(start, target.target_value, year - baseline.year))
            for year in range(baseline.year, end + 1)
        ]
        return points, f"compound: the baseline grown {target.target_value}% a year"
    level = target_level(target, start)
    assert level is not None  # the baseline is known
    points = [
        SeriesPoint(year=year, value=six(start + (level - start) * (year - baseline.year) / span))
        for year in range(baseline.year, end + 1)
    ]
    shape = "decreasing" if level < start else "linear"
    return points, f"{shape}: a straight line from the baseline to the target level"


def achieved(target: Target, value: Decimal, baseline: _Baseline, year: int) -> Decimal | None:
    """The value in the target's own terms."""
    match target.measure:
        case "level" | "per_year":
            return value
        case "increase":
            return None if baseline.value is None else value - baseline.value
        case "growth_since_baseline":
            if not baseline.value:
                return None
            return six((value / baseline.value - 1) * HUNDRED)
        case "annual_growth":
            if not baseline.value or year <= baseline.year or value < 0:
                return None
            rate = (value / baseline.value) ** (Decimal(1) / (year - baseline.year)) - 1
            return six(rate * HUNDRED)
    raise AssertionError(target.measure)


def meets(target: Target, figure: Decimal, tolerance: Decimal) -> bool:
    """Whether a figure in the target's own terms meets it as the text words it (约/左右 within the tolerance)."""
    slack = tolerance if target.approximate else Decimal(0)
    low = target.target_value * (1 - slack)
    match target.comparator:
        case "exceeds":
            return figure >= low if target.approximate else figure > target.target_value
        case "reaches" | "at_least":
            return figure >= low
        case "down_to":
            return figure <= target.target_value * (1 + slack)
        case "range":
            high = (target.target_value_max if target.target_value_max is not None else target.target_value) * (
                1 + slack
            )
            return low <= figure <= high
    raise AssertionError(target.comparator)


def _least_squares(points: Sequence[tuple[int, Decimal]]) -> tuple[Decimal, Decimal]:
    """Intercept and slope of the least-squares line through (year, value)."""
    n = Decimal(len(points))
    sx = sum(Decimal(x) for x, _ in points)
    sy = sum(y for _, y in points)
    sxx = sum(Decimal(x) * x for x, _ in points)
    sxy = sum(Decimal(x) * y for x, y in points)
    slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    return (sy - slope * sx) / n, slope


def forecast(target: Target, unit: str, observed: Sequence[Point]) -> tuple[Decimal | None, str]:
    """The target year's value on the observed trend: a least-squares line, or for 年均增长 a least-squares line
    through the logarithms (constant yearly growth). Two values at least."""
    if len(observed) < 2:
        return None, "none: fewer than two observed values"
    first, last, count = observed[0].year, observed[-1].year, len(observed)
    span = f"the {count} values of {first}–{last}"
    if target.measure == "annual_growth":
        if any(point.value <= 0 for point in observed):
            return None, "none: a compound trend needs positive values"
        logs = [(point.year, point.value.ln()) for point in observed]
        intercept, slope = _least_squares(logs)
        exponent = intercept + slope * target.target_year
        if exponent >= FIGURE_LIMIT.ln():
            return None, "none: the trend runs beyond any figure the indicator can hold"
        rate = six((slope.exp() - 1) * HUNDRED)
        method = f"compound trend (least squares on logarithms) through {span}: {rate}% a year"
        return _bounded(exponent.exp(), method, unit)
    intercept, slope = _least_squares([(point.year, point.value) for point in observed])
    return _bounded(intercept + slope * target.target_year, f"linear trend (least squares) through {span}", unit)


def _bounded(value: Decimal, method: str, unit: str) -> tuple[Decimal | None, str]:
    """The trend's value, held within what the indicator can be: not below 0, a share not above 100."""
    if abs(value) >= FIGURE_LIMIT:
        return None, "none: the trend runs beyond any figure the indicator can hold"
    if value < 0:
        return Decimal(0), f"{method}, held at 0 (the trend runs below it)"
    if unit == "percent" and value > HUNDRED:
        return HUNDRED, f"{method}, held at 100 (a share)"
    return six(value), method


def _status(
    target: Target,
    year: int,
    figure: Decimal | None,
    value: Decimal,
    expected: Decimal | None,
    progress: Decimal | None,
    expected_progress: Decimal | None,
    level: Decimal | None,
    parameters: AssessmentParameters,
    held: bool,
) -> Status:
    if figure is not None and meets(target, figure, parameters.approximate_tolerance):
        # Already where the target asks: nothing is behind.
        return "met" if year >= target.target_year else "on_track"
    if held:
        return "missed" if year >= target.target_year else "behind"
    if year >= target.target_year or target.measure == "per_year":
        if figure is None:
            return "no_baseline"
        if year >= target.target_year:
            return "missed"
        near = figure >= target.target_value * parameters.at_risk_ratio
        return "at_risk" if near else "behind"
    if progress is None or expected_progress is None or expected is None or level is None:
        return "no_baseline"
    if expected_progress <= 0:
        return "on_track" if progress >= 0 else "behind"
    ratio = progress / expected_progress
    if ratio >= parameters.on_track_ratio:
        return "on_track"
    return "at_risk" if ratio >= parameters.at_risk_ratio else "behind"


def assess(
    target: Target,
    indicator: Indicator,
    *,
    year: int,
    baseline_year: int,
    first_year: int,
    series: Mapping[int, Point],
    parameters: AssessmentParameters,
) -> TargetAssessment:
    """One target in `year`, from its indicator's values (`series`: by year, any years)."""
    with localcontext() as context:
        context.prec = PRECISION
        return _assess(target, indicator, year, baseline_year, first_year, series, parameters)


def _assess(
    target: Target,
    indicator: Indicator,
    year: int,
    baseline_year: int,
    first_year: int,
    series: Mapping[int, Point],
    parameters: AssessmentParameters,
) -> TargetAssessment:
    base = _baseline(target, baseline_year, series)
    tolerance = parameters.approximate_tolerance
    held = already_met(target, base, tolerance)
    path, path_method = trajectory(target, base, first_year, tolerance)
    expected_by_year = {point.year: point.value for point in path}
    level = path[-1].value if target.measure == "annual_growth" and path else target_level(target, base.value)
    observed = [series[y] for y in sorted(series) if base.year <= y <= year]
    point = series.get(year)
    value = None if point is None else point.value
    figure = progress = expected_progress = None
    expected = expected_by_year.get(year)
    status: Status = "no_data"
    if value is not None:
        figure = achieved(target, value, base, year)
        if held:
            # Nothing to close: the figure holds the target (1) or has slipped back beyond it (none to measure).
            progress = Decimal(1) if figure is not None and meets(target, figure, tolerance) else None
            expected_progress = Decimal(1)
        elif target.measure == "per_year":
            progress = six(value / target.target_value) if target.target_value else None
            expected_progress = Decimal(1)
        elif base.value is not None and level is not None and level != base.value:
            progress = six((value - base.value) / (level - base.value))
            if expected is not None:
                expected_progress = six((expected - base.value) / (level - base.value))
        status = _status(target, year, figure, value, expected, progress, expected_progress, level, parameters, held)
    predicted, forecast_method = forecast(target, indicator.unit, observed)
    predicted_figure = None if predicted is None else achieved(target, predicted, base, target.target_year)
    return TargetAssessment(
        target_id=target.id,
        indicator_id=indicator.id,
        indicator_name_zh=indicator.name_zh,
        sector=indicator.sector,
        sector_name_zh=None if indicator.sector is None else _SECTOR_NAMES[indicator.sector],
        unit=indicator.unit,
        measure=target.measure,
        comparator=target.comparator,
        comparator_text=target.comparator_text,
        approximate=target.approximate,
        target_value=target.target_value,
        target_value_max=target.target_value_max,
        target_year=target.target_year,
        target_level=level,
        baseline_year=None if target.measure == "per_year" else base.year,
        baseline_value=None if target.measure == "per_year" else base.value,
        baseline_source=None if target.measure == "per_year" else base.source,
        year=year,
        value=value,
        achieved=figure,
        expected=expected,
        progress=progress,
        expected_progress=expected_progress,
        status=status,
        forecast=predicted,
        forecast_meets_target=(
            None if predicted_figure is None else meets(target, predicted_figure, parameters.approximate_tolerance)
        ),
        forecast_method=forecast_method,
        trajectory_method=path_method,
        observed=[SeriesPoint(year=p.year, value=p.value) for p in observed],
        trajectory=path,
        provenance=[p.provenance for p in observed],
        clause=target.reference.clause,
        citation=target.reference.citation,
    )


def _mean(values: Sequence[Decimal]) -> Decimal | None:
    if not values:
        return None
    with localcontext() as context:
        context.prec = PRECISION
        return six(sum(values, Decimal(0)) / len(values))


def summarise(assessments: Sequence[TargetAssessment]) -> list[SectorSummary]:
    """Per sector (the plan's order; the whole city first): how many targets have each status, mean progress."""
    order: list[str | None] = [None, *(sector.code for sector in SECTORS)]
    summaries = []
    for sector in order:
        mine = [a for a in assessments if a.sector == sector]
        if not mine:
            continue
        progress = [a.progress for a in mine if a.progress is not None]
        counts: dict[Status, int] = dict.fromkeys(STATUSES, 0)
        for assessment in mine:
            counts[assessment.status] += 1
        summaries.append(
            SectorSummary(
                sector=sector,
                sector_name_zh=WHOLE_CITY_ZH if sector is None else _SECTOR_NAMES[sector],
                target_count=len(mine),
                targets=len(mine),
                statuses=StatusCounts.model_validate(counts),
                mean_progress=_mean(progress),
            )
        )
    return summaries
