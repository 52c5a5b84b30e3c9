from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from shared.identifiers import DistrictCode
from shared.money import StoredYuan

# A ratio with six places, answered as a string (e.g. revenue growth "0.125000", 12.5 %).
Ratio = Annotated[
    Decimal,
    PlainSerializer(lambda value: f"{value:.6f}", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+\.\d{6}$", "examples": ["0.125000"]}),
]


class DistrictStats(BaseModel):
    """One district's above-size producer-service enterprises, from VERIFIED enterprise-years only, each counted in
    the district its yearly record names."""

    district_code: DistrictCode
    district_name: str = Field(examples=["渝中区"])
    above_scale_count: int = Field(description="Verified above designated size in the year, in the district")
    prior_above_scale_count: int = Field(
        description="Verified above designated size in the year before, in the district"
    )
    new_above_scale_count: int = Field(
        description="Above size in the year, not (verified) above size in the year before"
    )
    moved_in_count: int = Field(
        description="Above size in the year here, above size in another district the year before"
    )
    moved_out_count: int = Field(
        description="Above size here the year before, above size in another district in the year"
    )
    exited_count: int = Field(
        description="Above size here the year before, and recorded (verified) as not above size in the year"
    )
    unreported_count: int = Field(
        description="Above size here the year before, and no verified record for the year (not counted as an exit)"
    )
    awaiting_verification_count: int = Field(description="Records of the year in the district not yet verified")
    net_increase: int = Field(
        description="above_scale_count − prior_above_scale_count = new + moved_in − exited − moved_out − unreported"
    )
    revenue_yuan: StoredYuan = Field(description="Revenue of the enterprises above size in the year")
    comparable_count: int = Field(description="Enterprises above size in both years in the district")
    comparable_revenue_yuan: StoredYuan
    comparable_prior_revenue_yuan: StoredYuan
    revenue_growth: Ratio | None = Field(
        description="comparable_revenue / comparable_prior_revenue − 1, six places; null without a comparable base"
    )


class DistrictStatsReport(BaseModel):
    year: int
    base_year: int
    enterprise_years_in_year: int = Field(description="Yearly figures the registry holds for the year")
    enterprise_years_in_base_year: int = Field(description="Yearly figures the registry holds for the base year")
    verified_enterprise_years_in_year: int = Field(description="Of those for the year, how many are verified")
    verified_enterprise_years_in_base_year: int = Field(description="Of those for the base year, how many are verified")
    districts: list[DistrictStats]
