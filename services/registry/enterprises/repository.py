"""Every query on enterprises and their yearly figures."""

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.registry.db import utcnow
from services.registry.enterprises.models import Enterprise, EnterpriseYear
from shared import bulk
from shared.db import nest_rows, read_rows, read_with_children

ENTERPRISES = cast(Table, Enterprise.__table__)
ENTERPRISE_YEARS = cast(Table, EnterpriseYear.__table__)


async def get(session: AsyncSession, uscc: str, *, for_update: bool = False) -> Enterprise | None:
    query = select(Enterprise).where(Enterprise.uscc == uscc).options(selectinload(Enterprise.years))
    if for_update:
        query = query.with_for_update(of=Enterprise)
    return (await session.scalars(query)).one_or_none()


ENTERPRISE_COLUMNS = (
    Enterprise.uscc,
    Enterprise.name,
    Enterprise.district_code,
    Enterprise.sector,
    Enterprise.established_on,
    Enterprise.spun_off_from_manufacturer,
    Enterprise.parent_uscc,
    Enterprise.spun_off_on,
    Enterprise.version,
    Enterprise.created_at,
    Enterprise.updated_at,
)
YEAR_COLUMNS = (
    EnterpriseYear.year,
    EnterpriseYear.revenue_yuan,
    EnterpriseYear.employees,
    EnterpriseYear.above_scale,
    EnterpriseYear.top500_service,
    EnterpriseYear.district_code,
    EnterpriseYear.verification_status,
    EnterpriseYear.submitted_by,
    EnterpriseYear.submitted_at,
    EnterpriseYear.verified_by,
    EnterpriseYear.verified_at,
    EnterpriseYear.verification_reason,
)


# Built once for each combination of filters, with the values as parameters: building and hashing a statement
# costs more than running it.
_PAGES: dict[tuple[bool, bool, bool, bool, bool], Any] = {}
_ENTERPRISE_KEYS = tuple(column.key for column in ENTERPRISE_COLUMNS)
_YEAR_KEYS = tuple(column.key for column in YEAR_COLUMNS)


def _of_district_in_year() -> Any:
    """The enterprise belonged to the district in the year: its figures of that year say so, or, without figures of
    that year, its present district does."""
    figures = select(EnterpriseYear.uscc).where(
        EnterpriseYear.uscc == Enterprise.uscc, EnterpriseYear.year == bindparam("year")
    )
    recorded_there = figures.where(EnterpriseYear.district_code == bindparam("district_code")).exists()
    return recorded_there | ((Enterprise.district_code == bindparam("district_code")) & ~figures.exists())


def _page_query(district: bool, sector: bool, search: bool, after: bool, in_year: bool) -> Any:
    key = (district, sector, search, after, in_year)
    query = _PAGES.get(key)
    if query is None:
        query = select(*ENTERPRISE_COLUMNS).order_by(Enterprise.uscc).limit(bindparam("limit"))
        if district and in_year:
            query = query.where(_of_district_in_year())
        elif district:
            query = query.where(Enterprise.district_code == bindparam("district_code"))
        if sector:
            query = query.where(Enterprise.sector == bindparam("sector"))
        if search:
            query = query.where(Enterprise.name.ilike(bindparam("pattern"), escape="\\"))
        if after:
            query = query.where(Enterprise.uscc > bindparam("after_uscc"))
        _PAGES[key] = query
    return query


_YEARS_OF: dict[str, Any] = {}


