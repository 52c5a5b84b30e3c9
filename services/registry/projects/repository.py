from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.projects.models import Project
from shared.repository import read_dicts


def add(session: AsyncSession, project: Project) -> None:
    session.add(project)


_TABLE = Project.__table__
# Listings and reads of plain values are Core statements on the table (shared.repository.table_columns says why).
_COLUMNS = tuple(column for column in _TABLE.c if column.key not in ("name_key", "created_at"))


async def read(session: AsyncSession, project_id: int) -> dict[str, Any] | None:
    """One project as plain values, or None."""
    rows = await read_dicts(session, select(*_COLUMNS).where(_TABLE.c.id == project_id))
    return rows[0] if rows else None


async def same_identity(session: AsyncSession, owner_uscc: str, kind: str, name_key: str, year: int) -> int | None:
    """The standing project with this owner, kind, normalised name and year, if any."""
    query = select(Project.id).where(
        Project.owner_uscc == owner_uscc,
        Project.kind == kind,
        Project.name_key == name_key,
        Project.year == year,
        Project.duplicate_of_id.is_(None),
    )
    return (await session.scalars(query)).first()


async def same_code(session: AsyncSession, project_code: str) -> int | None:
    query = select(Project.id).where(Project.project_code == project_code, Project.duplicate_of_id.is_(None))
    return (await session.scalars(query)).first()


async def page(
    session: AsyncSession,
    *,
    district_code: str | None,
    kind: str | None,
    year: int | None,
    owner_uscc: str | None,
    project_code: str | None,
    after_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """A page of projects as plain values (listings are read in bulk)."""
    filters = {
        "district_code": district_code,
        "kind": kind,
        "year": year,
        "owner_uscc": owner_uscc,
        "project_code": project_code,
    }
    query = select(*_COLUMNS).order_by(_TABLE.c.id).limit(limit)
    for name, value in filters.items():
        if value is not None:
            query = query.where(_TABLE.c[name] == value)
    if after_id is not None:
        query = query.where(_TABLE.c.id > after_id)
    return await read_dicts(session, query)
