"""/calculate: one measure, one set of facts, one date — no other service needed."""

from collections.abc import Sequence
from typing import Any

from services.eligibility.calculations.schemas import CalculationRequest, TraceStep
from services.eligibility.parameters.definitions import ParameterSet
from services.eligibility.rules import engine
from services.eligibility.rules.base import Step
from services.eligibility.rules.engine import Outcome
from shared.errors import InvalidInput, field_error
from shared.perf import gc_paused


def step_out(step: Step) -> TraceStep:
    return TraceStep(step=step.step, value=step.value, citation=step.citation)


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


def calculate(parameters: ParameterSet, item: CalculationRequest) -> dict[str, Any]:
    """The answer to one request, its facts validated already (by the request's model, the rule's facts model)."""
    return outcome_json(engine.evaluate(item.measure_id, item.as_of, item.facts, parameters, year=item.year))


def calculate_batch(
    parameters: ParameterSet, items: Sequence[CalculationRequest], max_items: int, *, include_trace: bool = True
) -> dict[str, Any]:
    """The batch's answers, in order (BatchOut's shape, as plain values)."""
    if len(items) > max_items:
        raise InvalidInput(
            f"A batch holds at most {max_items} items; this one has {len(items)}.",
            errors=[field_error(["body"], f"at most {max_items} items")],
        )
    evaluate = engine.evaluate
    with gc_paused():
        answers = [
            outcome_json(
                evaluate(item.measure_id, item.as_of, item.facts, parameters, year=item.year),
                include_trace=include_trace,
            )
            for item in items
        ]
    return {"count": len(answers), "items": answers}
