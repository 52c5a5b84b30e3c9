"""Methodology versions over HTTP. The types and the defaults of a new version are the published default's
(shared/policy/ranking/methodologies.json); the indicator the data file names `new_count` is `new_above_scale_count`
here (services.ranking.vocabulary)."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from services.ranking.decimals import Six
from services.ranking.vocabulary import (
    GrowthBasis,
    Normalisation,
    TieBreakKey,
    api_key,
    api_keys,
    with_both_names,
)
from shared.identifiers import Storable
from shared.policy.ranking import Fraction, MinBase, Version, Weight, Winsorise, published_methodologies

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
DEPRECATED_NEW_COUNT = (
    "Deprecated (one release): the old name of `new_above_scale_count`, the registry's name for the same count."
)


def _distinct(keys: list[str]) -> list[str]:
    if len(set(keys)) != len(keys):
        raise ValueError("a tie-break key may appear only once")
    return keys


# Keys given by their old name (`new_count`, deprecated) are read as the new one.
TieBreakIn = Annotated[
    list[Annotated[TieBreakKey, BeforeValidator(lambda key: api_key(key) if isinstance(key, str) else key)]],
    Field(max_length=4),
    AfterValidator(_distinct),
]
TieBreakOut = Annotated[list[TieBreakKey], BeforeValidator(api_keys)]
DEFAULT_TIE_BREAK = TypeAdapter(list[TieBreakKey])


class MethodologyWeightsIn(BaseModel):
    """The weight of each indicator, six places at most, summing to exactly 1."""

    model_config = ConfigDict(extra="forbid")

    new_above_scale_count: Weight | None = Field(
        default=None,
        description="New above-size enterprises (新增规上企业数). Required; for one release the deprecated "
        "`new_count` may stand in its place",
        examples=["0.3"],
    )
    net_increase: Weight = Field(description="Net increase of above-size enterprises (净增数)", examples=["0.3"])
    revenue_growth: Weight = Field(
        description="Revenue growth on the comparable basis (营业收入增速)", examples=["0.4"]
    )
    new_count: Weight | None = Field(
        default=None, description=DEPRECATED_NEW_COUNT, json_schema_extra={"deprecated": True}
    )

    @model_validator(mode="after")
    def _one_name_summing_to_one(self) -> "MethodologyWeightsIn":
        if (self.new_above_scale_count is None) == (self.new_count is None):
            raise ValueError("give the weight of new_above_scale_count (or its deprecated name new_count), once")
        total = self.new_above_scale_count_weight + self.net_increase + self.revenue_growth
        if total != 1:
            raise ValueError(f"the weights must sum to exactly 1, these sum to {total}")
        return self

    @property
    def new_above_scale_count_weight(self) -> Decimal:
        weight = self.new_above_scale_count if self.new_above_scale_count is not None else self.new_count
        assert weight is not None  # checked by the validator
        return weight


class MethodologyWeights(BaseModel):
    new_above_scale_count: Six
    net_increase: Six
    revenue_growth: Six
    new_count: Six = Field(description=DEPRECATED_NEW_COUNT, json_schema_extra={"deprecated": True})

    @model_validator(mode="before")
    @classmethod
    def _both_names(cls, data: object) -> object:
        return with_both_names(data)


class MethodologyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Version = Field(examples=["2025.1"])
    weights: MethodologyWeightsIn
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
        examples=["0.05"],
    )
    tie_break: TieBreakIn = Field(
        default_factory=lambda: DEFAULT_TIE_BREAK.validate_python([api_key(key) for key in DEFAULT_VERSION.tie_break]),
        description="Applied in order after an equal score; district_code ascending always ends the order. For one "
        "release `new_count` (deprecated) is read as `new_above_scale_count`",
    )
    max_unreported_share: Fraction = Field(
        default=DEFAULT_MAX_UNREPORTED_SHARE,
        description="The data-quality gate refuses to publish a run in which a district's unreported enterprises "
        "(above size in the base year, no verified record for the year) are more than this share of its above-size "
        "enterprises of the base year",
        examples=["0.05"],
    )
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=4000), Storable]
    make_default: bool = Field(default=False, description="Make this version the one runs use when none is named")


class MethodologyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: str = Field(examples=["2024.1"])
    weights: MethodologyWeights
    normalisation: Normalisation
    growth_basis: GrowthBasis
    min_base: int
    winsorise: Six | None
    tie_break: TieBreakOut
    tie_break_rule: str = TIE_BREAK_RULE
    max_unreported_share: Six
    description: str
    is_default: bool
    created_at: datetime
    created_by: str


class MethodologyList(BaseModel):
    items: list[MethodologyOut]
