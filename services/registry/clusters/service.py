"""Clusters (集聚区), whom they belong to (隶属关系, the recipient of M03), their yearly evaluations and their yearly
revenue (issue 18: 百亿级集聚区 are counted from the verified revenue)."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit.service import Change, record
from services.registry.clusters import repository
from services.registry.clusters.models import Cluster, ClusterEvaluation, ClusterYear
from services.registry.clusters.schemas import (
    BelongsToDepartment,
    BelongsToDistrict,
    ClusterCreate,
    ClusterEvaluationIn,
    ClusterEvaluationOut,
    ClusterOut,
    ClusterPage,
    ClusterPatch,
    ClusterYearIn,
    ClusterYearOut,
    ClusterYears,
    flat_belongs_to,
)
from services.registry.verification.service import apply_written_by, written_by
from shared.auth import Principal, Role
from shared.clock import utcnow
from shared.errors import Forbidden, NotFound
from shared.pagination import page_of
from shared.scoping import ensure_readable, ensure_writable, listing_district


async def _load(session: AsyncSession, cluster_id: int, *, for_update: bool = False) -> Cluster:
    cluster = await repository.get(session, cluster_id, for_update=for_update)
    if cluster is None:
        raise NotFound(f"No cluster with id {cluster_id}.")
    return cluster


def _ensure_may_assign(
    principal: Principal, district_code: str, belongs_to: BelongsToDistrict | BelongsToDepartment
) -> None:
    """Only the city names a city department or a district other than the cluster's own (第（三）条: the money goes
    to the body the cluster belongs to)."""
    own = isinstance(belongs_to, BelongsToDistrict) and belongs_to.district_code == district_code
    if not own and principal.role is not Role.CITY:
        raise Forbidden(
            f"Only the city records that a cluster of district {district_code} belongs to a city department or to "
            "another district."
        )


async def create(session: AsyncSession, principal: Principal, data: ClusterCreate) -> ClusterOut:
    ensure_writable(principal, data.district_code)
    belongs_to = data.belongs_to or BelongsToDistrict(kind="district", district_code=data.district_code)
    _ensure_may_assign(principal, data.district_code, belongs_to)
    cluster = Cluster(**data.model_dump(exclude={"belongs_to"}), **flat_belongs_to(belongs_to), evaluations=[])
    repository.add(session, cluster)
    await session.flush()
    out = ClusterOut.model_validate(cluster)
    await record(
        session,
        principal,
        [Change("create", "cluster", str(cluster.id), cluster.district_code, None, out.model_dump(mode="json"))],
    )
    return out


async def update(session: AsyncSession, principal: Principal, cluster_id: int, patch: ClusterPatch) -> ClusterOut:
    cluster = await _load(session, cluster_id, for_update=True)
    ensure_writable(principal, cluster.district_code)
    _ensure_may_assign(principal, cluster.district_code, patch.belongs_to)
    before = ClusterOut.model_validate(cluster)
    for name, value in flat_belongs_to(patch.belongs_to).items():
        setattr(cluster, name, value)
    await session.flush()
    out = ClusterOut.model_validate(cluster)
    if out != before:
        await record(
            session,
            principal,
            [
                Change(
                    "update",
                    "cluster",
                    str(cluster.id),
                    cluster.district_code,
                    before.model_dump(mode="json"),
                    out.model_dump(mode="json"),
                )
            ],
        )
    return out


async def read(session: AsyncSession, principal: Principal, cluster_id: int) -> ClusterOut:
    cluster = await _load(session, cluster_id)
    ensure_readable(principal, cluster.district_code)
    return ClusterOut.model_validate(cluster)


async def list_page(
    session: AsyncSession, principal: Principal, *, district_code: str | None, after_id: int | None, limit: int
) -> ClusterPage:
    rows = await repository.page(
        session,
        district_code=listing_district(principal, district_code),
        after_id=after_id,
        limit=limit + 1,
    )
    # One validation of the whole page runs in pydantic's core, far faster than a model per row.
    return ClusterPage.model_validate(page_of(rows, limit, lambda row: row["id"]))


async def put_evaluation(
    session: AsyncSession, principal: Principal, cluster_id: int, year: int, data: ClusterEvaluationIn
) -> tuple[ClusterEvaluationOut, bool]:
    """Record the year's evaluation: verified when the city writes it, submitted when a district does."""
    cluster = await _load(session, cluster_id, for_update=True)
    ensure_writable(principal, cluster.district_code)
    existing = await repository.get_evaluation(session, cluster_id, year)
    before = ClusterEvaluationOut.model_validate(existing).model_dump(mode="json") if existing else None
    values = data.model_dump()
    now = utcnow()
    if existing is None:
        existing = ClusterEvaluation(cluster_id=cluster_id, year=year, **values, **written_by(principal, now))
        repository.add(session, existing)
    elif all(getattr(existing, name) == value for name, value in values.items()):
        return ClusterEvaluationOut.model_validate(existing), False
    else:
        for name, value in values.items():
            setattr(existing, name, value)
        apply_written_by(existing, principal, now)
    await session.flush()
    out = ClusterEvaluationOut.model_validate(existing)
    await record(
        session,
        principal,
        [
            Change(
                "upsert",
                "cluster_evaluation",
                f"{cluster_id}/{year}",
                cluster.district_code,
                before,
                out.model_dump(mode="json"),
            )
        ],
    )
    return out, before is None


async def put_year(
    session: AsyncSession, principal: Principal, cluster_id: int, year: int, data: ClusterYearIn
) -> tuple[ClusterYearOut, bool]:
    """Record the year's revenue: the cluster's district or the city; verified when the city writes it, submitted
    (waiting for the city) when the district does; an unchanged write changes nothing."""
    cluster = await _load(session, cluster_id, for_update=True)
    ensure_writable(principal, cluster.district_code)
    existing = await repository.get_year(session, cluster_id, year)
    before = ClusterYearOut.model_validate(existing).model_dump(mode="json") if existing else None
    now = utcnow()
    if existing is None:
        existing = ClusterYear(
            cluster_id=cluster_id, year=year, revenue_yuan=data.revenue_yuan, **written_by(principal, now)
        )
        repository.add_year(session, existing)
    elif existing.revenue_yuan == data.revenue_yuan:
        return ClusterYearOut.model_validate(existing), False
    else:
        existing.revenue_yuan = data.revenue_yuan
        apply_written_by(existing, principal, now)
    await session.flush()
    out = ClusterYearOut.model_validate(existing)
    await record(
        session,
        principal,
        [
            Change(
                "upsert",
                "cluster_year",
                f"{cluster_id}/{year}",
                cluster.district_code,
                before,
                out.model_dump(mode="json"),
            )
        ],
    )
    return out, before is None


async def read_years(session: AsyncSession, principal: Principal, cluster_id: int) -> ClusterYears:
    cluster = await _load(session, cluster_id)
    ensure_readable(principal, cluster.district_code)
    years = await repository.years_of(session, cluster_id)
    return ClusterYears.model_validate(
        {"cluster_id": cluster_id, "district_code": cluster.district_code, "years": years}
    )
