"""M02 — 第（二）条: one-off grant to a public service platform in a listed domain, on its investment.

渝发改规范〔2024〕7号 第（二）条：支持现代生产性服务业领域共性技术研发、成果转化、中试熟化、工业设计、供应链管理、知识
产权运营、品牌营销、检验检测认证等领域公共服务平台建设，投资额超过500万元的，按不超过投资额的20%给予补助，最高不超过
500万元。

Parameters: shared/policy/measures/m02_public_platform.json.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError
from typing_extensions import TypeAliasType

from services.eligibility.rules.base import FACTS_CONFIG, Evaluation, Rule, clause
from shared.money import Yuan
from shared.policy.vocabulary import PlatformDomain
from shared.reference import PLATFORM_DOMAINS

CITATION = clause("二")


# The listed domains, or "other" for a platform outside them (not eligible, with the reason). A union that refers to
# the shared enum, rather than a second enum of nine, keeps one `PlatformDomain` type in generated clients; the extra
# value is a documented constant beside it.
def _one_refusal(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    """The union's refusal as one error at the fact itself, not one per member of the union."""
    try:
        return handler(value)
    except ValidationError:
        listed = ", ".join(f"'{domain}'" for domain in PLATFORM_DOMAINS)
        raise PydanticCustomError("literal_error", f"Input should be {listed} or 'other'") from None


M02PlatformDomain = TypeAliasType(
    "M02PlatformDomain",
    Annotated[
        PlatformDomain | Literal["other"],
        WrapValidator(_one_refusal),
        Field(
            title="M02PlatformDomain",
            description="A domain 第（二）条 lists (`PlatformDomain`), or `other` for a platform outside them",
        ),
    ],
)


@dataclass(slots=True)
class M02Facts:
    __pydantic_config__ = FACTS_CONFIG

    platform_domain: Annotated[
        M02PlatformDomain, Field(description="The platform's domain, one the clause lists, or `other`")
    ]
    verified_investment_yuan: Annotated[Yuan, Field(description="The platform's verified investment (投资额)")]


def evaluate(facts: M02Facts, ev: Evaluation) -> Decimal | None:
    domain = facts.platform_domain
    ev.step("platform domain", f"{domain} ({PLATFORM_DOMAINS.get(domain, '其他')})", CITATION)
    if domain not in PLATFORM_DOMAINS:
        ev.refuse("platform_domain_not_listed", "the platform is not in a domain the clause lists", CITATION)
        return None
    investment = facts.verified_investment_yuan
    ev.step("investment (投资额)", investment, CITATION)
    threshold = ev.param("m02.min_investment_yuan")
    if investment <= threshold:
        ev.refuse(
            "investment_not_above_threshold",
            f"the investment {investment:.2f} is not above {threshold:.2f} (超过, above, is strict)",
            CITATION,
        )
        return None
    ev.step("investment strictly above the threshold", f"{investment:.2f} > {threshold:.2f}", CITATION)
    return ev.ratio_capped(investment, "m02.ratio", "m02.cap_yuan", CITATION, "investment")


RULE = Rule(
    measure_id="M02",
    citation=CITATION,
    facts_model=M02Facts,
    parameters=("m02.min_investment_yuan", "m02.ratio", "m02.cap_yuan"),
    evaluate=evaluate,
)
