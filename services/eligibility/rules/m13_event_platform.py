"""M13 — 第（十三）条: grant to a producer-service event or activity platform, on its actual spend.

渝发改规范〔2024〕7号 第（十三）条：对符合条件的生产性服务业活动平台，按不超过实际投入的30%给予补助，最高不超过100万元。

Parameters: shared/policy/measures/m13_event_platform.json.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from services.eligibility.rules.base import FACTS_CONFIG, Evaluation, Rule, clause
from shared.money import Yuan

CITATION = clause("十三")


@dataclass(slots=True)
class M13Facts:
    __pydantic_config__ = FACTS_CONFIG

    actual_spend_yuan: Annotated[Yuan, Field(description="The event platform's actual spend (实际投入)")]


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