def _years_query(dialect: str) -> Any:
    query = _YEARS_OF.get(dialect)
    if query is None:
        query = _YEARS_OF[dialect] = (
            select(EnterpriseYear.uscc, *YEAR_COLUMNS)
            .where(bulk.member_of_parameter(dialect, ENTERPRISE_YEARS.c.uscc, "keys"))
            .order_by(EnterpriseYear.uscc, EnterpriseYear.year)
        )
    return query


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
    in_year = district_code is not None and year is not None
    query = _page_query(
        district_code is not None, sector is not None, bool(name_contains), after_uscc is not None, in_year
    )
    parameters: dict[str, Any] = {"limit": limit}
    if district_code is not None:
        parameters["district_code"] = district_code
    if in_year:
        parameters["year"] = year
    if sector is not None:
        parameters["sector"] = sector
    if name_contains:
        escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        parameters["pattern"] = f"%{escaped}%"
    if after_uscc is not None:
        parameters["after_uscc"] = after_uscc
    years = _years_query(session.get_bind().dialect.name)
    return await read_with_children(session, query, parameters, _ENTERPRISE_KEYS, years, _YEAR_KEYS, "years")


_READ = (
    select(*ENTERPRISE_COLUMNS, *YEAR_COLUMNS)
    .outerjoin(EnterpriseYear, EnterpriseYear.uscc == Enterprise.uscc)
    .where(Enterprise.uscc == bindparam("uscc"))
    .order_by(EnterpriseYear.year)
)


async def read(session: AsyncSession, uscc: str) -> dict[str, Any] | None:
    """One enterprise with its `years`, as plain values (in one statement), or None."""
    rows = await read_rows(session, _READ, {"uscc": uscc})
    enterprises = nest_rows(rows, _ENTERPRISE_KEYS, _YEAR_KEYS, "years")
    return enterprises[0] if enterprises else None


_EXISTS = select(Enterprise.uscc).where(Enterprise.uscc == bindparam("uscc"))
_INSERT = insert(ENTERPRISES)


async def exists(session: AsyncSession, uscc: str) -> bool:
    return (await session.execute(_EXISTS, {"uscc": uscc})).first() is not None


async def insert_one(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(_INSERT, values)


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
_IMPORT_QUERIES: dict[str, Any] = {}


def _import_query(dialect: str) -> Any:
    """The enterprises among `usccs`, each joined with its stored figures for `years` (one row per year)."""
    query = _IMPORT_QUERIES.get(dialect)
    if query is None:
        query = _IMPORT_QUERIES[dialect] = (
            select(*_IMPORT_ENTERPRISE_COLUMNS, *_IMPORT_YEAR_COLUMNS[1:])
            .select_from(Enterprise)
            .outerjoin(
                EnterpriseYear,
                (EnterpriseYear.uscc == Enterprise.uscc) & EnterpriseYear.year.in_(bindparam("years", expanding=True)),
            )
            .where(bulk.member_of_parameter(dialect, ENTERPRISES.c.uscc, "usccs"))
        )
    return query


async def existing_for_import(
    session: AsyncSession, usccs: Sequence[str], years: Sequence[int]
) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, int], dict[str, Any]]]:
    """The enterprises among `usccs` that exist, and their stored figures for `years`, as plain values."""
    query = _import_query(session.get_bind().dialect.name)
    width = len(_IMPORT_ENTERPRISE_COLUMNS)
    enterprise_keys = tuple(column.key for column in _IMPORT_ENTERPRISE_COLUMNS)
    year_keys = tuple(column.key for column in _IMPORT_YEAR_COLUMNS)  # the year's district is `district_code`
    enterprises: dict[str, dict[str, Any]] = {}
    figures: dict[tuple[str, int], dict[str, Any]] = {}
    for batch in bulk.batches(session, usccs):
        for row in (await session.execute(query, {"usccs": list(batch), "years": list(years)})).all():
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
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("ANALYZE enterprise_years"))


_DISTRICT_OF = select(Enterprise.district_code).where(Enterprise.uscc == bindparam("uscc"))


async def district_of(session: AsyncSession, uscc: str) -> str | None:
    """The district of the enterprise with this credit code, or None if the registry holds no such enterprise."""
    found = (await session.execute(_DISTRICT_OF, {"uscc": uscc})).first()
    return str(found[0]) if found else None
