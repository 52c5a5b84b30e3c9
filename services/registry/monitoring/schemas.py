from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, model_validator

from shared.identifiers import DistrictCode, SectorCode
from shared.money import StoredYuan


class MonitoringCell(BaseModel):
    """One district and sector: verified enterprise-years only, each in the district its yearly record names and the
    sector of its enterprise. Revenue and employees are those of the enterprises above size (规模以上, the
    statistical basis of the plan's figures), so that they go with `above_scale_count`."""

    district_code: DistrictCode
    sector: SectorCode
    above_scale_count: int = Field(description="Verified above designated size in the year")
    revenue_yuan: StoredYuan = Field(description="Revenue of those enterprises in the year")
    employees: int = Field(description="Employees of those enterprises in the year")
    new_above_scale_since_baseline: int = Field(
        description="Of those, the ones not verified above size in the baseline year (wherever they were)"
    )
    prior_above_scale_count: int = Field(description="Verified above size in the year before, in this cell")
    prior_revenue_yuan: StoredYuan = Field(description="Revenue of those enterprises in the year before")
    # The names of the district statistics and M05's facts; the old ones are sent as well for one release.
    prior_year_above_scale_count: int = Field(
        description="Deprecated: `prior_above_scale_count`, sent under its old name for one release.",
        json_schema_extra={"deprecated": True},
    )
    prior_year_revenue_yuan: StoredYuan = Field(
        description="Deprecated: `prior_revenue_yuan`, sent under its old name for one release.",
        json_schema_extra={"deprecated": True},
    )

    @model_validator(mode="before")
    @classmethod
    def _old_names_too(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "prior_above_scale_count" in data:
            return {
                **data,
                "prior_year_above_scale_count": data["prior_above_scale_count"],
                "prior_year_revenue_yuan": data.get("prior_revenue_yuan"),
            }
        return data


class ClusterRevenue(BaseModel):
    cluster_id: int
    name: str
    district_code: DistrictCode
    revenue_yuan: StoredYuan = Field(description="The cluster's verified revenue of the year")


class LeadingEnterpriseCount(BaseModel):
    district_code: DistrictCode = Field(description="The enterprise's district (now)")
    sector: SectorCode = Field(description="The enterprise's sector (now)")
    count: int = Field(description="市级领军企业 designated in or before the year and standing at its end")


class MonitoringStats(BaseModel):
    """What the registry measures for the monitoring of 渝府发〔2024〕18号 (第（三十一）条: 可统计、可监测、可评估)."""

    year: int
    baseline_year: int
    cells: list[MonitoringCell] = Field(description="Cells with any count, by district_code, sector")
    clusters: list[ClusterRevenue] = Field(description="Every cluster with a verified revenue of the year, by id")
    leading_enterprises: list[LeadingEnterpriseCount] = Field(description="By district_code, sector")
