"""A year's assessment: every target of the plan against the values its indicator reached.

Indicators the registry measures are computed from its verified figures (GET /monitoring-stats of each year from
the plan's baseline year); the others are the current revisions of the city's observations. Both, with the
parameters and the code version, go into the input hash a publication freezes.
"""

import asyncio
import hashlib
import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.monitoring import CODE_VERSION
from services.monitoring.assessments.compute import Point, assess, summarise
from services.monitoring.assessments.schemas import AssessmentParameterValues, AssessmentReport, Provenance
from services.monitoring.observations import repository as observations
from services.monitoring.upstream.client import Upstreams
from services.monitoring.upstream.schemas import MonitoringStats
from shared.clock import Clock
from shared.errors import InvalidInput, NotFound, field_error
from shared.policy.targets import TARGETS_FILE, ComputedFrom, Indicator, PlanTargets, plan_targets

REGISTRY_SOURCE = "registry: verified enterprise-years, cluster revenues and designations"


def check_plan_year(year: int, loc: list[str | int]) -> None:
    plan = plan_targets()
    if not plan.first_year <= year <= plan.last_year:
        raise InvalidInput(
            f"{year} is not a year of the plan ({plan.first_year}–{plan.last_year}).",
            errors=[field_error(loc, f"must lie within {plan.first_year} … {plan.last_year}")],
        )


def check_target(target_id: str) -> None:
    try:
        plan_targets().target(target_id)
    except KeyError:
        raise NotFound(f"The plan has no target {target_id!r} (GET /targets lists them).") from None


async def registry_years(upstreams: Upstreams, plan: PlanTargets, year: int) -> dict[int, MonitoringStats]:
    """The registry's figures of every year from the plan's baseline year to `year`, read at once. The baseline
    year itself is read against the year before it (the registry measures a year against an earlier one); its
    "new since the baseline" is zero by definition."""
    years = range(plan.baseline_year, year + 1)
    reads = [upstreams.monitoring_stats(y, plan.baseline_year if y > plan.baseline_year else y - 1) for y in years]
    return dict(zip(years, await asyncio.gather(*reads), strict=True))


def computed_value(
    computed: ComputedFrom, indicator: Indicator, stats: MonitoringStats, plan: PlanTargets, today: date
) -> Decimal | None:
    """An indicator the registry measures, in one year; None where the year is not reported: for the enterprises'
    figures, no verified above-size enterprise in the year at all; for the clusters, no verified cluster revenue of
    the year; for the designations, a year not yet begun. A year not reported is no data, not a zero."""
    reported = any(cell.above_scale_count > 0 for cell in stats.cells)
    if computed == "registry.clusters_reaching_10bn":
        reported = bool(stats.clusters)
    elif computed == "registry.leading_enterprises":
        reported = stats.year <= today.year
    if not reported:
        return None
    cells = [cell for cell in stats.cells if indicator.sector is None or cell.sector == indicator.sector]
    match computed:
        case "registry.above_scale_count":
            return Decimal(sum(cell.above_scale_count for cell in cells))
        case "registry.revenue_yuan":
            return sum((cell.revenue_yuan for cell in cells), Decimal(0))
        case "registry.employees":
            return Decimal(sum(cell.employees for cell in cells))
        case "registry.new_above_scale_since_baseline":
            if stats.year <= plan.baseline_year:
                return Decimal(0)
            return Decimal(sum(cell.new_above_scale_since_baseline for cell in cells))
        case "registry.clusters_reaching_10bn":
            threshold = plan.parameters.cluster_revenue_threshold_yuan
            return Decimal(sum(1 for cluster in stats.clusters if cluster.revenue_yuan >= threshold))
        case "registry.leading_enterprises":
            leading = stats.leading_enterprises
            return Decimal(
                sum(row.count for row in leading if indicator.sector is None or row.sector == indicator.sector)
            )
    raise AssertionError(computed)


async def series_by_indicator(
    session: AsyncSession, upstreams: Upstreams, plan: PlanTargets, year: int, today: date
) -> dict[str, dict[int, Point]]:
    """Every indicator's values by year up to `year`."""
    series: dict[str, dict[int, Point]] = {indicator.id: {} for indicator in plan.indicators}
    typed = [indicator.id for indicator in plan.indicators if indicator.computed_from is None]
    for row in await observations.current_yearly(session, typed, year):
        series[row.indicator_id][row.year] = Point(
            row.year,
            row.value,
            Provenance(
                year=row.year,
                origin="observation",
                source=row.source,
                source_kind=row.source_kind,
                recorded_by=row.recorded_by,
                recorded_at=row.recorded_at,
                revision=row.revision,
            ),
        )
    if any(indicator.computed_from is not None for indicator in plan.indicators):
        for stats_year, stats in (await registry_years(upstreams, plan, year)).items():
            for indicator in plan.indicators:
                if indicator.computed_from is None:
                    continue
                value = computed_value(indicator.computed_from, indicator, stats, plan, today)
                if value is not None:
                    provenance = Provenance(
                        year=stats_year,
                        origin="registry",
                        source=REGISTRY_SOURCE,
                        source_kind=None,
                        recorded_by=None,
                        recorded_at=None,
                        revision=None,
                    )
                    series[indicator.id][stats_year] = Point(stats_year, value, provenance)
    return series


@cache
def targets_digest() -> str:
    """SHA-256 of the targets file as shipped: a publication names the very records it was judged by."""
    return hashlib.sha256(TARGETS_FILE.read_bytes()).hexdigest()


def input_hash(year: int, series: Mapping[str, Mapping[int, Point]], parameters: Mapping[str, str]) -> str:
    """SHA-256 over what the assessment is computed from: the values (with the revision they come from), the
    parameters, the targets file and the code version."""
    document: dict[str, Any] = {
        "year": year,
        "code_version": CODE_VERSION,
        "targets_digest": targets_digest(),
        "parameters": dict(sorted(parameters.items())),
        "series": {
            indicator: [
                [point.year, str(point.value), point.provenance.origin, point.provenance.revision]
                for _, point in sorted(points.items())
            ]
            for indicator, points in sorted(series.items())
        },
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


async def assessment(session: AsyncSession, upstreams: Upstreams, year: int, clock: Clock) -> AssessmentReport:
    check_plan_year(year, ["path", "year"])
    plan = plan_targets()
    series = await series_by_indicator(session, upstreams, plan, year, clock.today())
    targets = [
        assess(
            target,
            plan.indicator(target.indicator),
            year=year,
            baseline_year=plan.baseline_year,
            first_year=plan.first_year,
            series=series[target.indicator],
            parameters=plan.parameters,
        )
        for target in plan.targets
    ]
    parameters: dict[str, str] = {record.name: str(record.value) for record in plan.parameter_records}
    return AssessmentReport(
        year=year,
        generated_at=clock.now(),
        input_hash=input_hash(year, series, parameters),
        code_version=CODE_VERSION,
        parameters=AssessmentParameterValues.model_validate(parameters),
        targets=targets,
        sectors=summarise(targets),
    )
