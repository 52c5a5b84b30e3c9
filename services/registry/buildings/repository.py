from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services.registry.buildings.models import Building, BuildingYear


def add(session: AsyncSession, row: Building | BuildingYear) -> None:
    session.add(row)


async def get(session: AsyncSession, building_id: int, *, for_update: bool = False) -> Building | None:
    query = select(Building).where(Building.id == building_id).options(selectinload(Building.years))
    if for_update:
        query = query.with_for_update(of=Building)
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


async def page(
    session: AsyncSession, *, district_code: str | None, after_id: int | None, limit: int
) -> Sequence[Building]:
    query = select(Building).options(selectinload(Building.years)).order_by(Building.id).limit(limit)
    if district_code is not None:
        query = query.where(Building.district_code == district_code)
    if after_id is not None:
        query = query.where(Building.id > after_id)
    return (await session.scalars(query)).all()


async def get_year(session: AsyncSession, building_id: int, year: int) -> BuildingYear | None:
    return await session.get(BuildingYear, (building_id, year))
