"""What the ranking reads from the other services, validated on arrival and kept verbatim in each run."""

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.ranking.decimals import Six
from shared.money import Yuan


class DistrictStatsIn(BaseModel):
    """One district's row of the registry's GET /district-stats/{year}."""

    model_config = ConfigDict(extra="ignore")

    district_code: str
    district_name: str
    above_scale_count: int
    prior_above_scale_count: int
    new_above_scale_count: int
    exited_count: int
    net_increase: int
    revenue_yuan: Yuan
    comparable_count: int
    comparable_revenue_yuan: Yuan
    comparable_prior_revenue_yuan: Yuan
    revenue_growth: Annotated[Six | None, Field(description="comparable basis, six places; null without a base")]


class DistrictStatsReportIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    year: int
    base_year: int
    enterprise_years_in_year: int
    enterprise_years_in_base_year: int
    districts: list[DistrictStatsIn]


class AwardTable(BaseModel):
    """The M06 award per rank as the eligibility service gave it for `as_of`."""

    parameter: str
    as_of: str
    citation: str
    by_rank: dict[int, Decimal]

    def award(self, rank: int) -> Decimal:
        return self.by_rank.get(rank, Decimal("0.00"))
