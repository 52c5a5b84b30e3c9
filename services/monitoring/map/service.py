"""The producer-services map (第（二十三）条): per district × sector, from the registry's verified figures and the
ledger's standing awards.

Counts are shown to everyone who may read the map. Money and people are withheld from a caller who may not read
the district (a district key on another district; everyone in a publication's public view) wherever they would
show fewer than small_cell_minimum enterprises:
- a cell with fewer enterprises is withheld, and then the next smallest cells of the district too, until the
  withheld cells hold at least that many together (the district's total minus the shown cells — a total the
  registry's district statistics give every key holder — must not single anyone out);
- a district total over fewer enterprises is withheld (and so are all its cells);
- a growth figure gives the year before away (revenue / (1 + growth)): it is shown only where that year's figure
  would be shown too, by the same rules on that year's counts;
- the amount of a district's standing awards is withheld when they are fewer (the count shows).
"""

import asyncio
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, localcontext

from services.monitoring.assessments.compute import PRECISION, six
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
    if prior <= 0:
        return None
    with localcontext() as context:
        context.prec = PRECISION
        return six(revenue / prior - 1)


def withheld(counts: Mapping[str, int], minimum: int) -> set[str]:
    """The sectors of one district whose money and people are withheld, given each sector's enterprises: those
    under `minimum`, then the smallest others until the withheld ones hold `minimum` together (or all are)."""
    hidden = {sector for sector, count in counts.items() if 0 < count < minimum}
    together = sum(counts[sector] for sector in hidden)
    others = sorted((count, sector) for sector, count in counts.items() if count > 0 and sector not in hidden)
    while 0 < together < minimum and others:
        count, sector = others.pop(0)
        hidden.add(sector)
        together += count
    return hidden


def _shown_total(count: int, minimum: int) -> bool:
    return count == 0 or count >= minimum


def _district(
    code: str,
    cells: list[StatsCell],
    stats: MonitoringStats,
    leading: Mapping[tuple[str, str], int],
    awards: tuple[int, Decimal],
    sees_all: bool,
    minimum: int,
    threshold: Decimal,
) -> tuple[list[MapCell], DistrictTotals]:
    hidden = set() if sees_all else withheld({c.sector: c.above_scale_count for c in cells}, minimum)
    hidden_before = set() if sees_all else withheld({c.sector: c.prior_year_above_scale_count for c in cells}, minimum)
    count = sum(cell.above_scale_count for cell in cells)
    prior_count = sum(cell.prior_year_above_scale_count for cell in cells)
    total_shown = sees_all or _shown_total(count, minimum)
    prior_shown = sees_all or _shown_total(prior_count, minimum)
    shown_cells = []
    for cell in cells:
        hide = cell.sector in hidden or not total_shown
        hide_growth = hide or cell.sector in hidden_before or not prior_shown
        shown_cells.append(
            MapCell(
                district_code=code,
                sector=cell.sector,
                sector_name_zh=_SECTOR_NAMES.get(cell.sector, cell.sector),
                above_scale_count=cell.above_scale_count,
                new_above_scale_since_baseline=cell.new_above_scale_since_baseline,
                revenue_yuan=None if hide else round_fen(cell.revenue_yuan),
                employees=None if hide else cell.employees,
                revenue_growth=None if hide_growth else growth(cell.revenue_yuan, cell.prior_year_revenue_yuan),
                suppressed=hide,
                leading_enterprises=leading.get((code, cell.sector), 0),
            )
        )
    revenue = sum((cell.revenue_yuan for cell in cells), Decimal(0))
    prior = sum((cell.prior_year_revenue_yuan for cell in cells), Decimal(0))
    clusters = [cluster for cluster in stats.clusters if cluster.district_code == code]
    award_count, award_amount = awards
    awards_shown = sees_all or _shown_total(award_count, minimum)
    district = next(d for d in DISTRICTS if d.code == code)
    totals = DistrictTotals(
        district_code=code,
        district_name=district.name,
        region=DISTRICT_REGIONS[code],
        region_name_zh=REGION_NAMES[DISTRICT_REGIONS[code]],
        above_scale_count=count,
        revenue_yuan=round_fen(revenue) if total_shown else None,
        employees=sum(cell.employees for cell in cells) if total_shown else None,
        revenue_growth=growth(revenue, prior) if total_shown and prior_shown else None,
        suppressed=bool(hidden) or not total_shown or not awards_shown,
        clusters=len(clusters),
        clusters_reaching_10bn=sum(1 for cluster in clusters if cluster.revenue_yuan >= threshold),
        leading_enterprises=sum(n for (district_code, _), n in leading.items() if district_code == code),
        awards=award_count,
        award_amount_yuan=round_fen(award_amount) if awards_shown else None,
    )
    return shown_cells, totals


def build_map(stats: MonitoringStats, awards: AwardSummary, sees: Viewer, generated_at: datetime) -> MapReport:
    parameters = plan_targets().parameters
    leading = {(row.district_code, row.sector): row.count for row in stats.leading_enterprises}
    by_district: dict[str, list[StatsCell]] = defaultdict(list)
    for cell in stats.cells:
        by_district[cell.district_code].append(cell)
    award_totals: dict[str, tuple[int, Decimal]] = {}
    for group in awards.groups:
        if group.district_code is not None:
            count, amount = award_totals.get(group.district_code, (0, Decimal(0)))
            award_totals[group.district_code] = (count + group.count, amount + group.amount_yuan)
    cells: list[MapCell] = []
    districts: list[DistrictTotals] = []
    for district in DISTRICTS:
        mine, totals = _district(
            district.code,
            by_district.get(district.code, []),
            stats,
            leading,
            award_totals.get(district.code, (0, Decimal(0))),
            sees(district.code),
            parameters.small_cell_minimum,
            parameters.cluster_revenue_threshold_yuan,
        )
        cells.extend(mine)
        districts.append(totals)
    return MapReport(
        year=stats.year,
        baseline_year=stats.baseline_year,
        generated_at=generated_at,
        small_cell_minimum=parameters.small_cell_minimum,
        districts=districts,
        cells=[cell for cell in cells if cell.above_scale_count > 0],
    )


async def producer_services_map(upstreams: Upstreams, year: int, sees: Viewer, generated_at: datetime) -> MapReport:
    check_plan_year(year, ["path", "year"])
    stats, awards = await asyncio.gather(
        upstreams.monitoring_stats(year, plan_targets().baseline_year), upstreams.standing_awards(year)
    )
    return build_map(stats, awards, sees, generated_at)
