from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from services.registry.clusters import service
from services.registry.clusters.schemas import (
    ClusterCreate,
    ClusterOut,
    ClusterPage,
    ClusterPatch,
    ClusterYearIn,
    ClusterYearOut,
    ClusterYears,
    Evaluation,
    EvaluationOut,
)
from shared.auth import KeyHolderDep
from shared.db import SessionDep
from shared.identifiers import DistrictCode, Year
from shared.pagination import DEFAULT_LIMIT, AfterIntegerId, LimitQuery

router = APIRouter(prefix="/clusters", tags=["clusters"])
ClusterId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("", response_model=ClusterOut, status_code=status.HTTP_201_CREATED, summary="Register a cluster (集聚区)")
async def create_cluster(data: ClusterCreate, session: SessionDep, principal: KeyHolderDep) -> ClusterOut:
    return await service.create(session, principal, data)


@router.get("", response_model=ClusterPage, summary="Clusters with their evaluations")
async def list_clusters(
    session: SessionDep,
    principal: KeyHolderDep,
    after_id: AfterIntegerId,
    district_code: DistrictCode | None = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> ClusterPage:
    return await service.list_page(session, principal, district_code=district_code, after_id=after_id, limit=limit)


@router.get("/{cluster_id}", response_model=ClusterOut, summary="One cluster with its evaluations")
async def read_cluster(cluster_id: ClusterId, session: SessionDep, principal: KeyHolderDep) -> ClusterOut:
    return await service.read(session, principal, cluster_id)


@router.patch(
    "/{cluster_id}",
    response_model=ClusterOut,
    summary="Change whom the cluster belongs to (隶属关系); only the city names a department or another district",
)
async def update_cluster(
    cluster_id: ClusterId, patch: ClusterPatch, session: SessionDep, principal: KeyHolderDep
) -> ClusterOut:
    return await service.update(session, principal, cluster_id, patch)


@router.put(
    "/{cluster_id}/evaluations/{year}",
    response_model=EvaluationOut,
    summary="Record the year's evaluation",
    responses={201: {"model": EvaluationOut, "description": "Created: the year had no record yet"}},
)
async def put_evaluation(
    cluster_id: ClusterId,
    year: Year,
    data: Evaluation,
    session: SessionDep,
    principal: KeyHolderDep,
    response: Response,
) -> EvaluationOut:
    out, created = await service.put_evaluation(session, principal, cluster_id, year, data)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return out


@router.put(
    "/{cluster_id}/years/{year}",
    response_model=ClusterYearOut,
    summary="Record the year's revenue of the cluster (its district or the city; verified by the city)",
    responses={201: {"model": ClusterYearOut, "description": "Created: the year had no record yet"}},
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


@router.get("/{cluster_id}/years", response_model=ClusterYears, summary="The cluster's yearly revenue, by year")
async def read_cluster_years(cluster_id: ClusterId, session: SessionDep, principal: KeyHolderDep) -> ClusterYears:
    return await service.read_years(session, principal, cluster_id)
