from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from services.ranking.decimals import Six
from shared.identifiers import Storable

Normalisation = Literal["min_max", "z_score", "rank"]
GrowthBasis = Literal["comparable"]
TieBreakKey = Literal["revenue_growth", "net_increase", "new_count", "revenue_yuan"]
Version = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$", max_length=32)
]
Weight = Annotated[Decimal, Field(ge=0, le=1, max_digits=7, decimal_places=6)]

DEFAULT_TIE_BREAK: tuple[TieBreakKey, ...] = ("revenue_growth", "net_increase", "new_count")
TIE_BREAK_RULE = (
    "Districts with an above-size enterprise in the year or the base year come first (a district with none in either "
    "year takes no award place); within each group districts are ordered by score (six decimal places, higher "
    "first); equal scores are settled by the keys of `tie_break` in order (higher first), and finally by "
    "district_code ascending, so every rank is unique. A run lists every award boundary (5/6, 10/11) on which two "
    "districts have equal scores and the key that decided it; a run in which district_code decided money is "
    "published only with a reason."
)
DEFAULT_MAX_UNREPORTED_SHARE = Decimal("0.05")


class Weights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_count: Weight = Field(description="New above-size enterprises (新增规上企业数)")
    net_increase: Weight = Field(description="Net increase of above-size enterprises (净增数)")
    revenue_growth: Weight = Field(description="Revenue growth on the comparable basis (营业收入增速)")

    @model_validator(mode="after")
    def _sum_to_one(self) -> "Weights":
        total = self.new_count + self.net_increase + self.revenue_growth
        if total != 1:
            raise ValueError(f"the weights must sum to exactly 1, these sum to {total}")
        return self


class WeightsOut(BaseModel):
    new_count: Six
    net_increase: Six
    revenue_growth: Six


class MethodologyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Version = Field(examples=["2025.1"])
    weights: Weights
    normalisation: Normalisation = "min_max"
    growth_basis: GrowthBasis = "comparable"
    min_base: int = Field(
        default=5,
        ge=0,
        le=100_000,
        description="Comparable enterprises a district needs for its growth to count as is; below it the growth is "
        "capped at the median growth of the districts that meet it",
    )
    winsorise: Decimal | None = Field(
        default=None,
        gt=0,
        lt=Decimal("0.25"),
        max_digits=7,
        decimal_places=6,
        description="Clip each indicator to this quantile and its complement across districts before normalising",
    )
    tie_break: list[TieBreakKey] = Field(
        default_factory=lambda: list(DEFAULT_TIE_BREAK),
        max_length=4,
        description="Applied in order after an equal score; district_code ascending always ends the order",
    )
    max_unreported_share: Decimal = Field(
        default=DEFAULT_MAX_UNREPORTED_SHARE,
        ge=0,
        le=1,
        max_digits=7,
        decimal_places=6,
        description="The data-quality gate refuses to publish a run in which a district's unreported enterprises "
        "(above size in the base year, no verified record for the year) are more than this share of its above-size "
        "enterprises of the base year",
    )
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=4000), Storable]
    make_default: bool = Field(default=False, description="Make this version the one runs use when none is named")

    @field_validator("tie_break")
    @classmethod
    def _distinct(cls, keys: list[str]) -> list[str]:
        if len(set(keys)) != len(keys):
            raise ValueError("a tie-break key may appear only once")
        return keys


class MethodologyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: str
    weights: WeightsOut
    normalisation: Normalisation
    growth_basis: GrowthBasis
    min_base: int
    winsorise: Six | None
    tie_break: list[TieBreakKey]
    tie_break_rule: str = TIE_BREAK_RULE
    max_unreported_share: Six
    description: str
    is_default: bool
    created_at: datetime
    created_by: str


class MethodologyList(BaseModel):
    items: list[MethodologyOut]
