"""M03 — 第（三）条: yearly reward of a cluster (集聚区) graded A, by tier.

渝发改规范〔2024〕7号 第（三）条：对年度评估为A等级的现代生产性服务业集聚区，分档次给予200—1000万元奖励，资金按照集聚区
隶属关系由所在区县政府或市级部门（含开发区管委会）管理使用，专项用于支持该集聚区产业发展规划和建设方案编制、项目策划、
基础设施建设、完善公共服务支撑体系、健全统计监测机制等。

The reward goes to the body the cluster belongs to (隶属关系), not to the enterprise operating it.

Parameters: shared/policy/measures/m03_a_grade_cluster.json.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from pydantic import Field, Strict

from services.eligibility.rules.base import FACTS_CONFIG, Evaluation, Rule, clause
from shared.policy.vocabulary import ClusterGrade, ClusterTier

CITATION = clause("三")


@dataclass(slots=True)
class M03Facts:
    __pydantic_config__ = FACTS_CONFIG

    grade: Annotated[ClusterGrade, Field(description="The grade of the cluster's yearly evaluation")]
    tier: Annotated[
        Annotated[ClusterTier, Strict()] | None,
        Field(description="The tier (档次) the evaluation assigns a grade-A cluster; none: no tier amount applies"),
    ] = None


def evaluate(facts: M03Facts, ev: Evaluation) -> Decimal | None:
    ev.step("yearly evaluation grade", facts.grade, CITATION)
    if facts.grade != "A":
        ev.refuse("grade_not_a", f"the cluster is graded {facts.grade}; only grade A is rewarded", CITATION)
        return None
    ev.step("tier", "none" if facts.tier is None else facts.tier, CITATION)
    tiers = ev.table("m03.tier_amounts_yuan")
    if facts.tier is None:
        ev.refuse("no_tier", "the evaluation assigns no tier, so no tier amount applies", CITATION)
        return None
    amount = tiers.get(str(facts.tier))
    if amount is None:
        ev.refuse("tier_without_amount", f"tier {facts.tier} has no amount in m03.tier_amounts_yuan", CITATION)
        return None
    ev.step(f"amount of tier {facts.tier}", amount, CITATION)
    return amount


RULE = Rule(
    measure_id="M03",
    citation=CITATION,
    facts_model=M03Facts,
    parameters=("m03.tier_amounts_yuan",),
    evaluate=evaluate,
)
