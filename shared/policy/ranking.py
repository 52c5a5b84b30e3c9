"""The ranking of 第（六）条 as data (ranking/methodologies.json): its indicators and its published versions.

The text names the indicators (新增数量、净增数量和营业收入增速) but fixes neither weights, normalisation nor
tie-breaking; every published methodology version lives in the data file, the same values the ranking service's
database holds (a version is inserted there by a migration and never changes). The award per rank is not here: it
is the M06 parameter `award_parameter` names (measures/m06_district_ranking_award.json), which the ranking reads
from the eligibility service. The indicator arithmetic the registry computes for the ranking is defined here too.
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.policy import POLICY_DIR
from shared.policy.parameters import read_policy_file
from shared.policy.references import Reference

METHODOLOGIES_FILE = POLICY_DIR / "ranking" / "methodologies.json"

IndicatorName = Literal["new_count", "net_increase", "revenue_growth"]
Normalisation = Literal["min_max", "z_score", "rank"]
GrowthBasis = Literal["comparable"]
TieBreakKey = Literal["revenue_growth", "net_increase", "new_count", "revenue_yuan"]
Version = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$", max_length=32)
]
Weight = Annotated[Decimal, Field(ge=0, le=1, max_digits=7, decimal_places=6)]
Fraction = Annotated[Decimal, Field(ge=0, le=1, max_digits=7, decimal_places=6)]
MinBase = Annotated[int, Field(ge=0, le=100_000)]
Winsorise = Annotated[Decimal, Field(gt=0, lt=Decimal("0.25"), max_digits=7, decimal_places=6)]


def _distinct(keys: list[TieBreakKey]) -> list[TieBreakKey]:
    if len(set(keys)) != len(keys):
        raise ValueError("a tie-break key may appear only once")
    return keys


TieBreak = Annotated[list[TieBreakKey], Field(max_length=4), AfterValidator(_distinct)]
# Growth as the registry reports it and the ranking compares it: six places, half-up.
GROWTH_PLACES = Decimal("0.000001")


class Weights(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    new_count: Weight = Field(description="New above-size enterprises (新增规上企业数)")
    net_increase: Weight = Field(description="Net increase of above-size enterprises (净增数)")
    revenue_growth: Weight = Field(description="Revenue growth on the comparable basis (营业收入增速)")

    @model_validator(mode="after")
    def _sum_to_one(self) -> "Weights":
        total = self.new_count + self.net_increase + self.revenue_growth
        if total != 1:
            raise ValueError(f"the weights must sum to exactly 1, these sum to {total}")
        return self


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Indicator(_Strict):
    name: IndicatorName
    label_zh: str
    label_en: str
    definition: str


class MethodologyVersion(_Strict):
    """One published version, as the methodologies table holds it."""

    version: Version
    weights: Weights
    normalisation: Normalisation
    growth_basis: GrowthBasis
    min_base: MinBase
    winsorise: Winsorise | None
    tie_break: TieBreak
    max_unreported_share: Fraction
    description: str = Field(min_length=3, max_length=4000)
    published_on: date
    # The migration of the ranking service that inserts the version (services/ranking/migrations/versions/).
    inserted_by_migration: str


class RankingMethodologies(_Strict):
    measure_id: Literal["M06"]
    reference: Reference
    award_parameter: str
    indicators: list[Indicator]
    default_version: Version
    versions: list[MethodologyVersion] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "RankingMethodologies":
        if [indicator.name for indicator in self.indicators] != ["new_count", "net_increase", "revenue_growth"]:
            raise ValueError("the indicators are new_count, net_increase and revenue_growth, in that order")
        versions = [v.version for v in self.versions]
        if len(set(versions)) != len(versions):
            raise ValueError("a methodology version appears twice")
        if self.default_version not in versions:
            raise ValueError(f"the default version {self.default_version!r} is not among the versions")
        return self

    @property
    def default(self) -> MethodologyVersion:
        return next(v for v in self.versions if v.version == self.default_version)


def read_methodologies(path: Path = METHODOLOGIES_FILE) -> RankingMethodologies:
    return read_policy_file(path, RankingMethodologies)


@cache
def published_methodologies() -> RankingMethodologies:
    """The data file as shipped: read once per process."""
    return read_methodologies()


def comparable_growth(revenue_yuan: Decimal, prior_revenue_yuan: Decimal) -> Decimal | None:
    """营业收入增速 on the comparable basis: revenue ÷ the year before's − 1, six places; None without a base."""
    if prior_revenue_yuan <= 0:
        return None
    return (revenue_yuan / prior_revenue_yuan - 1).quantize(GROWTH_PLACES, rounding=ROUND_HALF_UP)
