from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from services.registry.clusters import service
from services.registry.clusters.schemas import (
    ClusterCreate,
    ClusterEvaluationIn,
    ClusterEvaluationOut,
    ClusterOut,
    ClusterPage,
    ClusterPatch,
    ClusterYearIn,
    ClusterYearOut,
    ClusterYears,
)
from services.registry.problems import (
    INVALID,
    INVALID_PATH,
    INVALID_QUERY,
    OTHER_DISTRICT,
    OTHER_DISTRICTS_RECORDS,
)
from shared.auth import KeyHolderDep
from shared.db import SessionDep
from shared.identifiers import DistrictCode, Year
from shared.openapi import HEADERS, problems
from shared.pagination import DEFAULT_LIMIT, AfterIntegerId, LimitQuery

router = APIRouter(prefix="/clusters", tags=["clusters"])
ClusterId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NO_CLUSTER = "No cluster with this id."
ASSIGNS = (
    "A district key asked for another district's cluster, or named a city department or another district as the "
    "one it belongs to (only the city does)."
)
WRITTEN_BY = (
    "Written by the city, the record is verified; written by the cluster's district, it waits for the city. 201 when "
    "the year had no record, 200 when it is replaced (or unchanged)."
)


@router.post(
    "",
    response_model=ClusterOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="createCluster",
    summary="Register a cluster (集聚区)",
    description="Registers a cluster in its district, with the enterprise that operates it and whom it belongs to "
    "(隶属关系, who receives the M03 money: its district government by default). A district key registers only "
    "in its own district, and only the city names a city department or another district as the one it belongs "
    "to. `Location` names the cluster created.",
    responses={
        201: {"headers": {"Location": HEADERS["Location"]}},
        **problems({403: ASSIGNS, 422: INVALID}),
    },
)
async def create_cluster(
    data: ClusterCreate, session: SessionDep, principal: KeyHolderDep, response: Response
) -> ClusterOut:
    out = await service.create(session, principal, data)
    response.headers["Location"] = f"/clusters/{out.id}"
    return out


@router.get(
    "",
    response_model=ClusterPage,
    operation_id="listClusters",
    summary="Clusters with their evaluations",
    description="The clusters in id order, a page at a time, each with its yearly evaluations; filter by district. "
    "A district key sees its own district's clusters only. 422 for an invalid filter or cursor.",
    responses=problems({403: OTHER_DISTRICTS_RECORDS, 422: INVALID_QUERY}),
)
async def list_clusters(
    session: SessionDep,
    principal: KeyHolderDep,
    after_id: AfterIntegerId,
    district_code: DistrictCode | None = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> ClusterPage:
    return await service.list_page(session, principal, district_code=district_code, after_id=after_id, limit=limit)


@router.get(
    "/{cluster_id}",
    response_model=ClusterOut,
    operation_id="getCluster",
    summary="One cluster with its evaluations",
    description="The cluster, whom it belongs to and its yearly evaluations, each with its verification.",
    responses=problems({403: OTHER_DISTRICT, 404: NO_CLUSTER, 422: INVALID_PATH}),
)
async def read_cluster(cluster_id: ClusterId, session: SessionDep, principal: KeyHolderDep) -> ClusterOut:
    return await service.read(session, principal, cluster_id)


@router.patch(
    "/{cluster_id}",
    response_model=ClusterOut,
    operation_id="updateCluster",
    summary="Change whom a cluster belongs to (隶属关系)",
    description="Sets `belongs_to`, the body the M03 money goes to: the cluster's district government, another "
    "district or a city department (incl. a development-zone committee). The cluster's district may name itself; "
    "only the city names a department or another district. Audited when it changes.",
    responses=problems({403: ASSIGNS, 404: NO_CLUSTER, 422: INVALID}),
)
async def update_cluster(
    cluster_id: ClusterId, patch: ClusterPatch, session: SessionDep, principal: KeyHolderDep
) -> ClusterOut:
    return await service.update(session, principal, cluster_id, patch)


@router.put(
    "/{cluster_id}/evaluations/{year}",
    response_model=ClusterEvaluationOut,
    operation_id="setClusterEvaluation",
    summary="Record a cluster's evaluation of the year",
    description="Records the year's grade, score and (for an A grade) tier, which decide M03. " + WRITTEN_BY,
    responses={
        200: {"description": "Replaced (or unchanged)"},
        201: {"model": ClusterEvaluationOut, "description": "Created: the year had no record yet"},
        **problems({403: OTHER_DISTRICT, 404: NO_CLUSTER, 422: INVALID}),
    },
)
async def put_evaluation(
    cluster_id: ClusterId,
    year: Year,
    data: ClusterEvaluationIn,
    session: SessionDep,
    principal: KeyHolderDep,
    response: Response,
) -> ClusterEvaluationOut:
    out, created = await service.put_evaluation(session, principal, cluster_id, year, data)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return out


@router.put(
    "/{cluster_id}/years/{year}",
    response_model=ClusterYearOut,
    operation_id="setClusterYear",
    summary="Record a cluster's revenue of the year",
    description="Records the revenue (营业收入) of the cluster's enterprises in the year, as its district or the "
    "city reports it; the verified revenue counts 百亿级集聚区 in the monitoring statistics. " + WRITTEN_BY,
    responses={
        200: {"description": "Replaced (or unchanged)"},
        201: {"model": ClusterYearOut, "description": "Created: the year had no record yet"},
        **problems({403: OTHER_DISTRICT, 404: NO_CLUSTER, 422: INVALID}),
    },
)
async def put_cluster_year(
    cluster_id: ClusterId,
    year: Year,
    data: ClusterYearIn,
    session: SessionDep,
    principal: KeyHolderDep,
    response: Response,
) -> ClusterYearOut:
    out, created = await service.put_year(session, principal, cluster_id, year, data)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return out


@router.get(
    "/{cluster_id}/years",
    response_model=ClusterYears,
    operation_id="listClusterYears",
    summary="A cluster's yearly revenue, by year",
    description="Every year's revenue recorded for the cluster, each with its verification.",
    responses=problems({403: OTHER_DISTRICT, 404: NO_CLUSTER, 422: INVALID_PATH}),
)
async def read_cluster_years(cluster_id: ClusterId, session: SessionDep, principal: KeyHolderDep) -> ClusterYears:
    return await service.read_years(session, principal, cluster_id)
