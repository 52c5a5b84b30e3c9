"""Every query on clusters and their yearly evaluations (the shared part in shared.repository)."""

from services.registry.clusters.models import Cluster, ClusterEvaluation
from services.registry.verification.schemas import FLAT_KEYS
from shared.repository import DistrictRecords

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
