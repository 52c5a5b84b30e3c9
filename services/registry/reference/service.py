"""The reference lists: the 38 districts and the 18 sectors, in code order."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.reference import repository
from services.registry.reference.schemas import DistrictOut, SectorOut


async def districts(session: AsyncSession) -> list[DistrictOut]:
    return [DistrictOut.model_validate(row) for row in await repository.list_districts(session)]


async def sectors(session: AsyncSession) -> list[SectorOut]:
    return [SectorOut.model_validate(row) for row in await repository.list_sectors(session)]
