"""Every query on enterprises and their yearly figures."""

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.registry.db import utcnow
from services.registry.enterprises.models import Enterprise, EnterpriseYear
from shared import bulk
from shared.repository import among, with_children

ENTERPRISES = cast(Table, Enterprise.__table__)
ENTERPRISE_YEARS = cast(Table, EnterpriseYear.__table__)


async def get(session: AsyncSession, uscc: str, *, for_update: bool = False) -> Enterprise | None:
    query = select(Enterprise).where(Enterprise.uscc == uscc).options(selectinload(Enterprise.years))
    if for_update:
        query = query.with_for_update(of=Enterprise)
    return (await session.scalars(query)).one_or_none()


# Listings and reads of plain values are Core statements on the tables (shared.repository.table_columns says why).
_E = ENTERPRISES.c
_Y = ENTERPRISE_YEARS.c
ENTERPRISE_COLUMNS = tuple(
    _E[name]
    for name in (
        "uscc",
        "name",
        "district_code",
        "sector",
        "established_on",
        "spun_off_from_manufacturer",
        "parent_uscc",
        "spun_off_on",
        "version",
        "created_at",
        "updated_at",
    )
)
YEAR_COLUMNS = tuple(
    _Y[name]
    for name in (
        "year",
        "revenue_yuan",
        "employees",
        "above_scale",
        "top500_service",
        "district_code",
        "verification_status",
        "submitted_by",
        "submitted_at",
        "verified_by",
        "verified_at",
        "verification_reason",
    )
)


def _of_district_in_year(district_code: str, year: int) -> ColumnElement[bool]:
    """The enterprise belonged to the district in the year: its figures of that year say so, or, without figures of
    that year, its present district does."""
    figures = select(_Y.uscc).where(_Y.uscc == _E.uscc, _Y.year == year)
    recorded_there = figures.where(_Y.district_code == district_code).exists()
    return recorded_there | ((_E.district_code == district_code) & ~figures.exists())


async def _with_years(session: AsyncSession, enterprises: Any) -> list[dict[str, Any]]:
    return await with_children(session, enterprises, YEAR_COLUMNS, _Y.uscc, (_Y.uscc, _Y.year), "years")


async def page(
    session: AsyncSession,
    *,
    district_code: str | None,
    sector: str | None,
    name_contains: str | None,
    after_uscc: str | None,
    limit: int,
    year: int | None = None,
) -> list[dict[str, Any]]:
    """A page of enterprises, each a dict with its `years`, read as plain rows (listings are read in bulk). With
    `year`, the district filter is the district of the enterprise in that year."""
    query = select(*ENTERPRISE_COLUMNS).order_by(_E.uscc).limit(limit)
    if district_code is not None and year is not None:
        query = query.where(_of_district_in_year(district_code, year))
    elif district_code is not None:
        query = query.where(_E.district_code == district_code)
    if sector is not None:
        query = query.where(_E.sector == sector)
    if name_contains:
        escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(_E.name.ilike(f"%{escaped}%", escape="\\"))
    if after_uscc is not None:
        query = query.where(_E.uscc > after_uscc)
    return await _with_years(session, query)


async def read(session: AsyncSession, uscc: str) -> dict[str, Any] | None:
    """One enterprise with its `years`, as plain values, or None."""
    enterprises = await _with_years(session, select(*ENTERPRISE_COLUMNS).where(_E.uscc == uscc))
    return enterprises[0] if enterprises else None


async def exists(session: AsyncSession, uscc: str) -> bool:
    return (await session.execute(select(Enterprise.uscc).where(Enterprise.uscc == uscc))).first() is not None


async def insert_one(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(ENTERPRISES), values)


