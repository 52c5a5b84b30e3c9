"""The audit log: every write with who, when, what, before and after."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit import repository
from services.registry.audit.schemas import AuditAction, AuditEntityType, AuditPage
from shared.auth import Principal
from shared.clock import utcnow
from shared.pagination import page_of
from shared.requestid import current_client_request_id, current_request_id


@dataclass(frozen=True, slots=True)
class Change:
    action: AuditAction
    entity_type: AuditEntityType
    entity_id: str
    district_code: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


async def record(session: AsyncSession, principal: Principal, changes: Sequence[Change]) -> None:
    if not changes:
        return
    occurred_at = utcnow()
    request_id = current_request_id()
    client_request_id = current_client_request_id()
    await repository.add_entries(
        session,
        [
            {
                "occurred_at": occurred_at,
                "actor_role": str(principal.role),
                "actor_district": principal.district_code,
                "request_id": request_id,
                "client_request_id": client_request_id,
                "action": change.action,
                "entity_type": change.entity_type,
                "entity_id": change.entity_id,
                "district_code": change.district_code,
                "before": change.before,
                "after": change.after,
            }
            for change in changes
        ],
    )


async def read_page(
    session: AsyncSession,
    *,
    entity_type: str | None,
    entity_id: str | None,
    district_code: str | None,
    before_id: int | None,
    limit: int,
) -> AuditPage:
    rows = await repository.page(
        session,
        entity_type=entity_type,
        entity_id=entity_id,
        district_code=district_code,
        before_id=before_id,
        limit=limit + 1,
    )
    return AuditPage.model_validate(page_of(rows, limit, lambda row: row["id"]))
