from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit.models import AuditEntry
from shared import bulk


async def add_entries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if len(rows) == 1:
        await session.execute(insert(AuditEntry), list(rows))
    else:
        await bulk.insert_rows(session, cast(Table, AuditEntry.__table__), rows)


async def page(
    session: AsyncSession,
    *,
    entity_type: str | None,
    entity_id: str | None,
    district_code: str | None,
    before_id: int | None,
    limit: int,
) -> Sequence[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if entity_type is not None:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    if district_code is not None:
        query = query.where(AuditEntry.district_code == district_code)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return (await session.scalars(query)).all()
