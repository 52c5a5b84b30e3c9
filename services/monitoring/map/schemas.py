"""The producer-services map (第（二十三）条): per district and sector, what the registry and the ledger hold."""

from datetime import datetime

from pydantic import BaseModel, Field

from services.monitoring.assessments.schemas import Figure
from services.monitoring.vocabulary import MapIndicator, MapRegion
from shared.identifiers import DistrictCode, SectorCode
from shared.money import StoredYuan

__all__ = ["MapIndicator"]

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
    """One district × sector. Its money and people (revenue, employees, growth) are shown only to a caller who may
    read the district (the city, the auditor, the district itself); everyone else sees the counts (`suppressed`)."""

    district_code: DistrictCode
    sector: SectorCode
    sector_name_zh: str
    above_scale_count: int
    new_above_scale_since_baseline: int
    revenue_yuan: StoredYuan | None
    employees: int | None
    revenue_growth: Figure | None = Field(description="revenue / revenue of the year before − 1, 6 places")
    suppressed: bool
    leading_enterprises: int


class DistrictTotals(BaseModel):
    """One district. To a caller who may not read it, its revenue and employees show only over at least
    small_cell_minimum enterprises (its growth only if the year before had as many too), its award amount not."""

    district_code: DistrictCode
    district_name: str
    region: MapRegion = Field(description="一区两群, the tile map's grouping (shared.reference.REGION_NAMES)")
    region_name_zh: str
    above_scale_count: int
    revenue_yuan: StoredYuan | None
    employees: int | None
    revenue_growth: Figure | None
    suppressed: bool = Field(description="The district's revenue and employees are withheld from this caller")
    clusters: int = Field(description="Clusters with a verified revenue for the year")
    clusters_reaching_10bn: int = Field(description="Of those, with a yearly revenue of 10,000,000,000 yuan or more")
    leading_enterprises: int
    awards: int = Field(description="Standing awards of the year (the ledger's summary)")
    award_amount_yuan: StoredYuan | None = Field(description="Their amount: to a caller who may read the district")


class SectorTotals(BaseModel):
    """One sector over the whole city (the city's aggregate). Its money and people show when the enterprises of
    the districts the caller may not read number none or at least small_cell_minimum (the total minus the caller's
    own would otherwise single someone out)."""

    sector: SectorCode
    sector_name_zh: str
    above_scale_count: int
    new_above_scale_since_baseline: int
    revenue_yuan: StoredYuan | None
    employees: int | None
    revenue_growth: Figure | None
    suppressed: bool
    leading_enterprises: int


class MapReport(BaseModel):
    year: int
    baseline_year: int
    generated_at: datetime
    small_cell_minimum: int
    districts: list[DistrictTotals] = Field(description="All 38, in the order of the code")
    sectors: list[SectorTotals] = Field(description="The 18 sectors over the whole city, in the plan's order")
    cells: list[MapCell] = Field(description="Every district × sector with an above-size enterprise")
