"""M01 — 第（一）条: one-off grant to a producer-service project, on its verified investment.

渝发改规范〔2024〕7号 第（一）条：对符合条件的现代生产性服务业项目，按照经核定的投资金额给予一次性补助，单个项目的支持
金额原则上不超过项目投资总额的10%，最高不超过500万元；经市政府同意，特别重大的项目可提高，但最高支持金额原则上不超过
2000万元。

Parameters: shared/policy/measures/m01_project_grant.json.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from pydantic import Field, StrictBool

from services.eligibility.rules.base import FACTS_CONFIG, Evaluation, Rule, clause
from shared.money import Yuan

CITATION = clause("一")


@dataclass(slots=True)
class M01Facts:
    __pydantic_config__ = FACTS_CONFIG

    verified_investment_yuan: Annotated[Yuan, Field(description="The project's verified investment (经核定的投资金额)")]
    special_major_approved: Annotated[
        StrictBool, Field(description="Approved by the city government as a special major project (特别重大项目)")
    ]


def evaluate(facts: M01Facts, ev: Evaluation) -> Decimal | None:
    investment = facts.verified_investment_yuan
    ev.step("verified investment (经核定的投资金额)", investment, CITATION)
    ev.step("special major project approved by the city government", facts.special_major_approved, CITATION)
    if investment <= 0:
        ev.refuse("no_verified_investment", "the project has no verified investment", CITATION)
        return None
    if facts.special_major_approved:
        return ev.ratio_capped(
            investment, "m01.special_major_ratio", "m01.special_major_cap_yuan", CITATION, "verified investment"
        )
    return ev.ratio_capped(investment, "m01.ratio", "m01.cap_yuan", CITATION, "verified investment")


RULE = Rule(
    measure_id="M01",
    citation=CITATION,
    facts_model=M01Facts,
    parameters=("m01.ratio", "m01.cap_yuan", "m01.special_major_ratio", "m01.special_major_cap_yuan"),
    evaluate=evaluate,
)
