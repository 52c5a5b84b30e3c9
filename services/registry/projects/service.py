"""Projects, platforms and events: the subjects of M01, M02 and M13."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit.service import Change, record
from services.registry.projects import repository
from services.registry.projects.models import Project
from services.registry.projects.schemas import ProjectCreate, ProjectOut, ProjectPage
from services.registry.scoping import cursor_key, ensure_readable, ensure_writable, listing_district, next_cursor
from shared.auth import Principal
from shared.errors import NotFound


async def create(session: AsyncSession, principal: Principal, data: ProjectCreate) -> ProjectOut:
    ensure_writable(principal, data.district_code)
    project = Project(**data.model_dump())
    repository.add(session, project)
    await session.flush()
    out = ProjectOut.model_validate(project)
    await record(
        session,
        principal,
        [Change("create", "project", str(project.id), project.district_code, None, out.model_dump(mode="json"))],
    )
    return out


async def read(session: AsyncSession, principal: Principal, project_id: int) -> ProjectOut:
    project = await repository.read(session, project_id)
    if project is None:
        raise NotFound(f"No project with id {project_id}.")
    ensure_readable(principal, project["district_code"])
    return ProjectOut.model_validate(project)


async def list_page(
    session: AsyncSession,
    principal: Principal,
    *,
    district_code: str | None,
    kind: str | None,
    year: int | None,
    owner_uscc: str | None,
    cursor: str | None,
    limit: int,
) -> ProjectPage:
    rows = await repository.page(
        session,
        district_code=listing_district(principal, district_code),
        kind=kind,
        year=year,
        owner_uscc=owner_uscc,
        after_id=cursor_key(cursor, int),
        limit=limit + 1,
    )
    # One validation of the whole page runs in pydantic's core, far faster than a model per row.
    return ProjectPage.model_validate(
        {"items": rows[:limit], "next_cursor": next_cursor(rows, limit, lambda row: row["id"])}
    )
