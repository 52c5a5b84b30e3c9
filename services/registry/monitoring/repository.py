"""The monitoring statistics in one SQL statement per part (no Python loops over enterprises), each driven by an
index: enterprise years by (year, above_scale) and their primary key, cluster years by (year, verification_status),
designations by year; enterprises and clusters by their primary key.

Cells, for year Y, baseline year B and the year before Y−1, per (district of the yearly record, sector of the
enterprise):
- of Y: verified and above size in Y: count, revenue, employees, and how many were not verified above size in B;
- of Y−1: verified and above size in Y−1 in the cell: count and revenue.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    Table,
    and_,
    bindparam,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.registry.clusters.models import Cluster, ClusterYear
from services.registry.designations.models import LeadingDesignation
from services.registry.enterprises.models import Enterprise, EnterpriseYear

# Built once, with the years as parameters: building the aliased joins costs more than running them.
_YEAR = bindparam("year", type_=Integer)
_PRIOR_YEAR = bindparam("prior_year", type_=Integer)
_BASELINE_YEAR = bindparam("baseline_year", type_=Integer)
_VERIFIED = "verified"
_COUNTS = ("above_scale_count", "employees", "new_above_scale_since_baseline", "prior_above_scale_count")
_SUMS = ("revenue_yuan", "prior_revenue_yuan")


def _padded(district: Any, sector: Any, **values: Any) -> list[Any]:
    """One part of the union: the cell, then every count and sum (zero or NULL where the part has none)."""
    columns = [district.label("district_code"), sector.label("sector")]
    columns += [values.get(name, literal_column("0", BigInteger)).label(name) for name in _COUNTS]
    columns += [values.get(name, null()).label(name) for name in _SUMS]
    return columns


def _cells_query() -> Any:
    now = aliased(EnterpriseYear, name="now")
    base = aliased(EnterpriseYear, name="base")
    prior = aliased(EnterpriseYear, name="prior")
    enterprise = cast(Table, Enterprise.__table__)
    in_year = (
        select(
            *_padded(
                now.district_code,
                enterprise.c.sector,
                above_scale_count=func.count(),
                employees=func.sum(now.employees),
                new_above_scale_since_baseline=func.count().filter(base.uscc.is_(None)),
                revenue_yuan=func.sum(now.revenue_yuan),
            )
        )
        .select_from(now)
        .join(enterprise, enterprise.c.uscc == now.uscc)
        .outerjoin(
            base,
            and_(
                base.uscc == now.uscc,
                base.year == _BASELINE_YEAR,
                base.above_scale.is_(True),
                base.verification_status == _VERIFIED,
            ),
        )
        .where(now.year == _YEAR, now.above_scale.is_(True), now.verification_status == _VERIFIED)
        .group_by(now.district_code, enterprise.c.sector)
    )
    in_prior_year = (
        select(
            *_padded(
                prior.district_code,
                enterprise.c.sector,
                prior_above_scale_count=func.count(),
                prior_revenue_yuan=func.sum(prior.revenue_yuan),
            )
        )
        .select_from(prior)
        .join(enterprise, enterprise.c.uscc == prior.uscc)
        .where(prior.year == _PRIOR_YEAR, prior.above_scale.is_(True), prior.verification_status == _VERIFIED)
        .group_by(prior.district_code, enterprise.c.sector)
    )
    parts = union_all(in_year, in_prior_year).subquery("parts")
    return (
        select(
            parts.c.district_code,
            parts.c.sector,
            *(func.sum(parts.c[name]).cast(BigInteger).label(name) for name in _COUNTS),
            *(func.coalesce(func.sum(parts.c[name]), 0).label(name) for name in _SUMS),
        )
        .group_by(parts.c.district_code, parts.c.sector)
        .order_by(parts.c.district_code, parts.c.sector)
    )


_CELLS = _cells_query()
_CY = cast(Table, ClusterYear.__table__).c
_C = cast(Table, Cluster.__table__).c
_CLUSTERS = (
    select(_CY.cluster_id, _C.name, _C.district_code, _CY.revenue_yuan)
    .select_from(cast(Table, ClusterYear.__table__).join(cast(Table, Cluster.__table__), _C.id == _CY.cluster_id))
    .where(_CY.year == _YEAR, _CY.verification_status == _VERIFIED)
    .order_by(_CY.cluster_id)
)
_D = cast(Table, LeadingDesignation.__table__).c
_E = cast(Table, Enterprise.__table__).c
# Standing at the end of the year: not revoked, or revoked only after the year ended (in China's time zone).
_YEAR_END = bindparam("year_end", type_=DateTime(timezone=True))
_LEADING = (
    # Enterprises, not designations: one designated again after a revocation counts once.
    select(_E.district_code, _E.sector, func.count(_D.uscc.distinct()).cast(Integer).label("count"))
    .select_from(cast(Table, LeadingDesignation.__table__).join(cast(Table, Enterprise.__table__), _E.uscc == _D.uscc))
    .where(_D.year <= _YEAR, or_(_D.revoked_at.is_(None), _D.revoked_at >= _YEAR_END))
    .group_by(_E.district_code, _E.sector)
    .order_by(_E.district_code, _E.sector)
)


async def _rows(session: AsyncSession, statement: Any, parameters: dict[str, Any]) -> Sequence[dict[str, Any]]:
    result = await session.execute(statement, parameters)
    return [dict(row) for row in result.mappings()]


async def cells(session: AsyncSession, year: int, baseline_year: int) -> Sequence[dict[str, Any]]:
    parameters = {"year": year, "prior_year": year - 1, "baseline_year": baseline_year}
    return await _rows(session, _CELLS, parameters)


async def clusters(session: AsyncSession, year: int) -> Sequence[dict[str, Any]]:
    return await _rows(session, _CLUSTERS, {"year": year})


async def leading(session: AsyncSession, year: int, year_end: datetime) -> Sequence[dict[str, Any]]:
    return await _rows(session, _LEADING, {"year": year, "year_end": year_end})
