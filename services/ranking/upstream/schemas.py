"""What the ranking reads from the other services, validated on arrival and kept verbatim in each run."""

from datetime import date
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
    # Enterprises that moved in or out between the years, above size in Y − 1 in the district with no verified
    # record for Y (unreported: never an exit), and records of Y in the district that wait for the city's
    # verification. Read as 0 from a registry that does not report them yet.
    moved_in_count: int = Field(default=0, ge=0)
    moved_out_count: int = Field(default=0, ge=0)
    unreported_count: int = Field(default=0, ge=0)
    awaiting_verification_count: int = Field(default=0, ge=0)

    @property
    def has_above_scale_enterprise(self) -> bool:
        """At least one above-size enterprise in the year or the base year: the district can take an award place."""
        return self.above_scale_count > 0 or self.prior_above_scale_count > 0


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


class PolicyValidity(BaseModel):
    """The years the policy rewards and its force, as the eligibility service holds them (one home, no copy)."""

    model_config = ConfigDict(frozen=True)

    effective_from: date
    effective_to: date
    first_rewarded_year: int
    last_rewarded_year: int
    citation: str

    def covers_year(self, year: int) -> bool:
        return self.first_rewarded_year <= year <= self.last_rewarded_year

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day <= self.effective_to

    def clamp(self, day: date) -> date:
        """`day` moved into the force: the first or the last day of it when it lies before or after."""
        return min(max(day, self.effective_from), self.effective_to)
