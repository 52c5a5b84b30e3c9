"""M13 — 第（十三）条: grant to a producer-service event or activity platform, on its actual spend."""

from dataclasses import dataclass
from decimal import Decimal

from services.eligibility.rules.base import FACTS_CONFIG, Evaluation, Rule, clause
from shared.money import Yuan

CITATION = clause("十三")


@dataclass(slots=True)
class M13Facts:
    __pydantic_config__ = FACTS_CONFIG

    actual_spend_yuan: Yuan


def evaluate(facts: M13Facts, ev: Evaluation) -> Decimal | None:
    spend = facts.actual_spend_yuan
    ev.step("actual spend (实际投入)", spend, CITATION)
    if spend <= 0:
        ev.refuse("no_actual_spend", "the event has no actual spend", CITATION)
        return None
    return ev.ratio_capped(spend, "m13.ratio", "m13.cap_yuan", CITATION, "actual spend")


RULE = Rule(
    measure_id="M13",
    citation=CITATION,
    facts_model=M13Facts,
    parameters=("m13.ratio", "m13.cap_yuan"),
    evaluate=evaluate,
)
