"""District statistics in one SQL statement (no Python loops over enterprises)."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.registry.enterprises.models import Enterprise, EnterpriseYear
from shared.db import read_dicts, read_rows

# The statements are built once, with the years as parameters: building the aliased joins costs far more than
# running them, and a statement built once is compiled once.
_YEAR = bindparam("year", type_=Integer)
_BASE_YEAR = bindparam("base_year", type_=Integer)


def _above_scale_query() -> Any:
    now = aliased(EnterpriseYear, name="now")
    before = aliased(EnterpriseYear, name="before")
    is_now, was_before = now.uscc.is_not(None), before.uscc.is_not(None)
    return (
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
        .outerjoin(now, (now.uscc == Enterprise.uscc) & (now.year == _YEAR) & now.above_scale.is_(True))
        .outerjoin(
            before, (before.uscc == Enterprise.uscc) & (before.year == _BASE_YEAR) & before.above_scale.is_(True)
        )
        .where(is_now | was_before)
        .group_by(Enterprise.district_code)
    )


_ABOVE_SCALE = _above_scale_query()
_FIGURES_COUNTS = select(
    func.count().filter(EnterpriseYear.year == _YEAR).cast(Integer),
    func.count().filter(EnterpriseYear.year == _BASE_YEAR).cast(Integer),
).where(EnterpriseYear.year.in_([_YEAR, _BASE_YEAR]))


async def above_scale_by_district(session: AsyncSession, year: int) -> Sequence[dict[str, Any]]:
    """Per district: counts of enterprises above size in `year` and `year - 1`, and revenue on the comparable basis."""
    return await read_dicts(session, _ABOVE_SCALE, {"year": year, "base_year": year - 1})


async def figures_counts(session: AsyncSession, year: int, base_year: int) -> tuple[int, int]:
    """How many enterprise-year figures the registry holds for `year` and for `base_year`."""
    (counts,) = await read_rows(session, _FIGURES_COUNTS, {"year": year, "base_year": base_year})
    return int(counts[0] or 0), int(counts[1] or 0)
