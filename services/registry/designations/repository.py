"""Every query on 市级领军企业 designations (each read with its enterprise's district, sector and name)."""

from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.designations.models import LeadingDesignation
from services.registry.enterprises.models import Enterprise
from shared.repository import read_dicts

_D = cast(Table, LeadingDesignation.__table__).c
_E = cast(Table, Enterprise.__table__).c
_COLUMNS = (
    _D.id,
    _D.uscc,
    _E.name.label("enterprise_name"),
    _E.district_code,
    _E.sector,
    _D.year,
    _D.document,
    _D.designated_by,
    _D.designated_at,
    _D.revoked_at,
    _D.revoked_by,
    _D.revocation_reason,
)
_JOINED = select(*_COLUMNS).select_from(cast(Table, LeadingDesignation.__table__).join(Enterprise, _E.uscc == _D.uscc))


def add(session: AsyncSession, designation: LeadingDesignation) -> None:
    session.add(designation)


async def lock_enterprise(session: AsyncSession, uscc: str) -> dict[str, Any] | None:
    """The enterprise's district and sector, its row locked for the transaction (so two designations of it are
    decided one after the other); None if the registry holds no such enterprise."""
    query = select(_E.district_code, _E.sector).where(_E.uscc == uscc).with_for_update()
    row = (await session.execute(query)).mappings().first()
    return dict(row) if row is not None else None


async def live_of(session: AsyncSession, uscc: str) -> int | None:
    """The id of the enterprise's live (not revoked) designation, if it has one."""
    query = select(_D.id).where(_D.uscc == uscc, _D.revoked_at.is_(None))
    return cast(int | None, (await session.execute(query)).scalar_one_or_none())


async def get(session: AsyncSession, designation_id: int, *, for_update: bool = False) -> LeadingDesignation | None:
    query = select(LeadingDesignation).where(LeadingDesignation.id == designation_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


async def read(session: AsyncSession, designation_id: int) -> dict[str, Any] | None:
    """One designation with its enterprise's name, district and sector, as plain values."""
    rows = await read_dicts(session, _JOINED.where(_D.id == designation_id))
    return rows[0] if rows else None


async def page(
    session: AsyncSession,
    *,
    year: int | None,
    district_code: str | None,
    sector: str | None,
    after_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    query = _JOINED.order_by(_D.id).limit(limit)
    if year is not None:
        query = query.where(_D.year == year)
    if district_code is not None:
        query = query.where(_E.district_code == district_code)
    if sector is not None:
        query = query.where(_E.sector == sector)
    if after_id is not None:
        query = query.where(_D.id > after_id)
    return await read_dicts(session, query)
