"""M06 — 第（六）条: yearly reward of a district by its rank in the composite evaluation (the ranking service).

渝发改规范〔2024〕7号 第（六）条：对每年规模（限额）以上生产性服务业企业新增数量、净增数量和营业收入增速等指标综合评价前
10名的区县，第1—5名分别给予500万元的一次性奖励，第6—10名分别给予300万元的一次性奖励。

The rank comes from the ranking service (methodology: shared/policy/ranking/methodologies.json).
Parameters: shared/policy/measures/m06_district_ranking_award.json.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StrictInt

from services.eligibility.rules.base import FACTS_CONFIG, Evaluation, Rule, clause

CITATION = clause("六")


@dataclass(slots=True)
class M06Facts:
    __pydantic_config__ = FACTS_CONFIG

    rank: Annotated[
        StrictInt, Field(ge=1, le=38, description="The district's rank in the published yearly composite evaluation")
    ]


def evaluate(facts: M06Facts, ev: Evaluation) -> Decimal | None:
    ev.step("rank in the yearly composite evaluation of the 38 districts", facts.rank, CITATION)
    amounts = ev.table("m06.award_by_rank_yuan")
    amount = amounts.get(str(facts.rank))
    if amount is None:
        ev.refuse("rank_not_rewarded", f"rank {facts.rank} is not among the ranks rewarded (1–10)", CITATION)
        return None
    ev.step(f"amount for rank {facts.rank}", amount, CITATION)
    return amount


RULE = Rule(
    measure_id="M06",
    citation=CITATION,
    facts_model=M06Facts,
    parameters=("m06.award_by_rank_yuan",),
    evaluate=evaluate,
)
