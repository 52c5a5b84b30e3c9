from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.projects.models import Project


def add(session: AsyncSession, project: Project) -> None:
    session.add(project)


async def get(session: AsyncSession, project_id: int) -> Project | None:
    return await session.get(Project, project_id)


async def page(
    session: AsyncSession,
    *,
    district_code: str | None,
    kind: str | None,
    year: int | None,
    owner_uscc: str | None,
    after_id: int | None,
    limit: int,
) -> Sequence[Project]:
    query = select(Project).order_by(Project.id).limit(limit)
    if district_code is not None:
        query = query.where(Project.district_code == district_code)
    if kind is not None:
        query = query.where(Project.kind == kind)
    if year is not None:
        query = query.where(Project.year == year)
    if owner_uscc is not None:
        query = query.where(Project.owner_uscc == owner_uscc)
    if after_id is not None:
        query = query.where(Project.id > after_id)
    return (await session.scalars(query)).all()
