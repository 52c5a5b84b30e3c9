from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.registry.clusters.models import Cluster, ClusterEvaluation
from services.registry.verification.schemas import FLAT_KEYS
from shared import bulk
from shared.db import read_with_children


def add(session: AsyncSession, row: Cluster | ClusterEvaluation) -> None:
    session.add(row)


async def get(session: AsyncSession, cluster_id: int, *, for_update: bool = False) -> Cluster | None:
    query = select(Cluster).where(Cluster.id == cluster_id).options(selectinload(Cluster.evaluations))
    if for_update:
        query = query.with_for_update(of=Cluster)
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


_CLUSTER_COLUMNS = (
    Cluster.id,
    Cluster.name,
    Cluster.district_code,
    Cluster.manager_uscc,
    Cluster.belongs_to_kind,
    Cluster.belongs_to_district,
    Cluster.belongs_to_department,
)
_EVALUATION_COLUMNS = (
    ClusterEvaluation.year,
    ClusterEvaluation.grade,
    ClusterEvaluation.score,
    ClusterEvaluation.tier,
    *(getattr(ClusterEvaluation, name) for name in FLAT_KEYS),
)
_CLUSTER_KEYS = tuple(column.key for column in _CLUSTER_COLUMNS)
_EVALUATION_KEYS = tuple(column.key for column in _EVALUATION_COLUMNS)
# Built once for each combination of filters, with the values as parameters: building and hashing a statement
# costs more than running it.
_PAGES: dict[tuple[bool, bool], Any] = {}
_EVALUATIONS_OF: dict[str, Any] = {}


def _page_query(district: bool, after: bool) -> Any:
    query = _PAGES.get((district, after))
    if query is None:
        query = select(*_CLUSTER_COLUMNS).order_by(Cluster.id).limit(bindparam("limit"))
        if district:
            query = query.where(Cluster.district_code == bindparam("district_code"))
        if after:
            query = query.where(Cluster.id > bindparam("after_id"))
        _PAGES[(district, after)] = query
    return query


def _evaluations_query(dialect: str) -> Any:
    query = _EVALUATIONS_OF.get(dialect)
    if query is None:
        query = _EVALUATIONS_OF[dialect] = (
            select(ClusterEvaluation.cluster_id, *_EVALUATION_COLUMNS)
            .where(bulk.member_of_parameter(dialect, cast(Table, ClusterEvaluation.__table__).c.cluster_id, "keys"))
            .order_by(ClusterEvaluation.cluster_id, ClusterEvaluation.year)
        )
    return query


async def page(
    session: AsyncSession, *, district_code: str | None, after_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """A page of clusters, each a dict with its evaluations, read as plain rows (listings are read in bulk)."""
    parameters: dict[str, Any] = {"limit": limit}
    if district_code is not None:
        parameters["district_code"] = district_code
    if after_id is not None:
        parameters["after_id"] = after_id
    query = _page_query(district_code is not None, after_id is not None)
    evaluations = _evaluations_query(session.get_bind().dialect.name)
    return await read_with_children(
        session, query, parameters, _CLUSTER_KEYS, evaluations, _EVALUATION_KEYS, "evaluations"
    )


async def get_evaluation(session: AsyncSession, cluster_id: int, year: int) -> ClusterEvaluation | None:
    return await session.get(ClusterEvaluation, (cluster_id, year))
