from typing import Annotated

from fastapi import APIRouter, Query

from services.registry.audit import service
from services.registry.audit.schemas import AuditEntityType, AuditPage
from services.registry.problems import INVALID_QUERY
from shared.auth import Role, require_roles
from shared.db import SessionDep
from shared.identifiers import DistrictCode, Storable
from shared.openapi import problems
from shared.pagination import DEFAULT_LIMIT, AfterId, LimitQuery

router = APIRouter(tags=["audit"])


@router.get(
    "/audit",
    response_model=AuditPage,
    operation_id="listRegistryAudit",
    summary="The audit log of writes, newest first",
    description="Every write to the registry with who made it, when, under which request, to which record, and "
    "the record before and after, newest first, a page at a time; filter by entity type, entity id and district. "
    "422 for an invalid filter or cursor.",
    dependencies=[require_roles(Role.CITY, Role.AUDITOR)],
    responses=problems({422: INVALID_QUERY}),
)
async def read_audit_log(
    session: SessionDep,
    before_id: AfterId,
    entity_type: AuditEntityType | None = None,
    entity_id: Annotated[
        str | None, Query(max_length=64, description="The record's id, as entries name it"), Storable
    ] = None,
    district_code: Annotated[DistrictCode | None, Query(description="The district of the record")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> AuditPage:
    return await service.read_page(
        session,
        entity_type=entity_type,
        entity_id=entity_id,
        district_code=district_code,
        before_id=before_id,
        limit=limit,
    )
