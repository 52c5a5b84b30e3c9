"""Clusters (集聚区) and their yearly evaluations, which decide M03."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit.service import Change, record
from services.registry.clusters import repository
from services.registry.clusters.models import Cluster, ClusterEvaluation
from services.registry.clusters.schemas import ClusterCreate, ClusterOut, ClusterPage, Evaluation, EvaluationOut
from services.registry.scoping import cursor_key, ensure_readable, ensure_writable, listing_district, next_cursor
from shared.auth import Principal
from shared.errors import NotFound


async def _load(session: AsyncSession, cluster_id: int, *, for_update: bool = False) -> Cluster:
    cluster = await repository.get(session, cluster_id, for_update=for_update)
    if cluster is None:
        raise NotFound(f"No cluster with id {cluster_id}.")
    return cluster


async def create(session: AsyncSession, principal: Principal, data: ClusterCreate) -> ClusterOut:
    ensure_writable(principal, data.district_code)
    cluster = Cluster(**data.model_dump(), evaluations=[])
    repository.add(session, cluster)
    await session.flush()
    out = ClusterOut.model_validate(cluster)
    await record(
        session,
        principal,
        [Change("create", "cluster", str(cluster.id), cluster.district_code, None, out.model_dump(mode="json"))],
    )
    return out


async def read(session: AsyncSession, principal: Principal, cluster_id: int) -> ClusterOut:
    cluster = await _load(session, cluster_id)
    ensure_readable(principal, cluster.district_code)
    return ClusterOut.model_validate(cluster)


async def list_page(
    session: AsyncSession, principal: Principal, *, district_code: str | None, cursor: str | None, limit: int
) -> ClusterPage:
    rows = await repository.page(
        session,
        district_code=listing_district(principal, district_code),
        after_id=cursor_key(cursor, int),
        limit=limit + 1,
    )
    # One validation of the whole page runs in pydantic's core, far faster than a model per row.
    return ClusterPage.model_validate(
        {"items": rows[:limit], "next_cursor": next_cursor(rows, limit, lambda row: row["id"])}
    )


async def put_evaluation(
    session: AsyncSession, principal: Principal, cluster_id: int, year: int, data: Evaluation
) -> tuple[EvaluationOut, bool]:
    cluster = await _load(session, cluster_id, for_update=True)
    ensure_writable(principal, cluster.district_code)
    existing = await repository.get_evaluation(session, cluster_id, year)
    before = EvaluationOut.model_validate(existing).model_dump(mode="json") if existing else None
    if existing is None:
        existing = ClusterEvaluation(cluster_id=cluster_id, year=year, **data.model_dump())
        repository.add(session, existing)
    else:
        for name, value in data.model_dump().items():
            setattr(existing, name, value)
    await session.flush()
    out = EvaluationOut.model_validate(existing)
    after = out.model_dump(mode="json")
    if after != before:
        await record(
            session,
            principal,
            [Change("upsert", "cluster_evaluation", f"{cluster_id}/{year}", cluster.district_code, before, after)],
        )
    return out, before is None
