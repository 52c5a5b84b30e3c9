"""/calculate: one measure, one set of facts, one date — no other service needed."""

from collections.abc import Sequence
from typing import Any

from services.eligibility.calculations.schemas import CalculationIn, StepOut
from services.eligibility.measures.catalogue import MEASURES_BY_ID
from services.eligibility.parameters.definitions import ParameterSet
from services.eligibility.rules import engine
from services.eligibility.rules.base import Step
from services.eligibility.rules.engine import FactsError, Outcome
from shared.errors import InvalidInput, field_error
from shared.perf import gc_paused


def step_out(step: Step) -> StepOut:
    return StepOut(step=step.step, value=step.value, citation=step.citation)


def outcome_json(outcome: Outcome, *, include_trace: bool = True) -> dict[str, Any]:
    """The JSON body of one answer, built directly: the batch answers 10,000 of them."""
    answer = {
        "measure_id": outcome.measure_id,
        "as_of": outcome.as_of.isoformat(),
        "eligible": outcome.eligible,
        "amount_yuan": f"{outcome.amount:.2f}",
        "reasons": [{"code": code, "message": message} for code, message in outcome.reasons],
        "trace": [{"step": step, "value": value, "citation": citation} for step, value, citation in outcome.trace]
        if include_trace
        else [],
        "parameters_used": dict(outcome.parameters_used),
    }
    return answer


def _check(item: CalculationIn, loc: tuple[str | int, ...], errors: list[dict[str, Any]]) -> object | None:
    if item.measure_id not in engine.RULES:
        measure = MEASURES_BY_ID.get(item.measure_id)
        if measure is None:
            errors.append(field_error([*loc, "measure_id"], f"{item.measure_id!r} is not a measure (GET /measures)"))
        else:
            errors.append(
                field_error(
                    [*loc, "measure_id"],
                    f"{item.measure_id} has no formula: it is matched (GET /enterprises/{{uscc}}/matches), "
                    "not calculated",
                )
            )
        return None
    try:
        facts: object = engine.parse_facts(item.measure_id, item.facts)
    except FactsError as exc:
        errors.extend(field_error([*loc, "facts", *sub], msg) for sub, msg in exc.errors)
        return None
    return facts


def calculate(parameters: ParameterSet, item: CalculationIn) -> dict[str, Any]:
    errors: list[dict[str, Any]] = []
    facts = _check(item, ("body",), errors)
    if facts is None:
        raise InvalidInput("The calculation request is invalid: see `errors`.", errors=errors)
    return outcome_json(engine.evaluate(item.measure_id, item.as_of, facts, parameters, year=item.year))


def calculate_batch(
    parameters: ParameterSet, items: Sequence[CalculationIn], max_items: int, *, include_trace: bool = True
) -> dict[str, Any]:
    """The batch's answers, in order (BatchOut's shape, as plain values)."""
    if len(items) > max_items:
        raise InvalidInput(
            f"A batch holds at most {max_items} items; this one has {len(items)}.",
            errors=[field_error(["body"], f"at most {max_items} items")],
        )
    errors: list[dict[str, Any]] = []
    with gc_paused():
        checked = [_check(item, ("body", index), errors) for index, item in enumerate(items)]
    if errors:
        raise InvalidInput(
            f"{len(errors)} problem(s) in the batch: see `errors`; nothing was calculated.", errors=errors[:1000]
        )
    evaluate = engine.evaluate
    with gc_paused():
        answers = [
            outcome_json(
                evaluate(item.measure_id, item.as_of, facts, parameters, year=item.year), include_trace=include_trace
            )
            for item, facts in zip(items, checked, strict=True)
        ]
    return {"count": len(answers), "items": answers}
