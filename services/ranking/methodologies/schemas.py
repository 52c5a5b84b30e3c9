"""Methodology versions over HTTP. The types and the defaults of a new version are the published default's
(shared/policy/ranking/methodologies.json)."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.ranking.decimals import Six
from shared.identifiers import Storable
from shared.policy.ranking import (
    Fraction,
    GrowthBasis,
    MinBase,
    Normalisation,
    TieBreak,
    TieBreakKey,
    Version,
    Weights,
    Winsorise,
    published_methodologies,
)

DEFAULT_VERSION = published_methodologies().default
TIE_BREAK_RULE = (
    "Districts with an above-size enterprise in the year or the base year come first (a district with none in either "
    "year takes no award place); within each group districts are ordered by score (six decimal places, higher "
    "first); equal scores are settled by the keys of `tie_break` in order (higher first), and finally by "
    "district_code ascending, so every rank is unique. A run lists every award boundary (5/6, 10/11) on which two "
    "districts have equal scores and the key that decided it; a run in which district_code decided money is "
    "published only with a reason."
)
DEFAULT_MAX_UNREPORTED_SHARE = DEFAULT_VERSION.max_unreported_share


class WeightsOut(BaseModel):
    new_count: Six
    net_increase: Six
    revenue_growth: Six


class MethodologyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Version = Field(examples=["2025.1"])
    weights: Weights
    normalisation: Normalisation = DEFAULT_VERSION.normalisation
    growth_basis: GrowthBasis = DEFAULT_VERSION.growth_basis
    min_base: MinBase = Field(
        default=DEFAULT_VERSION.min_base,
        description="Comparable enterprises a district needs for its growth to count as is; below it the growth is "
        "capped at the median growth of the districts that meet it",
    )
    winsorise: Winsorise | None = Field(
        default=DEFAULT_VERSION.winsorise,
        description="Clip each indicator to this quantile and its complement across districts before normalising",
    )
    tie_break: TieBreak = Field(
        default_factory=lambda: list(DEFAULT_VERSION.tie_break),
        description="Applied in order after an equal score; district_code ascending always ends the order",
    )
    max_unreported_share: Fraction = Field(
        default=DEFAULT_MAX_UNREPORTED_SHARE,
        description="The data-quality gate refuses to publish a run in which a district's unreported enterprises "
        "(above size in the base year, no verified record for the year) are more than this share of its above-size "
        "enterprises of the base year",
    )
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=4000), Storable]
    make_default: bool = Field(default=False, description="Make this version the one runs use when none is named")


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
