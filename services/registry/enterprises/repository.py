"""Every query on enterprises and their yearly figures."""

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.registry.db import utcnow
from services.registry.enterprises.models import Enterprise, EnterpriseYear
from shared import bulk

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
)


async def page(
    session: AsyncSession,
    *,
    district_code: str | None,
    sector: str | None,
    name_contains: str | None,
    after_uscc: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """A page of enterprises, each a dict with its `years`, read as plain rows (listings are read in bulk)."""
    query = select(*ENTERPRISE_COLUMNS).order_by(Enterprise.uscc).limit(limit)
    if district_code is not None:
        query = query.where(Enterprise.district_code == district_code)
    if sector is not None:
        query = query.where(Enterprise.sector == sector)
    if name_contains:
        escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Enterprise.name.ilike(f"%{escaped}%", escape="\\"))
    if after_uscc is not None:
        query = query.where(Enterprise.uscc > after_uscc)
    enterprises = [{**row, "years": []} for row in (await session.execute(query)).mappings()]
    if enterprises:
        by_uscc = {enterprise["uscc"]: enterprise for enterprise in enterprises}
        years = (
            select(EnterpriseYear.uscc, *YEAR_COLUMNS)
            .where(bulk.member_of(session, ENTERPRISE_YEARS.c.uscc, list(by_uscc)))
            .order_by(EnterpriseYear.uscc, EnterpriseYear.year)
        )
        for row in (await session.execute(years)).mappings():
            figures = dict(row)
            by_uscc[figures.pop("uscc")]["years"].append(figures)
    return enterprises


def add(session: AsyncSession, enterprise: Enterprise) -> None:
    session.add(enterprise)


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


async def existing_for_import(session: AsyncSession, usccs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The enterprises among `usccs` that exist, as plain values."""
    columns = [
        Enterprise.uscc,
        Enterprise.name,
        Enterprise.district_code,
        Enterprise.sector,
        Enterprise.established_on,
        Enterprise.spun_off_from_manufacturer,
        Enterprise.version,
    ]
    found: dict[str, dict[str, Any]] = {}
    for batch in bulk.batches(session, usccs):
        rows = await session.execute(select(*columns).where(bulk.member_of(session, ENTERPRISES.c.uscc, batch)))
        found.update((row["uscc"], dict(row)) for row in rows.mappings())
    return found


async def existing_years_for_import(
    session: AsyncSession, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], dict[str, Any]]:
    """The stored figures for the (uscc, year) pairs in `keys` that exist."""
    columns = [
        EnterpriseYear.uscc,
        EnterpriseYear.year,
        EnterpriseYear.revenue_yuan,
        EnterpriseYear.employees,
        EnterpriseYear.above_scale,
        EnterpriseYear.top500_service,
    ]
    wanted = set(keys)
    years = sorted({year for _, year in keys})
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for batch in bulk.batches(session, sorted({uscc for uscc, _ in keys})):
        query = select(*columns).where(
            EnterpriseYear.year.in_(years), bulk.member_of(session, ENTERPRISE_YEARS.c.uscc, batch)
        )
        for row in (await session.execute(query)).mappings():
            if (row["uscc"], row["year"]) in wanted:
                found[(row["uscc"], row["year"])] = dict(row)
    return found


async def insert_enterprises(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await bulk.insert_rows(session, ENTERPRISES, rows)


async def update_enterprises(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> bool:
    """Write new values (and version) over existing enterprises, but only over the version the import read.

    Returns False when some enterprise was changed by another request in the meantime.
    """
    written = await bulk.update_rows(
        session, ENTERPRISES, rows, key=["uscc"], guard=lambda table, new: table.c.version == new.c.version - 1
    )
    return written == len(rows)


async def insert_years(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await bulk.insert_rows(session, ENTERPRISE_YEARS, rows)


async def update_years(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await bulk.update_rows(session, ENTERPRISE_YEARS, rows, key=["uscc", "year"])
