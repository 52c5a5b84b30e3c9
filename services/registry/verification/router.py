from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from services.registry.problems import INVALID, INVALID_QUERY
from services.registry.verification import service
from services.registry.verification.schemas import (
    BulkVerification,
    BulkVerificationReport,
    QueueKey,
    VerifiableRecordKind,
    VerificationDecision,
    VerificationQueuePage,
    VerificationStatus,
    VerifiedRecord,
)
from shared.auth import KeyHolderDep, Role, require_roles
from shared.db import SessionDep
from shared.identifiers import DistrictCode, Uscc, Year
from shared.openapi import problems
from shared.pagination import DEFAULT_LIMIT, LimitQuery, cursor_after

router = APIRouter(tags=["verification"])
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CITY_ONLY = [require_roles(Role.CITY)]
DECISION = (
    "The city verifies or rejects the record (a reason is required to reject); audited. Deciding what the record "
    "already has changes nothing. 422 for a rejection without a reason."
)


def decision_problems(missing: str) -> dict[int | str, dict[str, Any]]:
    return problems({404: missing, 422: INVALID})


@router.post(
    "/enterprises/{uscc}/years/{year}/verification",
    response_model=VerifiedRecord,
    operation_id="verifyEnterpriseYear",
    summary="Verify or reject an enterprise's yearly figures",
    description=DECISION,
    responses=decision_problems("No figures of that year for this enterprise."),
    dependencies=CITY_ONLY,
)
async def verify_enterprise_year(
    uscc: Uscc, year: Year, body: VerificationDecision, session: SessionDep, principal: KeyHolderDep
) -> VerifiedRecord:
    return await service.decide(session, principal, "enterprise_year", (uscc, year), body.decision, body.reason)


@router.post(
    "/clusters/{cluster_id}/evaluations/{year}/verification",
    response_model=VerifiedRecord,
    operation_id="verifyClusterEvaluation",
    summary="Verify or reject a cluster's evaluation",
    description=DECISION,
    responses=decision_problems("No evaluation of that year for this cluster."),
    dependencies=CITY_ONLY,
)
async def verify_cluster_evaluation(
    cluster_id: RecordId, year: Year, body: VerificationDecision, session: SessionDep, principal: KeyHolderDep
) -> VerifiedRecord:
    return await service.decide(
        session, principal, "cluster_evaluation", (cluster_id, year), body.decision, body.reason
    )


@router.post(
    "/clusters/{cluster_id}/years/{year}/verification",
    response_model=VerifiedRecord,
    operation_id="verifyClusterYear",
    summary="Verify or reject a cluster's yearly revenue",
    description=DECISION,
    responses=decision_problems("No revenue of that year for this cluster."),
    dependencies=CITY_ONLY,
)
async def verify_cluster_year(
    cluster_id: RecordId, year: Year, body: VerificationDecision, session: SessionDep, principal: KeyHolderDep
) -> VerifiedRecord:
    return await service.decide(session, principal, "cluster_year", (cluster_id, year), body.decision, body.reason)


@router.post(
    "/buildings/{building_id}/verification",
    response_model=VerifiedRecord,
    operation_id="verifyBuilding",
    summary="Verify or reject a star building's grade",
    description=DECISION,
    responses=decision_problems("No building with this id."),
    dependencies=CITY_ONLY,
)
async def verify_building(
    building_id: RecordId, body: VerificationDecision, session: SessionDep, principal: KeyHolderDep
) -> VerifiedRecord:
    return await service.decide(session, principal, "building", (building_id,), body.decision, body.reason)


@router.post(
    "/buildings/{building_id}/years/{year}/verification",
    response_model=VerifiedRecord,
    operation_id="verifyBuildingYear",
    summary="Verify or reject a star building's yearly revenue",
    description=DECISION,
    responses=decision_problems("No revenue of that year for this building."),
    dependencies=CITY_ONLY,
)
async def verify_building_year(
    building_id: RecordId, year: Year, body: VerificationDecision, session: SessionDep, principal: KeyHolderDep
) -> VerifiedRecord:
    return await service.decide(session, principal, "building_year", (building_id, year), body.decision, body.reason)


@router.post(
    "/projects/{project_id}/verification",
    response_model=VerifiedRecord,
    operation_id="verifyProject",
    summary="Verify or reject a project's money facts",
    description=DECISION,
    responses=decision_problems("No project with this id."),
    dependencies=CITY_ONLY,
)
async def verify_project(
    project_id: RecordId, body: VerificationDecision, session: SessionDep, principal: KeyHolderDep
) -> VerifiedRecord:
    return await service.decide(session, principal, "project", (project_id,), body.decision, body.reason)


@router.post(
    "/verifications",
    response_model=BulkVerificationReport,
    operation_id="verifyFacts",
    summary="Verify or reject many records at once, all or nothing",
    description="The city's decisions on up to 1,000 records of any kind, each named by its kind and id. Every "
    "item is checked before any is written: 422 (nothing written) when any item names a record that does not "
    "exist, names one twice, has an id of the wrong shape or rejects without a reason; `errors` names each such "
    "item. Audited.",
    dependencies=CITY_ONLY,
    responses=problems({422: INVALID}),
)
async def verify_many(body: BulkVerification, session: SessionDep, principal: KeyHolderDep) -> BulkVerificationReport:
    return await service.decide_many(session, principal, body)


@router.get(
    "/verifications",
    response_model=VerificationQueuePage,
    operation_id="listVerifications",
    summary="Records by verification status, in record and id order",
    description="The city's work queue: the records of a verification status (default: `submitted`, those waiting "
    "for the city), of one kind and district if asked, a page at a time. A district sees each of its records' "
    "verification on the record itself. 422 for an invalid filter or cursor.",
    dependencies=[require_roles(Role.CITY, Role.AUDITOR)],
    responses=problems({422: INVALID_QUERY}),
)
async def verification_queue(
    session: SessionDep,
    after: Annotated[QueueKey | None, Depends(cursor_after(QueueKey))],
    status: Annotated[VerificationStatus, Query()] = "submitted",
    record: VerifiableRecordKind | None = None,
    district_code: DistrictCode | None = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> VerificationQueuePage:
    return await service.queue(
        session, status=status, record_kind=record, district_code=district_code, after=after, limit=limit
    )
