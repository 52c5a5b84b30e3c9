"""The producer-services map (第（二十三）条): per district and sector, what the registry and the ledger hold."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.monitoring.assessments.schemas import Figure
from shared.money import StoredYuan
from shared.reference import Region

# What a map can be coloured by: each is a field of DistrictTotals.
MapIndicator = Literal[
    "above_scale_count",
    "revenue_yuan",
    "employees",
    "revenue_growth",
    "clusters",
    "clusters_reaching_10bn",
    "leading_enterprises",
    "awards",
    "award_amount_yuan",
]
MAP_INDICATORS: tuple[MapIndicator, ...] = (
    "above_scale_count",
    "revenue_yuan",
    "employees",
    "revenue_growth",
    "clusters",
    "clusters_reaching_10bn",
    "leading_enterprises",
    "awards",
    "award_amount_yuan",
)


class MapCell(BaseModel):
    """One district × sector. Revenue and employees of a cell with fewer enterprises than small_cell_minimum are
    withheld (null, `suppressed`) from a district key on another district: one enterprise's figures never show."""

    district_code: str
    sector: str
    sector_name_zh: str
    above_scale_count: int
    new_above_scale_since_baseline: int
    revenue_yuan: StoredYuan | None
    employees: int | None
    revenue_growth: Figure | None = Field(description="revenue / revenue of the year before − 1, 6 places")
    suppressed: bool
    leading_enterprises: int


class DistrictTotals(BaseModel):
    district_code: str
    district_name: str
    region: Region = Field(description="一区两群, the tile map's grouping (shared.reference.REGION_NAMES)")
    region_name_zh: str
    above_scale_count: int
    revenue_yuan: StoredYuan | None
    employees: int | None
    revenue_growth: Figure | None
    suppressed: bool = Field(description="Some of the district's revenue or employees are withheld from this caller")
    clusters: int = Field(description="Clusters with a verified revenue for the year")
    clusters_reaching_10bn: int = Field(description="Of those, with a yearly revenue of 10,000,000,000 yuan or more")
    leading_enterprises: int
    awards: int = Field(description="Standing awards of the year (the ledger's summary)")
    award_amount_yuan: StoredYuan | None = Field(description="Their amount; withheld when they are fewer than 3")


class MapReport(BaseModel):
    year: int
    baseline_year: int
    generated_at: datetime
    small_cell_minimum: int
    districts: list[DistrictTotals] = Field(description="All 38, in the order of the code")
    cells: list[MapCell] = Field(description="Every district × sector with an above-size enterprise")
