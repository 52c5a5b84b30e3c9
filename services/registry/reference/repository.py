from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.reference.models import District, Sector


async def list_districts(session: AsyncSession) -> Sequence[District]:
    return (await session.scalars(select(District).order_by(District.code))).all()


async def list_sectors(session: AsyncSession) -> Sequence[Sector]:
    return (await session.scalars(select(Sector).order_by(Sector.code))).all()
