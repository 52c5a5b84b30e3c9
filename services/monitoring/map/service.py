"""The producer-services map (第（二十三）条): per district × sector, from the registry's verified figures and the
ledger's standing awards.

Counts are shown to everyone who may read the map. Revenue and employees of a cell with fewer above-size
enterprises than small_cell_minimum are withheld from a caller who may not read that district (a district key on
another district; the public view of a publication), so that one enterprise's figures never show through an
aggregate. A district's totals are withheld too when they would give the withheld cells away: unless the withheld
cells hold at least small_cell_minimum enterprises together, the total minus the shown cells would be them.
"""

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from services.monitoring.assessments.compute import six
from services.monitoring.assessments.service import check_plan_year
from services.monitoring.map.schemas import DistrictTotals, MapCell, MapReport
from services.monitoring.upstream.client import Upstreams
from services.monitoring.upstream.schemas import AwardSummary, MonitoringStats, StatsCell
from shared.money import round_fen
from shared.policy.targets import plan_targets
from shared.reference import DISTRICT_REGIONS, DISTRICTS, REGION_NAMES, SECTORS

_SECTOR_NAMES = {sector.code: sector.name_zh for sector in SECTORS}
# Whose figures a viewer may see in full, by district code.
Viewer = Callable[[str], bool]


def growth(revenue: Decimal, prior: Decimal) -> Decimal | None:
    """Revenue of the year against the year before, gross (the enterprises of each year as they are), six places."""
    return six(revenue / prior - 1) if prior > 0 else None


def _cells(
    stats: MonitoringStats, leading: dict[tuple[str, str], int], sees: Viewer, minimum: int
) -> tuple[list[MapCell], dict[str, list[StatsCell]], dict[str, int]]:
    cells: list[MapCell] = []
    by_district: dict[str, list[StatsCell]] = defaultdict(list)
    withheld: dict[str, int] = defaultdict(int)
    for cell in stats.cells:
        by_district[cell.district_code].append(cell)
        hidden = not sees(cell.district_code) and cell.above_scale_count < minimum
        if hidden:
            withheld[cell.district_code] += cell.above_scale_count
        cells.append(
            MapCell(
                district_code=cell.district_code,
                sector=cell.sector,
                sector_name_zh=_SECTOR_NAMES.get(cell.sector, cell.sector),
                above_scale_count=cell.above_scale_count,
                new_above_scale_since_baseline=cell.new_above_scale_since_baseline,
                revenue_yuan=None if hidden else round_fen(cell.revenue_yuan),
                employees=None if hidden else cell.employees,
                revenue_growth=None if hidden else growth(cell.revenue_yuan, cell.prior_year_revenue_yuan),
                suppressed=hidden,
                leading_enterprises=leading.get((cell.district_code, cell.sector), 0),
            )
        )
    return cells, by_district, withheld


def build_map(stats: MonitoringStats, awards: AwardSummary, sees: Viewer, generated_at: datetime) -> MapReport:
    minimum = plan_targets().parameters.small_cell_minimum
    threshold = plan_targets().parameters.cluster_revenue_threshold_yuan
    leading = {(row.district_code, row.sector): row.count for row in stats.leading_enterprises}
    cells, by_district, withheld = _cells(stats, leading, sees, minimum)
    award_counts: dict[str, int] = defaultdict(int)
    award_amounts: dict[str, Decimal] = defaultdict(Decimal)
    for group in awards.groups:
        if group.district_code is not None:
            award_counts[group.district_code] += group.count
            award_amounts[group.district_code] += group.amount_yuan
    districts = []
    for district in DISTRICTS:
        mine: Sequence[StatsCell] = by_district.get(district.code, [])
        count = sum(cell.above_scale_count for cell in mine)
        hidden = 0 < withheld[district.code] < minimum
        revenue = sum((cell.revenue_yuan for cell in mine), Decimal(0))
        prior = sum((cell.prior_year_revenue_yuan for cell in mine), Decimal(0))
        clusters = [cluster for cluster in stats.clusters if cluster.district_code == district.code]
        districts.append(
            DistrictTotals(
                district_code=district.code,
                district_name=district.name,
                region=DISTRICT_REGIONS[district.code],
                region_name_zh=REGION_NAMES[DISTRICT_REGIONS[district.code]],
                above_scale_count=count,
                revenue_yuan=None if hidden else round_fen(revenue),
                employees=None if hidden else sum(cell.employees for cell in mine),
                revenue_growth=None if hidden else growth(revenue, prior),
                suppressed=withheld[district.code] > 0,
                clusters=len(clusters),
                clusters_reaching_10bn=sum(1 for cluster in clusters if cluster.revenue_yuan >= threshold),
                leading_enterprises=sum(n for (code, _), n in leading.items() if code == district.code),
                awards=award_counts[district.code],
                award_amount_yuan=round_fen(award_amounts[district.code]),
            )
        )
    return MapReport(
        year=stats.year,
        baseline_year=stats.baseline_year,
        generated_at=generated_at,
        small_cell_minimum=minimum,
        districts=districts,
        cells=cells,
    )


async def producer_services_map(upstreams: Upstreams, year: int, sees: Viewer, generated_at: datetime) -> MapReport:
    check_plan_year(year, ["path", "year"])
    stats, awards = await asyncio.gather(
        upstreams.monitoring_stats(year, plan_targets().baseline_year), upstreams.standing_awards(year)
    )
    return build_map(stats, awards, sees, generated_at)
