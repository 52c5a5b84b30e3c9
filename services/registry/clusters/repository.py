from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.registry.clusters.models import Cluster, ClusterEvaluation


def add(session: AsyncSession, row: Cluster | ClusterEvaluation) -> None:
    session.add(row)


async def get(session: AsyncSession, cluster_id: int, *, for_update: bool = False) -> Cluster | None:
    query = select(Cluster).where(Cluster.id == cluster_id).options(selectinload(Cluster.evaluations))
    if for_update:
        query = query.with_for_update(of=Cluster)
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


async def page(
    session: AsyncSession, *, district_code: str | None, after_id: int | None, limit: int
) -> Sequence[Cluster]:
    query = select(Cluster).options(selectinload(Cluster.evaluations)).order_by(Cluster.id).limit(limit)
    if district_code is not None:
        query = query.where(Cluster.district_code == district_code)
    if after_id is not None:
        query = query.where(Cluster.id > after_id)
    return (await session.scalars(query)).all()


async def get_evaluation(session: AsyncSession, cluster_id: int, year: int) -> ClusterEvaluation | None:
    return await session.get(ClusterEvaluation, (cluster_id, year))
