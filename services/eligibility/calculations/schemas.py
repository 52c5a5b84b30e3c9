from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from shared.money import Yuan


class CalculationIn(BaseModel):
    measure_id: str = Field(max_length=8, examples=["M01"], description="A computable measure (GET /measures)")
    as_of: date = Field(examples=["2025-06-30"])
    facts: dict[str, Any] = Field(
        examples=[{"verified_investment_yuan": "12000000.00", "special_major_approved": False}],
        description="The facts the measure reads; see the API guide",
    )
    year: int | None = Field(
        default=None,
        ge=2000,
        le=2100,
        description="The year the facts are of (a yearly measure's year rewarded, a project's year); outside the "
        "years the policy rewards (GET /parameters?measure_id=policy) the answer is `not eligible`",
    )


class StepOut(BaseModel):
    step: str
    value: str
    citation: str


class ReasonOut(BaseModel):
    code: str
    message: str


class CalculationOut(BaseModel):
    measure_id: str
    as_of: date
    eligible: bool
    amount_yuan: Yuan
    reasons: list[ReasonOut]
    trace: list[StepOut]
    parameters_used: dict[str, str | dict[str, str]]


class BatchOut(BaseModel):
    count: int
    items: list[CalculationOut] = Field(description="One answer per request item, in the order given")
