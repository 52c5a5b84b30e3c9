from fastapi import APIRouter

from services.registry.reference import service
from services.registry.reference.schemas import DistrictOut, SectorOut
from shared.auth import KeyHolderDep
from shared.db import SessionDep

router = APIRouter(tags=["reference"])


@router.get(
    "/districts",
    response_model=list[DistrictOut],
    operation_id="listDistricts",
    summary="The 38 county-level divisions of Chongqing",
    description="Every district and county by its GB/T 2260 code, with its name and kind, in code order.",
)
async def list_districts(session: SessionDep, _: KeyHolderDep) -> list[DistrictOut]:
    return await service.districts(session)


@router.get(
    "/sectors",
    response_model=list[SectorOut],
    operation_id="listSectors",
    summary="The 18 producer-service sectors of the action plan",
    description="Every sector by its code, with its Chinese and English names, in code order.",
)
async def list_sectors(session: SessionDep, _: KeyHolderDep) -> list[SectorOut]:
    return await service.sectors(session)
