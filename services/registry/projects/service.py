"""Projects, platforms and events: the subjects of M01, M02 and M13.

One real-world subject, one record: the national project code (项目代码) is unique, and so is owner + kind +
normalised name + year. The owner must be an enterprise of the registry and the project lies in its district.
"""

import unicodedata

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.audit.service import Change, record
from services.registry.enterprises import repository as enterprises
from services.registry.problems import ProjectDuplicate
from services.registry.projects import repository
from services.registry.projects.models import Project
from services.registry.projects.schemas import ProjectCreate, ProjectOut, ProjectPage
from services.registry.verification.service import written_by
from shared.auth import Principal
from shared.clock import utcnow
from shared.errors import InvalidInput, NotFound, field_error
from shared.pagination import page_of
from shared.scoping import ensure_readable, ensure_writable, listing_district


def name_key(name: str) -> str:
    """The name as the identity compares it: NFKC (full-width letters and digits as half-width…), no whitespace."""
    return "".join(char for char in unicodedata.normalize("NFKC", name) if not char.isspace())


async def _refuse_duplicate(session: AsyncSession, data: ProjectCreate, key: str) -> None:
    """409 naming the standing project this one would duplicate (by its project code, or owner+kind+name+year)."""
    if data.project_code is not None:
        existing = await repository.same_code(session, data.project_code)
        if existing is not None:
            raise ProjectDuplicate(
                f"Project {existing} already carries the project code {data.project_code}.",
                existing_project_id=existing,
                errors=[field_error(["body", "project_code"], f"already the code of project {existing}")],
            )
    existing = await repository.same_identity(session, data.owner_uscc, data.kind, key, data.year)
    if existing is not None:
        raise ProjectDuplicate(
            f"Project {existing} is the same {data.kind} of the same owner, name and year.",
            existing_project_id=existing,
            errors=[field_error(["body", "name"], f"the same owner, kind, name and year as project {existing}")],
        )


async def create(session: AsyncSession, principal: Principal, data: ProjectCreate) -> ProjectOut:
    if data.district_code is not None:
        ensure_writable(principal, data.district_code)  # a district names no other district (403)
    owner_district = await enterprises.district_of(session, data.owner_uscc)
    if owner_district is None:
        raise InvalidInput(
            f"The owner {data.owner_uscc} is not an enterprise of the registry; register it first.",
            errors=[field_error(["body", "owner_uscc"], "not an enterprise of the registry")],
        )
    if data.district_code is not None and data.district_code != owner_district:
        raise InvalidInput(
            f"The project lies in its owner's district, {owner_district}, not {data.district_code}.",
            errors=[field_error(["body", "district_code"], f"the owner's district is {owner_district}")],
        )
    ensure_writable(principal, owner_district)
    key = name_key(data.name)
    await _refuse_duplicate(session, data, key)
    project = Project(
        **data.model_dump(exclude={"district_code"}),
        district_code=owner_district,
        name_key=key,
        **written_by(principal, utcnow()),
    )
    try:
        async with session.begin_nested():  # the unique indexes decide a race between two identical creates
            repository.add(session, project)
            await session.flush()
    except IntegrityError:
        await _refuse_duplicate(session, data, key)
        raise
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
    project_code: str | None,
    after_id: int | None,
    limit: int,
) -> ProjectPage:
    rows = await repository.page(
        session,
        district_code=listing_district(principal, district_code),
        kind=kind,
        year=year,
        owner_uscc=owner_uscc,
        project_code=project_code,
        after_id=after_id,
        limit=limit + 1,
    )
    # One validation of the whole page runs in pydantic's core, far faster than a model per row.
    return ProjectPage.model_validate(page_of(rows, limit, lambda row: row["id"]))
