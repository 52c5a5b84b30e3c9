from fastapi import APIRouter

from services.registry.reference import service
from services.registry.reference.schemas import DistrictOut, SectorOut
from shared.auth import KeyHolderDep
from shared.db import SessionDep

router = APIRouter(tags=["reference"])


@router.get("/districts", response_model=list[DistrictOut], summary="The 38 county-level divisions of Chongqing")
async def list_districts(session: SessionDep, _: KeyHolderDep) -> list[DistrictOut]:
    return await service.districts(session)


@router.get("/sectors", response_model=list[SectorOut], summary="The 18 producer-service sectors of the action plan")
async def list_sectors(session: SessionDep, _: KeyHolderDep) -> list[SectorOut]:
    return await service.sectors(session)
