"""M07a — 第（七）条: reward of a district for each producer-service enterprise first listed in the top 500.

渝发改规范〔2024〕7号 第（七）条：鼓励引培“中国服务业企业500强”（中企联发布）等，每新增1家首次入选的生产性服务业企业，
给予相应区县最高500万元奖励，专项用于支持市场主体做大做强。

Parameters: shared/policy/measures/m07a_top500_first_listing.json.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StrictBool

from services.eligibility.rules.base import FACTS_CONFIG, Evaluation, Rule, clause

CITATION = clause("七")


@dataclass(slots=True)
class M07aFacts:
    __pydantic_config__ = FACTS_CONFIG

    first_time_top500: Annotated[
        StrictBool, Field(description="Listed in 中国服务业企业500强 (中企联) that year for the first time")
    ]
    producer_service: Annotated[StrictBool, Field(description="A producer-service enterprise")]


def evaluate(facts: M07aFacts, ev: Evaluation) -> Decimal | None:
    ev.step("listed for the first time in 中国服务业企业500强 (中企联)", facts.first_time_top500, CITATION)
    ev.step("a producer-service enterprise", facts.producer_service, CITATION)
    eligible = True
    if not facts.first_time_top500:
        ev.refuse("not_first_time_top500", "the enterprise is not newly listed for the first time", CITATION)
        eligible = False
    if not facts.producer_service:
        ev.refuse("not_producer_service", "the enterprise is not a producer-service enterprise", CITATION)
        eligible = False
    if not eligible:
        return None
    amount = ev.param("m07a.award_yuan")
    ev.step("reward of the enterprise's district", amount, CITATION)
    return amount


RULE = Rule(
    measure_id="M07a",
    citation=CITATION,
    facts_model=M07aFacts,
    parameters=("m07a.award_yuan",),
    evaluate=evaluate,
)
