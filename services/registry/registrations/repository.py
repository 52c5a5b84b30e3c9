from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.registrations.models import EnterpriseRegistration
from shared.db import read_dicts


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


_COLUMNS = tuple(EnterpriseRegistration.__table__.c)
_PAGES: dict[tuple[bool, bool], Any] = {}


def _page_query(status: bool, after: bool) -> Any:
    query = _PAGES.get((status, after))
    if query is None:
        query = select(*_COLUMNS).order_by(EnterpriseRegistration.id).limit(bindparam("limit"))
        if status:
            query = query.where(EnterpriseRegistration.status == bindparam("status"))
        if after:
            query = query.where(EnterpriseRegistration.id > bindparam("after_id"))
        _PAGES[(status, after)] = query
    return query


async def page(session: AsyncSession, *, status: str | None, after_id: int | None, limit: int) -> list[dict[str, Any]]:
    parameters: dict[str, Any] = {"limit": limit}
    if status is not None:
        parameters["status"] = status
    if after_id is not None:
        parameters["after_id"] = after_id
    return await read_dicts(session, _page_query(status is not None, after_id is not None), parameters)
