"""District statistics in one SQL statement (no Python loops over enterprises)."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.registry.enterprises.models import Enterprise, EnterpriseYear


async def above_scale_by_district(session: AsyncSession, year: int) -> Sequence[dict[str, Any]]:
    """Per district: counts of enterprises above size in `year` and `year - 1`, and revenue on the comparable basis."""
    now = aliased(EnterpriseYear, name="now")
    before = aliased(EnterpriseYear, name="before")
    is_now, was_before = now.uscc.is_not(None), before.uscc.is_not(None)
    query = (
        select(
            Enterprise.district_code.label("district_code"),
            func.count(now.uscc).label("above_scale_count"),
            func.count(before.uscc).label("prior_above_scale_count"),
            func.count().filter(is_now & ~was_before).label("new_above_scale_count"),
            func.count().filter(~is_now & was_before).label("exited_count"),
            func.sum(now.revenue_yuan).label("revenue_yuan"),
            func.count().filter(is_now & was_before).label("comparable_count"),
            func.sum(now.revenue_yuan).filter(was_before).label("comparable_revenue_yuan"),
            func.sum(before.revenue_yuan).filter(is_now).label("comparable_prior_revenue_yuan"),
        )
        .select_from(Enterprise)
        .outerjoin(now, (now.uscc == Enterprise.uscc) & (now.year == year) & now.above_scale.is_(True))
        .outerjoin(before, (before.uscc == Enterprise.uscc) & (before.year == year - 1) & before.above_scale.is_(True))
        .where(is_now | was_before)
        .group_by(Enterprise.district_code)
    )
    return [dict(row) for row in (await session.execute(query)).mappings()]


async def figures_count(session: AsyncSession, year: int) -> int:
    count = await session.scalar(select(func.count().cast(Integer)).where(EnterpriseYear.year == year))
    return int(count or 0)