async def update_fields(session: AsyncSession, uscc: str, expected_version: int, values: dict[str, Any]) -> bool:
    """Apply `values` and bump the version, only if the row still has `expected_version`."""
    result = await session.execute(
        update(Enterprise)
        .where(Enterprise.uscc == uscc, Enterprise.version == expected_version)
        .values(**values, version=Enterprise.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def get_year(session: AsyncSession, uscc: str, year: int) -> EnterpriseYear | None:
    return await session.get(EnterpriseYear, (uscc, year))


def add_year(session: AsyncSession, figures: EnterpriseYear) -> None:
    session.add(figures)


_IMPORT_ENTERPRISE_COLUMNS = (
    Enterprise.uscc,
    Enterprise.name,
    Enterprise.district_code,
    Enterprise.sector,
    Enterprise.established_on,
    Enterprise.spun_off_from_manufacturer,
    Enterprise.parent_uscc,
    Enterprise.spun_off_on,
    Enterprise.version,
)
_IMPORT_YEAR_COLUMNS = (
    EnterpriseYear.uscc,
    EnterpriseYear.year,
    EnterpriseYear.revenue_yuan,
    EnterpriseYear.employees,
    EnterpriseYear.above_scale,
    EnterpriseYear.top500_service,
    EnterpriseYear.district_code,
)


async def existing_for_import(
    session: AsyncSession, usccs: Sequence[str], years: Sequence[int]
) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, int], dict[str, Any]]]:
    """The enterprises among `usccs` that exist, and their stored figures for `years`, as plain values."""
    query = (
        select(*_IMPORT_ENTERPRISE_COLUMNS, *_IMPORT_YEAR_COLUMNS[1:])
        .select_from(Enterprise)
        .outerjoin(EnterpriseYear, (EnterpriseYear.uscc == Enterprise.uscc) & among(EnterpriseYear.year, years))
        .where(among(Enterprise.uscc, usccs))
    )
    width = len(_IMPORT_ENTERPRISE_COLUMNS)
    enterprise_keys = tuple(column.key for column in _IMPORT_ENTERPRISE_COLUMNS)
    year_keys = tuple(column.key for column in _IMPORT_YEAR_COLUMNS)  # the year's district is `district_code`
    enterprises: dict[str, dict[str, Any]] = {}
    figures: dict[tuple[str, int], dict[str, Any]] = {}
    for row in (await session.execute(query)).all():
        if row[0] not in enterprises:
            enterprises[row[0]] = dict(zip(enterprise_keys, row[:width], strict=True))
        if row[width] is not None:
            figures[(row[0], row[width])] = dict(zip(year_keys, (row[0], *row[width:]), strict=True))
    return enterprises, figures


async def insert_enterprises(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await bulk.insert_rows(session, ENTERPRISES, rows)


def _unchanged_since_read(table: Table, new: Any) -> Any:
    return table.c.version == new.c.version - 1


async def update_enterprises(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> bool:
    """Write new values (and version) over existing enterprises, but only over the version the import read.

    Returns False when some enterprise was changed by another request in the meantime.
    """
    written = await bulk.update_rows(session, ENTERPRISES, rows, key=["uscc"], guard=_unchanged_since_read)
    return written == len(rows)


async def insert_years(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await bulk.insert_rows(session, ENTERPRISE_YEARS, rows)


async def update_years(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await bulk.update_rows(session, ENTERPRISE_YEARS, rows, key=["uscc", "year"])


async def refresh_statistics(session: AsyncSession) -> None:
    """Renew the planner's statistics of the yearly figures after a bulk load (PostgreSQL's manual, "Populating a
    Database": run ANALYZE afterwards), so that the district statistics read right after an import of the year's
    directory are planned on the figures they read rather than on stale ones; autovacuum would only catch up later."""
    await session.execute(text("ANALYZE enterprise_years"))


async def district_of(session: AsyncSession, uscc: str) -> str | None:
    """The district of the enterprise with this credit code, or None if the registry holds no such enterprise."""
    found = (await session.execute(select(Enterprise.district_code).where(Enterprise.uscc == uscc))).first()
    return str(found[0]) if found else None
