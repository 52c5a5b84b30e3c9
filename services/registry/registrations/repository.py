from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.registrations.models import EnterpriseRegistration
from shared.repository import read_dicts


def add(session: AsyncSession, registration: EnterpriseRegistration) -> None:
    session.add(registration)


async def get(
    session: AsyncSession, registration_id: int, *, for_update: bool = False
) -> EnterpriseRegistration | None:
    query = select(EnterpriseRegistration).where(EnterpriseRegistration.id == registration_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


async def held_for(session: AsyncSession, uscc: str) -> EnterpriseRegistration | None:
    query = select(EnterpriseRegistration).where(
        EnterpriseRegistration.uscc == uscc, EnterpriseRegistration.status == "held"
    )
    return (await session.scalars(query.limit(1))).first()


async def page(session: AsyncSession, *, status: str | None, after_id: int | None, limit: int) -> list[dict[str, Any]]:
    table = EnterpriseRegistration.__table__  # a Core statement (shared.repository.table_columns says why)
    query = select(*table.c).order_by(table.c.id).limit(limit)
    if status is not None:
        query = query.where(table.c.status == status)
    if after_id is not None:
        query = query.where(table.c.id > after_id)
    return await read_dicts(session, query)
