from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer

from shared.money import StoredYuan

Ratio = Annotated[Decimal, PlainSerializer(lambda value: f"{value:.6f}", return_type=str, when_used="json")]


class DistrictStats(BaseModel):
    district_code: str
    district_name: str
    above_scale_count: int = Field(description="Enterprises above designated size in the year")
    prior_above_scale_count: int = Field(description="Enterprises above designated size in the year before")
    new_above_scale_count: int = Field(description="Above size in the year, not in the year before")
    exited_count: int = Field(description="Above size in the year before, not in the year")
    net_increase: int = Field(description="above_scale_count − prior_above_scale_count (= new − exited)")
    revenue_yuan: StoredYuan = Field(description="Revenue of the enterprises above size in the year")
    comparable_count: int = Field(description="Enterprises above size in both years")
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
    districts: list[DistrictStats]
