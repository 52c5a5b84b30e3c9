"""District statistics in one SQL statement (no Python loops over enterprises)."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.enterprises.models import Enterprise, EnterpriseYear


async def above_scale_by_district(session: AsyncSession, year: int) -> Sequence[dict[str, Any]]:
    """Per district: counts of enterprises above size in `year` and `year - 1`, and revenue on the comparable basis."""
    base_year = year - 1
    zero = literal(0)
    # One row per enterprise that was above size in either year.
    flags = (
        select(
            EnterpriseYear.uscc.label("uscc"),
            func.max(case((EnterpriseYear.year == year, 1), else_=0)).label("now"),
            func.max(case((EnterpriseYear.year == base_year, 1), else_=0)).label("before"),
            func.sum(case((EnterpriseYear.year == year, EnterpriseYear.revenue_yuan), else_=zero)).label("revenue_now"),
            func.sum(case((EnterpriseYear.year == base_year, EnterpriseYear.revenue_yuan), else_=zero)).label(
                "revenue_before"
            ),
        )
        .where(EnterpriseYear.year.in_((year, base_year)), EnterpriseYear.above_scale.is_(True))
        .group_by(EnterpriseYear.uscc)
        .subquery()
    )
    both = (flags.c.now == 1) & (flags.c.before == 1)
    query = (
        select(
            Enterprise.district_code.label("district_code"),
            func.sum(flags.c.now).label("above_scale_count"),
            func.sum(flags.c.before).label("prior_above_scale_count"),
            func.sum(case(((flags.c.now == 1) & (flags.c.before == 0), 1), else_=0)).label("new_above_scale_count"),
            func.sum(case(((flags.c.now == 0) & (flags.c.before == 1), 1), else_=0)).label("exited_count"),
            func.sum(flags.c.revenue_now).label("revenue_yuan"),
            func.sum(case((both, 1), else_=0)).label("comparable_count"),
            func.sum(case((both, flags.c.revenue_now), else_=zero)).label("comparable_revenue_yuan"),
            func.sum(case((both, flags.c.revenue_before), else_=zero)).label("comparable_prior_revenue_yuan"),
        )
        .join(flags, flags.c.uscc == Enterprise.uscc)
        .group_by(Enterprise.district_code)
    )
    return [dict(row) for row in (await session.execute(query)).mappings()]


async def figures_count(session: AsyncSession, year: int) -> int:
    count = await session.scalar(select(func.count().cast(Integer)).where(EnterpriseYear.year == year))
    return int(count or 0)
