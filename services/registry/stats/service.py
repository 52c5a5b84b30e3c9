"""District statistics for 第（六）条: new, exited and net above-size enterprises, comparable revenue growth.

Only verified enterprise-years count (the statistics bureau's directory, verified or imported by the city), each in
the district its yearly record names. A missing (or unverified) record of the year is "unreported", not an exit.
Revenue growth follows the statisticians' comparable basis: only enterprises above size in both years in the
district count, so that enterprises entering, leaving or moving do not show up as growth or decline. The growth
formula is the ranking methodology's (shared/policy/ranking.py).
"""

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.stats import repository
from services.registry.stats.schemas import DistrictStats, DistrictStatsReport
from shared.policy.ranking import comparable_growth
from shared.reference import DISTRICTS


def _money(value: object) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


async def district_stats(session: AsyncSession, year: int) -> DistrictStatsReport:
    rows = {row["district_code"]: row for row in await repository.by_district(session, year)}
    districts: list[DistrictStats] = []
    for district in DISTRICTS:
        row = rows.get(district.code, {})
        count = int(row.get("above_scale_count") or 0)
        prior = int(row.get("prior_above_scale_count") or 0)
        comparable_now = _money(row.get("comparable_revenue_yuan"))
        comparable_before = _money(row.get("comparable_prior_revenue_yuan"))
        growth = comparable_growth(comparable_now, comparable_before)
        districts.append(
            DistrictStats(
                district_code=district.code,
                district_name=district.name,
                above_scale_count=count,
                prior_above_scale_count=prior,
                new_above_scale_count=int(row.get("new_above_scale_count") or 0),
                moved_in_count=int(row.get("moved_in_count") or 0),
                moved_out_count=int(row.get("moved_out_count") or 0),
                exited_count=int(row.get("exited_count") or 0),
                unreported_count=int(row.get("unreported_count") or 0),
                awaiting_verification_count=int(row.get("awaiting_verification_count") or 0),
                net_increase=count - prior,
                revenue_yuan=_money(row.get("revenue_yuan")),
                comparable_count=int(row.get("comparable_count") or 0),
                comparable_revenue_yuan=comparable_now,
                comparable_prior_revenue_yuan=comparable_before,
                revenue_growth=growth,
            )
        )
    in_year, in_base_year, verified, verified_base = await repository.figures_counts(session, year, year - 1)
    return DistrictStatsReport(
        year=year,
        base_year=year - 1,
        enterprise_years_in_year=in_year,
        enterprise_years_in_base_year=in_base_year,
        verified_enterprise_years_in_year=verified,
        verified_enterprise_years_in_base_year=verified_base,
        districts=districts,
    )
