from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from services.registry.verification import service
from services.registry.verification.schemas import (
    BulkVerification,
    BulkVerificationReport,
    QueueKey,
    QueuePage,
    RecordKind,
    VerificationDecision,
    VerificationStatus,
    VerifiedRecord,
)
from shared.auth import KeyHolderDep, Role, require_roles
from shared.db import SessionDep
from shared.identifiers import DistrictCode, Uscc, Year
from shared.pagination import DEFAULT_LIMIT, LimitQuery, cursor_after

router = APIRouter(tags=["verification"])
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CITY_ONLY = [require_roles(Role.CITY)]
DECISION = "The city verifies or rejects the record (a reason is required to reject); audited."


@router.post(
    "/enterprises/{uscc}/years/{year}/verification",
    response_model=VerifiedRecord,
    summary="Verify or reject an enterprise's yearly figures (city)",
    description=DECISION,
    dependencies=CITY_ONLY,
)
async def verify_enterprise_year(
    uscc: Uscc, year: Year, body: VerificationDecision, session: SessionDep, principal: KeyHolderDep
) -> VerifiedRecord:
    return await service.decide(session, principal, "enterprise_year", (uscc, year), body.decision, body.reason)


@router.post(
    "/clusters/{cluster_id}/evaluations/{year}/verification",
    response_model=VerifiedRecord,
    summary="Verify or reject a cluster's evaluation (city)",
    description=DECISION,
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
    summary="Verify or reject a cluster's yearly revenue (city)",
    description=DECISION,
    dependencies=CITY_ONLY,
)
async def verify_cluster_year(
    cluster_id: RecordId, year: Year, body: VerificationDecision, session: SessionDep, principal: KeyHolderDep
) -> VerifiedRecord:
    return await service.decide(session, principal, "cluster_year", (cluster_id, year), body.decision, body.reason)


@router.post(
    "/buildings/{building_id}/verification",
    response_model=VerifiedRecord,
    summary="Verify or reject a star building's grade (city)",
    description=DECISION,
    dependencies=CITY_ONLY,
)
async def verify_building(
    building_id: RecordId, body: VerificationDecision, session: SessionDep, principal: KeyHolderDep
) -> VerifiedRecord:
    return await service.decide(session, principal, "building", (building_id,), body.decision, body.reason)


@router.post(
    "/buildings/{building_id}/years/{year}/verification",
    response_model=VerifiedRecord,
    summary="Verify or reject a star building's yearly revenue (city)",
    description=DECISION,
    dependencies=CITY_ONLY,
)
async def verify_building_year(
    building_id: RecordId, year: Year, body: VerificationDecision, session: SessionDep, principal: KeyHolderDep
) -> VerifiedRecord:
    return await service.decide(session, principal, "building_year", (building_id, year), body.decision, body.reason)


@router.post(
    "/projects/{project_id}/verification",
    response_model=VerifiedRecord,
    summary="Verify or reject a project's money facts (city)",
    description=DECISION,
    dependencies=CITY_ONLY,
)
async def verify_project(
    project_id: RecordId, body: VerificationDecision, session: SessionDep, principal: KeyHolderDep
) -> VerifiedRecord:
    return await service.decide(session, principal, "project", (project_id,), body.decision, body.reason)


@router.post(
    "/verifications",
    response_model=BulkVerificationReport,
    summary="Verify or reject many records at once, all or nothing (city)",
    dependencies=CITY_ONLY,
)
async def verify_many(body: BulkVerification, session: SessionDep, principal: KeyHolderDep) -> BulkVerificationReport:
    return await service.decide_many(session, principal, body)


@router.get(
    "/verifications",
    response_model=QueuePage,
    summary="Records by verification status (default: those waiting for the city), in record and id order",
    description="The city's work queue (city and auditor); a district sees each of its records' verification on "
    "the record itself.",
    dependencies=[require_roles(Role.CITY, Role.AUDITOR)],
)
async def verification_queue(
    session: SessionDep,
    after: Annotated[QueueKey | None, Depends(cursor_after(QueueKey))],
    status: Annotated[VerificationStatus, Query()] = "submitted",
    record: RecordKind | None = None,
    district_code: DistrictCode | None = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> QueuePage:
    return await service.queue(
        session, status=status, record_kind=record, district_code=district_code, after=after, limit=limit
    )
