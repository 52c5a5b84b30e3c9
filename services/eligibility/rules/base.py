"""What every rule shares: the facts it reads, the trace it writes, the decision it returns (pure)."""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, NamedTuple, TypeVar

from pydantic import ConfigDict, Field, TypeAdapter
from typing_extensions import TypeAliasType

from services.eligibility.parameters.definitions import JSONValue, Params
from shared.money import round_fen
from shared.policy.references import MEASURES_DOCUMENT

DOCUMENT = MEASURES_DOCUMENT
ZERO = Decimal("0.00")


def clause(number: str) -> str:
    """The citation of a clause, e.g. clause("一") → 渝发改规范〔2024〕7号 第（一）条."""
    return f"{DOCUMENT} 第（{number}）条"


# Facts are plain slotted dataclasses (screening builds hundreds of thousands); requests are validated into them
# by pydantic, and an unknown fact is refused so that a misspelt one is never silently ignored.
FACTS_CONFIG = ConfigDict(extra="forbid")


def facts_json(facts: object) -> dict[str, Any]:
    """The facts as JSON values: money as strings with two places."""
    values: dict[str, Any] = {}
    for item in dataclasses.fields(facts):  # type: ignore[arg-type]
        value = getattr(facts, item.name)
        if isinstance(value, Decimal):
            value = f"{value:.2f}"
        elif isinstance(value, date):
            value = value.isoformat()
        values[item.name] = value
    return values


class Step(NamedTuple):
    step: str
    value: str
    citation: str


# Every code a rule (or the engine, for the policy's force and years) gives for nothing: typed, so that a rule cannot
# give one the enum lacks (mypy), and the enum lists no code a rule does not give (tests/eligibility).
NotEligibleReasonCode = TypeAliasType(
    "NotEligibleReasonCode",
    Annotated[
        Literal[
            "policy_not_in_force",
            "year_not_covered",
            "no_verified_investment",
            "platform_domain_not_listed",
            "investment_not_above_threshold",
            "grade_not_a",
            "no_tier",
            "tier_without_amount",
            "no_prior_revenue",
            "growth_not_fast",
            "rank_not_rewarded",
            "not_first_time_top500",
            "not_producer_service",
            "not_spun_off",
            "not_newly_established",
            "revenue_below_threshold",
            "no_actual_spend",
        ],
        Field(
            title="NotEligibleReasonCode",
            description="Why a measure gives nothing, a stable code for programs: the policy is not in force on the "
            "day or does not reward the year, or a condition of the measure's clause is not met",
        ),
    ],
)


class Reason(NamedTuple):
    code: NotEligibleReasonCode
    message: str


class Evaluation:
    """The working record of one evaluation: the trace, the reasons and the parameters read."""

    __slots__ = ("parameters_used", "params", "reasons", "trace", "traced")

    def __init__(self, params: Params, traced: bool = True) -> None:
        self.params = params
        # Screening and simulation evaluate hundreds of thousands of subjects and keep no trace.
        self.traced = traced
        self.trace: list[Step] = []
        self.reasons: list[Reason] = []
        self.parameters_used: dict[str, JSONValue] = {}

    def step(self, step: str, value: object, citation: str) -> None:
        if not self.traced:
            return
        self.trace.append(Step(step, value if isinstance(value, str) else _text(value), citation))

    def param(self, name: str) -> Decimal:
        value = self.params.decimal(name)
        self._record(name)
        return value

    def param_year(self, name: str) -> int:
        value = self.params.year(name)
        self._record(name)
        return value

    def param_date(self, name: str) -> date:
        value = self.params.day(name)
        self._record(name)
        return value

    def table(self, name: str) -> dict[str, Decimal]:
        value = dict(self.params.table(name))
        self._record(name)
        return value

    def _record(self, name: str) -> None:
        if not self.traced:
            return
        self.parameters_used[name] = self.params.formatted[name]
        self.trace.append(Step(f"parameter {name}", self.params.shown[name], self.params.citations[name]))

    def refuse(self, code: NotEligibleReasonCode, message: str, citation: str) -> None:
        self.reasons.append(Reason(code, message))
        self.step("not eligible", message, citation)

    def ratio_capped(self, base: Decimal, ratio_name: str, cap_name: str, citation: str, base_label: str) -> Decimal:
        """ratio × base, rounded half-up to the fen, then capped — the policy's money rule."""
        ratio = self.param(ratio_name)
        cap = self.param(cap_name)
        product = base * ratio
        rounded = round_fen(product)
        amount = min(rounded, cap)
        if self.traced:
            self.trace += (
                Step(f"{ratio_name} × {base_label}", f"{ratio} × {base} = {product}", citation),
                Step("rounded half-up to the fen", str(rounded), citation),
                Step(f"capped at {cap_name}", f"min({rounded}, {cap}) = {amount}", citation),
            )
        return amount


def _text(value: object) -> str:
    # Money is held with exactly two places, so str() shows the fen.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


F = TypeVar("F")


@dataclass(frozen=True, slots=True)
class Rule(Generic[F]):
    """One computable measure: its facts and its formula. `evaluate` returns the amount, or None if not eligible."""

    measure_id: str
    citation: str
    facts_model: type[F]
    parameters: tuple[str, ...]
    evaluate: Callable[[F, Evaluation], Decimal | None]
    adapter: TypeAdapter[F] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "adapter", TypeAdapter(self.facts_model))

    @property
    def facts(self) -> list[str]:
        return [item.name for item in dataclasses.fields(self.facts_model)]  # type: ignore[arg-type]

    def parse(self, raw: Any) -> F:
        """Validate JSON-like facts (pydantic.ValidationError on a missing, ill-typed or unknown fact)."""
        return self.adapter.validate_python(raw)
