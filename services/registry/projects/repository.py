from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.projects.models import Project
from shared.db import read_dicts


def add(session: AsyncSession, project: Project) -> None:
    session.add(project)


_COLUMNS = tuple(column for column in Project.__table__.c if column.key not in ("name_key", "created_at"))
_READ = select(*_COLUMNS).where(Project.id == bindparam("project_id"))
_FILTERS = ("district_code", "kind", "year", "owner_uscc", "project_code")
# Built once for each combination of filters, with the values as parameters: building and hashing a statement
# costs more than running it.
_PAGES: dict[tuple[bool, ...], Any] = {}
_SAME_IDENTITY = select(Project.id).where(
    Project.owner_uscc == bindparam("owner_uscc"),
    Project.kind == bindparam("kind"),
    Project.name_key == bindparam("name_key"),
    Project.year == bindparam("year"),
    Project.duplicate_of_id.is_(None),
)
_SAME_CODE = select(Project.id).where(
    Project.project_code == bindparam("project_code"), Project.duplicate_of_id.is_(None)
)


async def read(session: AsyncSession, project_id: int) -> dict[str, Any] | None:
    """One project as plain values, or None."""
    rows = await read_dicts(session, _READ, {"project_id": project_id})
    return rows[0] if rows else None


async def same_identity(session: AsyncSession, owner_uscc: str, kind: str, name_key: str, year: int) -> int | None:
    """The standing project with this owner, kind, normalised name and year, if any."""
    found = (
        await session.execute(
            _SAME_IDENTITY, {"owner_uscc": owner_uscc, "kind": kind, "name_key": name_key, "year": year}
        )
    ).first()
    return int(found[0]) if found else None


async def same_code(session: AsyncSession, project_code: str) -> int | None:
    found = (await session.execute(_SAME_CODE, {"project_code": project_code})).first()
    return int(found[0]) if found else None


def _page_query(present: tuple[bool, ...], after: bool) -> Any:
    key = (*present, after)
    query = _PAGES.get(key)
    if query is None:
        query = select(*_COLUMNS).order_by(Project.id).limit(bindparam("limit"))
        for name, wanted in zip(_FILTERS, present, strict=True):
            if wanted:
                query = query.where(Project.__table__.c[name] == bindparam(name))
        if after:
            query = query.where(Project.id > bindparam("after_id"))
        _PAGES[key] = query
    return query


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
    parameters: dict[str, Any] = {name: value for name, value in filters.items() if value is not None}
    parameters["limit"] = limit
    if after_id is not None:
        parameters["after_id"] = after_id
    query = _page_query(tuple(filters[name] is not None for name in _FILTERS), after_id is not None)
    return await read_dicts(session, query, parameters)
