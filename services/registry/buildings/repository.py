from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.registry.buildings.models import Building, BuildingYear
from services.registry.verification.schemas import FLAT_KEYS
from shared import bulk
from shared.db import read_with_children


def add(session: AsyncSession, row: Building | BuildingYear) -> None:
    session.add(row)


async def get(session: AsyncSession, building_id: int, *, for_update: bool = False) -> Building | None:
    query = select(Building).where(Building.id == building_id).options(selectinload(Building.years))
    if for_update:
        query = query.with_for_update(of=Building)
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


_BUILDING_COLUMNS = (
    Building.id,
    Building.name,
    Building.district_code,
    Building.stars,
    Building.operator_uscc,
    *(getattr(Building, name) for name in FLAT_KEYS),
)
_YEAR_COLUMNS = (BuildingYear.year, BuildingYear.revenue_yuan, *(getattr(BuildingYear, name) for name in FLAT_KEYS))
_BUILDING_KEYS = tuple(column.key for column in _BUILDING_COLUMNS)
_YEAR_KEYS = tuple(column.key for column in _YEAR_COLUMNS)
# Built once for each combination of filters, with the values as parameters: building and hashing a statement
# costs more than running it.
_PAGES: dict[tuple[bool, bool], Any] = {}
_YEARS_OF: dict[str, Any] = {}


def _page_query(district: bool, after: bool) -> Any:
    query = _PAGES.get((district, after))
    if query is None:
        query = select(*_BUILDING_COLUMNS).order_by(Building.id).limit(bindparam("limit"))
        if district:
            query = query.where(Building.district_code == bindparam("district_code"))
        if after:
            query = query.where(Building.id > bindparam("after_id"))
        _PAGES[(district, after)] = query
    return query


def _years_query(dialect: str) -> Any:
    query = _YEARS_OF.get(dialect)
    if query is None:
        query = _YEARS_OF[dialect] = (
            select(BuildingYear.building_id, *_YEAR_COLUMNS)
            .where(bulk.member_of_parameter(dialect, cast(Table, BuildingYear.__table__).c.building_id, "keys"))
            .order_by(BuildingYear.building_id, BuildingYear.year)
        )
    return query


async def page(
    session: AsyncSession, *, district_code: str | None, after_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """A page of buildings, each a dict with its years, read as plain rows (listings are read in bulk)."""
    parameters: dict[str, Any] = {"limit": limit}
    if district_code is not None:
        parameters["district_code"] = district_code
    if after_id is not None:
        parameters["after_id"] = after_id
    query = _page_query(district_code is not None, after_id is not None)
    years = _years_query(session.get_bind().dialect.name)
    return await read_with_children(session, query, parameters, _BUILDING_KEYS, years, _YEAR_KEYS, "years")


async def get_year(session: AsyncSession, building_id: int, year: int) -> BuildingYear | None:
    return await session.get(BuildingYear, (building_id, year))
