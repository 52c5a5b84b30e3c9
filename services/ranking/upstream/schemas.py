"""What the ranking reads from the other services, validated on arrival and kept verbatim in each run."""

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from services.ranking.decimals import Six
from shared.identifiers import DistrictCode
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


class _Verbatim(BaseModel):
    """Part of a run's frozen inputs: answered as stored, the fields it was stored with and no others, so that the
    input hash can be checked against the answer (a run stored before a field existed answers without it)."""

    @model_serializer(mode="wrap")
    def _as_stored(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        dumped: dict[str, object] = handler(self)
        return {name: value for name, value in dumped.items() if name in self.model_fields_set}


class RunInputDistrict(DistrictStatsIn, _Verbatim):
    """One district's statistics as the registry reported them for the run."""

    district_code: DistrictCode


class RunInputRegistry(_Verbatim):
    """The registry's GET /district-stats/{year}, as used."""

    year: int
    base_year: int
    enterprise_years_in_year: int
    enterprise_years_in_base_year: int
    districts: list[RunInputDistrict]


class RunInputPolicy(_Verbatim):
    """The policy's force and rewarded years, as the eligibility service gave them."""

    effective_from: date
    effective_to: date
    first_rewarded_year: int
    last_rewarded_year: int
    citation: str


class RunInputAwardTable(_Verbatim):
    """The M06 award per rank (`"1"`, `"2"`, …) as the eligibility service gave it for `as_of`."""

    parameter: str = Field(examples=["m06.award_by_rank_yuan"])
    citation: str
    by_rank: dict[str, Yuan] = Field(examples=[{"1": "5000000.00", "6": "3000000.00"}])


class RunInputs(_Verbatim):
    """What a run was computed from, kept verbatim in the run and covered by its input hash."""

    as_of: date = Field(description="The date the award table was read for")
    policy: RunInputPolicy
    registry: RunInputRegistry
    award_table: RunInputAwardTable
