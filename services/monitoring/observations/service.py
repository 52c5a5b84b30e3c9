"""Observations: the values of the indicators the registry cannot compute, recorded by the city with their source.

A value is recorded once per indicator, year and period; recording it again is a correction — the next revision,
with its reason — so every figure ever shown stays in the history. Indicators the registry measures are computed,
never typed (issue 18: "computed, not typed").
"""

from dataclasses import dataclass
from decimal import Decimal, localcontext

from sqlalchemy.ext.asyncio import AsyncSession

from services.monitoring.observations import repository
from services.monitoring.observations.models import Observation
from services.monitoring.observations.schemas import (
    MAX_FIGURE,
    ObservationHistory,
    ObservationIn,
    ObservationOut,
    ObservationPage,
    Period,
)
from shared.auth import Principal
from shared.errors import InvalidInput, NotFound, PreconditionFailed, field_error
from shared.pagination import next_cursor
from shared.policy.targets import Indicator, plan_targets

FIGURE_PLACES = 6
SIX_PLACES = Decimal(1).scaleb(-FIGURE_PLACES)
HUNDRED = Decimal(100)


def indicator_or_404(indicator_id: str) -> Indicator:
    try:
        return plan_targets().indicator(indicator_id)
    except KeyError:
        raise NotFound(f"The plan has no indicator {indicator_id!r} (GET /indicators lists them).") from None


def _check_year(year: int) -> None:
    plan = plan_targets()
    if not plan.baseline_year <= year <= plan.last_year:
        raise InvalidInput(
            f"{year} is outside the plan: values are recorded for {plan.baseline_year} (the baseline) to "
            f"{plan.last_year}.",
            errors=[field_error(["path", "year"], f"must lie within {plan.baseline_year} … {plan.last_year}")],
        )


def _checked_value(value: Decimal, unit: str) -> Decimal:
    """The value as it is stored (six places, no negative zero), or a 422 naming it."""
    problem = None
    stored = value
    if not value.is_finite():
        problem = "must be a finite number"
    elif not value.is_zero() and value.adjusted() > MAX_FIGURE.adjusted():  # 1E+999999 has no six-place form
        problem = f"must not exceed {MAX_FIGURE}"
    else:
        with localcontext() as context:
            context.prec = 60
            stored = value.quantize(SIX_PLACES)
        if stored != value:
            problem = f"has at most {FIGURE_PLACES} decimal places"
        elif stored < 0:
            problem = "must not be negative: every indicator of the plan is a count, an amount or a share"
        elif stored > MAX_FIGURE:
            problem = f"must not exceed {MAX_FIGURE}"
        elif unit == "percent" and stored > HUNDRED:
            problem = "is a share in percent: at most 100"
    if problem is not None:
        raise InvalidInput(f"The value {problem}.", errors=[field_error(["body", "value"], problem)])
    return abs(stored) if stored.is_zero() else stored


def out(observation: Observation) -> ObservationOut:
    return ObservationOut.model_validate(observation, from_attributes=True)


@dataclass(frozen=True, slots=True)
class Recorded:
    observation: ObservationOut
    created: bool


def _same(observation: Observation, value: Decimal, body: ObservationIn) -> bool:
    return (
        observation.value == value
        and observation.source_kind == body.source_kind
        and observation.source == body.source
        and observation.note == body.note
    )


async def record(
    session: AsyncSession,
    principal: Principal,
    indicator_id: str,
    year: int,
    period: Period,
    body: ObservationIn,
    expected_revisions: frozenset[int] | None,
) -> Recorded:
    indicator = indicator_or_404(indicator_id)
    if indicator.computed_from is not None:
        raise InvalidInput(
            f"{indicator_id} is computed from the registry's verified figures ({indicator.computed_from}); it is "
            "not recorded by hand.",
            errors=[field_error(["path", "indicator_id"], "computed from the registry, not recorded")],
        )
    _check_year(year)
    if body.unit != indicator.unit:
        raise InvalidInput(
            f"{indicator_id} is measured in {indicator.unit}, not {body.unit}.",
            errors=[field_error(["body", "unit"], f"must be {indicator.unit}, the indicator's unit")],
        )
    value = _checked_value(body.value, indicator.unit)
    current = await repository.latest(session, indicator_id, year, period)
    if expected_revisions is not None and (current is None or current.revision not in expected_revisions):
        held = "none" if current is None else f'"{current.revision}"'
        raise PreconditionFailed(f"If-Match does not name the current revision of this value (it is {held}).")
    if current is not None and _same(current, value, body):
        return Recorded(out(current), created=False)
    if current is not None and body.reason is None:
        raise InvalidInput(
            f"{indicator_id} already has a value for {year} {period} (revision {current.revision}); a correction "
            "needs its reason.",
            errors=[field_error(["body", "reason"], "required to correct a recorded value")],
        )
    observation = Observation(
        indicator_id=indicator_id,
        year=year,
        period=period,
        revision=1 if current is None else current.revision + 1,
        value=value,
        unit=body.unit,
        source_kind=body.source_kind,
        source=body.source,
        note=body.note,
        reason=body.reason,
        recorded_by=principal.label,
    )
    repository.stage(session, observation)
    await session.flush()
    return Recorded(out(observation), created=current is None)


async def current_page(
    session: AsyncSession, indicator_id: str, after: tuple[int, str] | None, limit: int
) -> ObservationPage:
    indicator_or_404(indicator_id)
    rows = await repository.current_page(session, indicator_id, after, limit)
    return ObservationPage(
        items=[out(row) for row in rows[:limit]],
        next_cursor=next_cursor(rows, limit, lambda row: [row.year, row.period]),
    )


async def history(session: AsyncSession, indicator_id: str, year: int, period: Period) -> ObservationHistory:
    indicator_or_404(indicator_id)
    rows = await repository.revisions(session, indicator_id, year, period)
    if not rows:
        raise NotFound(f"{indicator_id} has no value recorded for {year} {period}.")
    return ObservationHistory(indicator_id=indicator_id, year=year, period=period, revisions=[out(row) for row in rows])
