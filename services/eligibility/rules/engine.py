"""The engine: checks the policy is in force on `as_of`, runs one measure's rule and returns the outcome."""

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from services.eligibility.parameters.definitions import JSONValue, ParameterSet, Params
from services.eligibility.rules import (
    m01_project_grant,
    m02_public_platform,
    m03_a_grade_cluster,
    m05_star_building,
    m06_district_ranking_award,
    m07a_top500_first_listing,
    m07b_manufacturer_spin_off,
    m13_event_platform,
)
from services.eligibility.rules.base import ZERO, Evaluation, Reason, Rule, Step

RULES: dict[str, Rule[Any]] = {
    rule.measure_id: rule
    for rule in (
        m01_project_grant.RULE,
        m02_public_platform.RULE,
        m03_a_grade_cluster.RULE,
        m05_star_building.RULE,
        m06_district_ranking_award.RULE,
        m07a_top500_first_listing.RULE,
        m07b_manufacturer_spin_off.RULE,
        m13_event_platform.RULE,
    )
}


@dataclass(frozen=True, slots=True)
class Outcome:
    measure_id: str
    as_of: date
    eligible: bool
    amount: Decimal
    reasons: Sequence[Reason]
    trace: Sequence[Step]
    parameters_used: Mapping[str, JSONValue]


class FactsError(ValueError):
    """The facts do not fit the measure; `errors` holds (location within the facts, message) pairs."""

    def __init__(self, errors: list[tuple[tuple[str | int, ...], str]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in errors))
        self.errors = errors


def parse_facts(measure_id: str, raw: Any) -> Any:
    """Validate `raw` as the facts of `measure_id` (which must be a computable measure)."""
    try:
        facts = RULES[measure_id].parse(raw)
    except ValidationError as exc:
        raise FactsError(
            [(tuple(err["loc"]), fact_message(err["msg"], err["type"])) for err in exc.errors(include_url=False)]
        ) from None
    return facts


def fact_message(msg: str, kind: str) -> str:
    """A fact's validation error in the facts' words."""
    if kind == "missing":
        return "this fact is required"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return "this fact is not one the measure reads"
    return msg.removeprefix("Value error, ")


def evaluate(
    measure_id: str,
    as_of: date,
    facts: Any,
    parameters: ParameterSet,
    params: Params | None = None,
    *,
    traced: bool = True,
    year: int | None = None,
) -> Outcome:
    """Evaluate one measure. `params` (e.g. with a simulation's overrides) replaces the values in force; `year`
    is the year the facts are of (a yearly measure's year, a project's year), which the policy must reward."""
    rule = RULES[measure_id]
    policy = parameters.policy
    if not policy.in_force(as_of):
        reason = Reason(
            "policy_not_in_force",
            f"{policy.document} is not in force on {as_of}: it applies from {policy.effective_from} "
            f"to {policy.effective_to}",
        )
        step = Step("policy in force on as_of", f"no: {as_of} is outside the validity", policy.citation)
        return Outcome(measure_id, as_of, False, ZERO, [reason], [step], {})
    ev = Evaluation(params if params is not None else parameters.at(as_of), traced)
    if traced:
        ev.step(
            "policy in force on as_of",
            f"yes: {as_of} is within {policy.effective_from} … {policy.effective_to}",
            policy.citation,
        )
    if year is not None:
        first, last = ev.param_year("policy.first_rewarded_year"), ev.param_year("policy.last_rewarded_year")
        if not first <= year <= last:
            reason = Reason("year_not_covered", f"{policy.document} rewards the years {first}–{last}, not {year}")
            step = Step("year covered by the policy", f"no: {year} is outside {first}–{last}", policy.citation)
            return Outcome(measure_id, as_of, False, ZERO, [reason], [*ev.trace, step], ev.parameters_used)
        ev.step("year covered by the policy", f"yes: {year} is within {first}–{last}", policy.citation)
    amount = rule.evaluate(facts, ev)
    if amount is None:
        return Outcome(measure_id, as_of, False, ZERO, ev.reasons, ev.trace, ev.parameters_used)
    ev.step("amount", amount, rule.citation)
    return Outcome(measure_id, as_of, True, amount, (), ev.trace, ev.parameters_used)


def facts_table() -> str:
    """The API guide's table of the facts `POST /calculate` takes per measure, in Markdown, from the rules' facts
    models (a fact with a default may be left out)."""
    rows = ["| measure | facts |", "|---|---|"]
    for measure_id, rule in RULES.items():
        fields = dataclasses.fields(rule.facts_model)
        optional = {item.name for item in fields if item.default is not dataclasses.MISSING}
        facts = ", ".join(f"`{name}`" + (" (optional)" if name in optional else "") for name in rule.facts)
        rows.append(f"| {measure_id} | {facts} |")
    return "\n".join(rows)
