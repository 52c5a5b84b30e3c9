"""District statistics in one SQL statement (no Python loops over enterprises).

Only verified enterprise-years count, each in the district it records for its year, so that a move does not
rewrite the year before. For year Y and district D:
- `now`: verified, above size in Y, in D;  `before`: verified, above size in Y−1, in D;
- of `now`: comparable (above in Y−1 in D too), moved in (above in Y−1 in another district), new (not above in
  Y−1, or not verified);
- of `before`: moved out (above in Y in another district), exited (verified as not above in Y, wherever), unreported
  (no verified record for Y);
- awaiting verification: the records of Y in D not verified.
So above − prior = new + moved_in − exited − moved_out − unreported.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, and_, bindparam, func, literal_column, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.registry.enterprises.models import EnterpriseYear

# The statements are built once, with the years as parameters: building the aliased joins costs far more than
# running them, and a statement built once is compiled once.
_YEAR = bindparam("year", type_=Integer)
_BASE_YEAR = bindparam("base_year", type_=Integer)
_VERIFIED = "verified"
_COUNTS = (
    "above_scale_count",
    "prior_above_scale_count",
    "new_above_scale_count",
    "moved_in_count",
    "moved_out_count",
    "exited_count",
    "unreported_count",
    "awaiting_verification_count",
    "comparable_count",
)
_SUMS = ("revenue_yuan", "comparable_revenue_yuan", "comparable_prior_revenue_yuan")


def _zero() -> Any:
    return literal_column("0", Integer)


def _padded(district: Any, **values: Any) -> Any:
    """One part of the union: the district, then every count and sum (zero or NULL where the part has none)."""
    columns = [district.label("district_code")]
    columns += [(values.get(name, _zero())).label(name) for name in _COUNTS]
    columns += [(values.get(name, null())).label(name) for name in _SUMS]
    return columns


def _district_stats_query() -> Any:
    now = aliased(EnterpriseYear, name="now")
    before = aliased(EnterpriseYear, name="before")
    current = aliased(EnterpriseYear, name="cur")
    pending = aliased(EnterpriseYear, name="pending")

    # The enterprises above size and verified in the year, by the district of the year.
    same = before.district_code == now.district_code
    in_year = (
        select(
            *_padded(
                now.district_code,
                above_scale_count=func.count(),
                new_above_scale_count=func.count().filter(before.uscc.is_(None)),
                moved_in_count=func.count().filter(before.uscc.is_not(None) & ~same),
                comparable_count=func.count().filter(same),
                revenue_yuan=func.sum(now.revenue_yuan),
                comparable_revenue_yuan=func.sum(now.revenue_yuan).filter(same),
                comparable_prior_revenue_yuan=func.sum(before.revenue_yuan).filter(same),
            )
        )
        .select_from(now)
        .outerjoin(
            before,
            and_(
                before.uscc == now.uscc,
                before.year == _BASE_YEAR,
                before.above_scale.is_(True),
                before.verification_status == _VERIFIED,
            ),
        )
        .where(now.year == _YEAR, now.above_scale.is_(True), now.verification_status == _VERIFIED)
        .group_by(now.district_code)
    )
    # The enterprises above size and verified in the year before, by the district of that year, and what became of
    # them: the year's verified record (any status) or none.
    moved = current.above_scale.is_(True) & (current.district_code != before.district_code)
    in_base_year = (
        select(
            *_padded(
                before.district_code,
                prior_above_scale_count=func.count(),
                moved_out_count=func.count().filter(moved),
                exited_count=func.count().filter(current.above_scale.is_(False)),
                unreported_count=func.count().filter(current.uscc.is_(None)),
            )
        )
        .select_from(before)
        .outerjoin(
            current,
            and_(current.uscc == before.uscc, current.year == _YEAR, current.verification_status == _VERIFIED),
        )
        .where(before.year == _BASE_YEAR, before.above_scale.is_(True), before.verification_status == _VERIFIED)
        .group_by(before.district_code)
    )
    awaiting = (
        select(*_padded(pending.district_code, awaiting_verification_count=func.count()))
        .where(pending.year == _YEAR, pending.verification_status != _VERIFIED)
        .group_by(pending.district_code)
    )
    parts = union_all(in_year, in_base_year, awaiting).subquery("parts")
    return select(
        parts.c.district_code,
        *(func.sum(parts.c[name]).cast(Integer).label(name) for name in _COUNTS),
        *(func.sum(parts.c[name]).label(name) for name in _SUMS),
    ).group_by(parts.c.district_code)


_DISTRICT_STATS = _district_stats_query()
_FIGURES_COUNTS = select(
    func.count().filter(EnterpriseYear.year == _YEAR).cast(Integer),
    func.count().filter(EnterpriseYear.year == _BASE_YEAR).cast(Integer),
    func.count()
    .filter((EnterpriseYear.year == _YEAR) & (EnterpriseYear.verification_status == _VERIFIED))
    .cast(Integer),
    func.count()
    .filter((EnterpriseYear.year == _BASE_YEAR) & (EnterpriseYear.verification_status == _VERIFIED))
    .cast(Integer),
).where(EnterpriseYear.year.in_([_YEAR, _BASE_YEAR]))


async def by_district(session: AsyncSession, year: int) -> Sequence[dict[str, Any]]:
    """Per district with any figure: the counts and revenues above, from verified enterprise-years."""
    result = await session.execute(_DISTRICT_STATS, {"year": year, "base_year": year - 1})
    return [dict(row) for row in result.mappings()]


async def figures_counts(session: AsyncSession, year: int, base_year: int) -> tuple[int, int, int, int]:
    """Enterprise-year figures held for `year` and `base_year`, then how many of them are verified."""
    counts = (await session.execute(_FIGURES_COUNTS, {"year": year, "base_year": base_year})).one()
    held, held_base, verified, verified_base = (int(value or 0) for value in counts)
    return held, held_base, verified, verified_base
