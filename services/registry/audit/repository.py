from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit.models import AuditEntry
from shared import bulk
from shared.repository import read_dicts

_TABLE = cast(Table, AuditEntry.__table__)


async def add_entries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if len(rows) == 1:
        await session.execute(insert(_TABLE), rows[0])
    else:
        await bulk.insert_rows(session, _TABLE, rows)


async def page(
    session: AsyncSession,
    *,
    entity_type: str | None,
    entity_id: str | None,
    district_code: str | None,
    before_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """A page of entries, newest first, as plain values."""
    filters = {"entity_type": entity_type, "entity_id": entity_id, "district_code": district_code}
    query = select(*_TABLE.c).order_by(_TABLE.c.id.desc()).limit(limit)
    for name, value in filters.items():
        if value is not None:
            query = query.where(_TABLE.c[name] == value)
    if before_id is not None:
        query = query.where(_TABLE.c.id < before_id)
    return await read_dicts(session, query)
