from typing import Annotated

from fastapi import APIRouter, Query

from services.registry.audit import service
from services.registry.audit.schemas import AuditPage, EntityType
from shared.auth import Role, require_roles
from shared.db import SessionDep
from shared.identifiers import Storable
from shared.pagination import DEFAULT_LIMIT, AfterId, LimitQuery

router = APIRouter(tags=["audit"])


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="The audit log of writes, newest first",
    dependencies=[require_roles(Role.CITY, Role.AUDITOR)],
)
async def read_audit_log(
    session: SessionDep,
    before_id: AfterId,
    entity_type: EntityType | None = None,
    entity_id: Annotated[str | None, Query(max_length=64), Storable] = None,
    district_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
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
