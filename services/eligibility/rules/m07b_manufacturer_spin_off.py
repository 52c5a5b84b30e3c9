"""M07b — 第（七）条: one-off reward of a producer-service enterprise spun off by a manufacturer (主辅分离).

渝发改规范〔2024〕7号 第（七）条：鼓励制造业企业主辅分离，剥离现代物流、节能环保、检验检测等业务设立生产性服务业独立法人
企业，对分离后新设立的生产性服务业企业，年营业收入达到2000万元以上的给予一次性奖励，最高不超过100万元。

"达到…以上" includes the figure; "新设立" is a dated parameter (established on or after it).
Parameters: shared/policy/measures/m07b_manufacturer_spin_off.json.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StrictBool

from services.eligibility.rules.base import FACTS_CONFIG, Evaluation, Rule, clause
from shared.money import Yuan

CITATION = clause("七")


@dataclass(slots=True)
class M07bFacts:
    __pydantic_config__ = FACTS_CONFIG

    spun_off_from_manufacturer: Annotated[
        StrictBool, Field(description="Set up by a manufacturer spinning off the business (主辅分离)")
    ]
    established_on: Annotated[date, Field(description="The day the enterprise was established")]
    revenue_yuan: Annotated[Yuan, Field(description="Its yearly operating revenue")]


def evaluate(facts: M07bFacts, ev: Evaluation) -> Decimal | None:
    ev.step("newly set up by a manufacturer spinning off the business", facts.spun_off_from_manufacturer, CITATION)
    if not facts.spun_off_from_manufacturer:
        ev.refuse("not_spun_off", "the enterprise was not set up by a manufacturer's spin-off", CITATION)
        return None
    ev.step("established on", facts.established_on.isoformat(), CITATION)
    newly_from = ev.param_date("m07b.newly_established_from")
    if facts.established_on < newly_from:
        ev.refuse(
            "not_newly_established",
            f"the enterprise was established on {facts.established_on}, before {newly_from}: it is not newly set "
            "up by the spin-off (分离后新设立)",
            CITATION,
        )
        return None
    ev.step("yearly operating revenue", facts.revenue_yuan, CITATION)
    threshold = ev.param("m07b.min_revenue_yuan")
    if facts.revenue_yuan < threshold:
        ev.refuse(
            "revenue_below_threshold",
            f"the revenue {facts.revenue_yuan:.2f} does not reach {threshold:.2f} (达到…以上 includes the figure)",
            CITATION,
        )
        return None
    amount = ev.param("m07b.award_yuan")
    ev.step("one-off reward", amount, CITATION)
    return amount


RULE = Rule(
    measure_id="M07b",
    citation=CITATION,
    facts_model=M07bFacts,
    parameters=("m07b.newly_established_from", "m07b.min_revenue_yuan", "m07b.award_yuan"),
    evaluate=evaluate,
)
