"""Every query on clusters and their yearly evaluations (the shared part in shared.repository)."""

from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.clusters.models import Cluster, ClusterEvaluation, ClusterYear
from services.registry.verification.schemas import FLAT_KEYS
from shared.repository import DistrictRecords, read_dicts, table_columns

_CLUSTERS = DistrictRecords(
    Cluster,
    ClusterEvaluation,
    children=Cluster.evaluations,
    columns=(
        Cluster.id,
        Cluster.name,
        Cluster.district_code,
        Cluster.manager_uscc,
        Cluster.belongs_to_kind,
        Cluster.belongs_to_district,
        Cluster.belongs_to_department,
    ),
    child_key=ClusterEvaluation.cluster_id,
    child_columns=(
        ClusterEvaluation.year,
        ClusterEvaluation.grade,
        ClusterEvaluation.score,
        ClusterEvaluation.tier,
        *(getattr(ClusterEvaluation, name) for name in FLAT_KEYS),
    ),
)

add = _CLUSTERS.add
get = _CLUSTERS.get
page = _CLUSTERS.page
get_evaluation = _CLUSTERS.get_year


async def get_year(session: AsyncSession, cluster_id: int, year: int) -> ClusterYear | None:
    return await session.get(ClusterYear, (cluster_id, year))


def add_year(session: AsyncSession, row: ClusterYear) -> None:
    session.add(row)


# Plain values through a Core statement, as listings are read (shared.repository.table_columns says why).
_YEAR_COLUMNS = table_columns(
    [ClusterYear.year, ClusterYear.revenue_yuan, *(getattr(ClusterYear, name) for name in FLAT_KEYS)]
)
_CY = cast(Table, ClusterYear.__table__).c


async def years_of(session: AsyncSession, cluster_id: int) -> list[dict[str, Any]]:
    """The cluster's yearly revenues as plain rows, by year."""
    query = select(*_YEAR_COLUMNS).where(_CY.cluster_id == cluster_id).order_by(_YEAR_COLUMNS[0])
    return await read_dicts(session, query)
