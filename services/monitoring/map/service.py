"""The producer-services map (第（二十三）条): per district × sector, from the registry's verified figures and the
ledger's standing awards.

"Districts read their own and the city's aggregates" (issue 18): a caller sees every count, and the money and
people (revenue, employees, growth, award amounts) of the districts it may read — the city and the auditor all,
a district its own. Of the other districts it sees only aggregates that hold at least small_cell_minimum
enterprises:
- a district's total (what the registry's district statistics give every key), and its growth only when the year
  before held as many too (revenue / (1 + growth) is that year's total);
- a sector's total over the city, when the enterprises it holds outside the caller's own districts number none
  or at least the minimum (the total minus the caller's own would otherwise single someone out).
No other district's cell shows money: a cell beside published totals is where one enterprise's figures would
show through. The award amounts of other districts stay with the ledger's own scoping. A publication is read by
anyone: it shows what a caller who may read no district sees.
"""

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal, localcontext

from services.monitoring.assessments.compute import PRECISION, six
from services.monitoring.assessments.service import check_plan_year
from services.monitoring.map.schemas import DistrictTotals, MapCell, MapReport, SectorTotals
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
    if prior <= 0:
        return None
    with localcontext() as context:
        context.prec = PRECISION
        return six(revenue / prior - 1)


def _enough(count: int, minimum: int) -> bool:
    """Whether an aggregate over `count` enterprises singles no one out."""
    return count == 0 or count >= minimum


def _cell(cell: StatsCell, seen: bool, leading: int) -> MapCell:
    return MapCell(
        district_code=cell.district_code,
        sector=cell.sector,
        sector_name_zh=_SECTOR_NAMES.get(cell.sector, cell.sector),
        above_scale_count=cell.above_scale_count,
        new_above_scale_since_baseline=cell.new_above_scale_since_baseline,
        revenue_yuan=round_fen(cell.revenue_yuan) if seen else None,
        employees=cell.employees if seen else None,
        revenue_growth=growth(cell.revenue_yuan, cell.prior_revenue_yuan) if seen else None,
        suppressed=not seen,
        leading_enterprises=leading,
    )


def _district(
    code: str,
    cells: Sequence[StatsCell],
    stats: MonitoringStats,
    leading: int,
    awards: tuple[int, Decimal],
    seen: bool,
    minimum: int,
    threshold: Decimal,
) -> DistrictTotals:
    count = sum(cell.above_scale_count for cell in cells)
    prior_count = sum(cell.prior_above_scale_count for cell in cells)
    shown = seen or _enough(count, minimum)
    revenue = sum((cell.revenue_yuan for cell in cells), Decimal(0))
    prior = sum((cell.prior_revenue_yuan for cell in cells), Decimal(0))
    clusters = [cluster for cluster in stats.clusters if cluster.district_code == code]
    award_count, award_amount = awards
    name = next(d.name for d in DISTRICTS if d.code == code)
    return DistrictTotals(
        district_code=code,
        district_name=name,
        region=DISTRICT_REGIONS[code],
        region_name_zh=REGION_NAMES[DISTRICT_REGIONS[code]],
        above_scale_count=count,
        revenue_yuan=round_fen(revenue) if shown else None,
        employees=sum(cell.employees for cell in cells) if shown else None,
        revenue_growth=growth(revenue, prior) if shown and (seen or _enough(prior_count, minimum)) else None,
        suppressed=not shown,
        clusters=len(clusters),
        clusters_reaching_10bn=sum(1 for cluster in clusters if cluster.revenue_yuan >= threshold),
        leading_enterprises=leading,
        awards=award_count,
        award_amount_yuan=round_fen(award_amount) if seen else None,
    )


def _sector(sector: str, cells: Sequence[StatsCell], sees: Viewer, leading: int, minimum: int) -> SectorTotals:
    others = sum(cell.above_scale_count for cell in cells if not sees(cell.district_code))
    others_before = sum(cell.prior_above_scale_count for cell in cells if not sees(cell.district_code))
    shown = _enough(others, minimum)
    revenue = sum((cell.revenue_yuan for cell in cells), Decimal(0))
    prior = sum((cell.prior_revenue_yuan for cell in cells), Decimal(0))
    return SectorTotals(
        sector=sector,
        sector_name_zh=_SECTOR_NAMES[sector],
        above_scale_count=sum(cell.above_scale_count for cell in cells),
        new_above_scale_since_baseline=sum(cell.new_above_scale_since_baseline for cell in cells),
        revenue_yuan=round_fen(revenue) if shown else None,
        employees=sum(cell.employees for cell in cells) if shown else None,
        revenue_growth=growth(revenue, prior) if shown and _enough(others_before, minimum) else None,
        suppressed=not shown,
        leading_enterprises=leading,
    )


def build_map(stats: MonitoringStats, awards: AwardSummary, sees: Viewer, generated_at: datetime) -> MapReport:
    parameters = plan_targets().parameters
    minimum = parameters.small_cell_minimum
    leading_by_district: dict[str, int] = defaultdict(int)
    leading_by_sector: dict[str, int] = defaultdict(int)
    leading_by_cell: dict[tuple[str, str], int] = {}
    for row in stats.leading_enterprises:
        leading_by_district[row.district_code] += row.count
        leading_by_sector[row.sector] += row.count
        leading_by_cell[(row.district_code, row.sector)] = row.count
    by_district: dict[str, list[StatsCell]] = defaultdict(list)
    by_sector: dict[str, list[StatsCell]] = defaultdict(list)
    for cell in stats.cells:
        by_district[cell.district_code].append(cell)
        by_sector[cell.sector].append(cell)
    award_totals: dict[str, tuple[int, Decimal]] = {}
    for group in awards.groups:
        if group.district_code is not None:
            count, amount = award_totals.get(group.district_code, (0, Decimal(0)))
            award_totals[group.district_code] = (count + group.count, amount + group.amount_yuan)
    districts = [
        _district(
            district.code,
            by_district.get(district.code, []),
            stats,
            leading_by_district[district.code],
            award_totals.get(district.code, (0, Decimal(0))),
            sees(district.code),
            minimum,
            parameters.cluster_revenue_threshold_yuan,
        )
        for district in DISTRICTS
    ]
    return MapReport(
        year=stats.year,
        baseline_year=stats.baseline_year,
        generated_at=generated_at,
        small_cell_minimum=minimum,
        districts=districts,
        sectors=[
            _sector(sector.code, by_sector.get(sector.code, []), sees, leading_by_sector[sector.code], minimum)
            for sector in SECTORS
        ],
        cells=[
            _cell(cell, sees(cell.district_code), leading_by_cell.get((cell.district_code, cell.sector), 0))
            for cell in stats.cells
            if cell.above_scale_count > 0
        ],
    )


async def producer_services_map(upstreams: Upstreams, year: int, sees: Viewer, generated_at: datetime) -> MapReport:
    check_plan_year(year, ["path", "year"])
    stats, awards = await asyncio.gather(
        upstreams.monitoring_stats(year, plan_targets().baseline_year), upstreams.standing_awards(year)
    )
    return build_map(stats, awards, sees, generated_at)
