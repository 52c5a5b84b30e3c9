"""The plan's targets and indicators as the API shows them (shared/policy/monitoring/targets.json)."""

from services.monitoring.targets.schemas import (
    BaselineOut,
    IndicatorList,
    IndicatorOut,
    PlanOut,
    PlanParameter,
    TargetList,
    TargetOut,
)
from shared.errors import InvalidInput, NotFound, field_error
from shared.policy.targets import Target, plan_targets
from shared.reference import SECTOR_CODES


def _target(target: Target) -> TargetOut:
    plan = plan_targets()
    baseline = target.baseline
    return TargetOut(
        id=target.id,
        indicator_id=target.indicator,
        indicator=target.indicator,
        sector=plan.indicator(target.indicator).sector,
        measure=target.measure,
        comparator=target.comparator,
        comparator_text=target.comparator_text,
        approximate=target.approximate,
        target_value=target.target_value,
        target_value_max=target.target_value_max,
        target_year=target.target_year,
        baseline=None
        if baseline is None
        else BaselineOut(year=baseline.year, value=baseline.value, source=baseline.source),
        clause=target.reference.clause,
        quote=target.reference.quote,
        citation=target.reference.citation,
    )


def _check_sector(sector: str | None) -> None:
    if sector is not None and sector != "whole" and sector not in SECTOR_CODES:
        raise InvalidInput(
            f"{sector!r} is not one of the plan's 18 sectors (or `whole` for producer services as a whole).",
            errors=[field_error(["query", "sector"], "unknown sector")],
        )


def _in_sector(indicator_sector: str | None, sector: str | None) -> bool:
    return sector is None or (sector == "whole" and indicator_sector is None) or indicator_sector == sector


def targets(sector: str | None) -> TargetList:
    _check_sector(sector)
    plan = plan_targets()
    items = [_target(target) for target in plan.targets if _in_sector(plan.indicator(target.indicator).sector, sector)]
    return TargetList(items=items, count=len(items))


def target(target_id: str) -> TargetOut:
    for candidate in plan_targets().targets:
        if candidate.id == target_id:
            return _target(candidate)
    raise NotFound(f"The plan has no target {target_id!r} (GET /targets lists them).")


def _indicator(indicator_id: str) -> IndicatorOut:
    plan = plan_targets()
    indicator = plan.indicator(indicator_id)
    return IndicatorOut(
        id=indicator.id,
        name_zh=indicator.name_zh,
        name_en=indicator.name_en,
        sector=indicator.sector,
        unit=indicator.unit,
        computed_from=indicator.computed_from,
        lead_departments=list(indicator.lead_departments),
        target_ids=[target.id for target in plan.targets_of(indicator.id)],
        targets=[target.id for target in plan.targets_of(indicator.id)],
    )


def indicators(sector: str | None) -> IndicatorList:
    _check_sector(sector)
    items = [_indicator(i.id) for i in plan_targets().indicators if _in_sector(i.sector, sector)]
    return IndicatorList(items=items, count=len(items))


def indicator(indicator_id: str) -> IndicatorOut:
    try:
        return _indicator(indicator_id)
    except KeyError:
        raise NotFound(f"The plan has no indicator {indicator_id!r} (GET /indicators lists them).") from None


def plan() -> PlanOut:
    plan = plan_targets()
    return PlanOut(
        document=plan.document,
        first_year=plan.first_year,
        last_year=plan.last_year,
        baseline_year=plan.baseline_year,
        parameters=[
            PlanParameter(
                name=record.name,
                value=record.value,
                unit=record.unit,
                description_zh=record.description_zh,
                description_en=record.description_en,
                min=record.bounds.min,
                max=record.bounds.max,
                citation=record.citation,
            )
            for record in plan.parameter_records
        ],
    )
