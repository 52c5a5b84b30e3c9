"""M05 — 第（五）条: yearly fixed reward of a star building's operator whose revenue grew fast.

渝发改规范〔2024〕7号 第（五）条：支持打造特色“星级”楼宇，对年度营业收入增速较快的“星级”楼宇，分档给予楼宇运营机构
100万元、50万元的定额奖励。

The text fixes the two amounts; what growth is "fast" for each is a parameter.
Parameters: shared/policy/measures/m05_star_building.json.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from pydantic import Field

from services.eligibility.rules.base import FACTS_CONFIG, Evaluation, Rule, clause
from shared.money import Yuan

CITATION = clause("五")
_SHOWN = Decimal("0.000001")


@dataclass(slots=True)
class M05Facts:
    __pydantic_config__ = FACTS_CONFIG

    revenue_yuan: Annotated[Yuan, Field(description="The building's operating revenue of the year")]
    prior_revenue_yuan: Annotated[Yuan, Field(description="Its revenue of the year before (growth is derived)")]


def evaluate(facts: M05Facts, ev: Evaluation) -> Decimal | None:
    revenue, prior = facts.revenue_yuan, facts.prior_revenue_yuan
    ev.step("yearly revenue", revenue, CITATION)
    ev.step("prior year's revenue", prior, CITATION)
    if prior <= 0:
        ev.refuse("no_prior_revenue", "without prior-year revenue the growth rate is undefined", CITATION)
        return None
    growth = (revenue - prior) / prior
    ev.step("growth = (revenue − prior) ÷ prior", growth.quantize(_SHOWN), CITATION)
    amounts = ev.table("m05.tier_amounts_yuan")
    tier1 = ev.param("m05.tier1_min_growth")
    # Compared exactly, without the rounding of the division: revenue − prior ≥ threshold × prior.
    if revenue - prior >= tier1 * prior:
        ev.step("growth at or above m05.tier1_min_growth: tier 1", amounts["1"], CITATION)
        return amounts["1"]
    tier2 = ev.param("m05.tier2_min_growth")
    if revenue - prior >= tier2 * prior:
        ev.step("growth at or above m05.tier2_min_growth: tier 2", amounts["2"], CITATION)
        return amounts["2"]
    ev.refuse("growth_not_fast", f"growth {growth.quantize(_SHOWN)} is below {tier2}", CITATION)
    return None


RULE = Rule(
    measure_id="M05",
    citation=CITATION,
    facts_model=M05Facts,
    parameters=("m05.tier_amounts_yuan", "m05.tier1_min_growth", "m05.tier2_min_growth"),
    evaluate=evaluate,
)
