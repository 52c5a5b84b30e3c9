from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit.models import AuditEntry

_CHUNK = 2_000


async def add_entries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), _CHUNK):
        await session.execute(insert(AuditEntry), list(rows[start : start + _CHUNK]))


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
