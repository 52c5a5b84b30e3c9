from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from services.registry.buildings import service
from services.registry.buildings.schemas import (
    BuildingCreate,
    BuildingOut,
    BuildingPage,
    BuildingYearIn,
    BuildingYearOut,
)
from shared.auth import KeyHolderDep
from shared.db import SessionDep
from shared.identifiers import DistrictCode, Year
from shared.pagination import DEFAULT_LIMIT, AfterIntegerId, LimitQuery

router = APIRouter(prefix="/buildings", tags=["buildings"])
BuildingId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post(
    "", response_model=BuildingOut, status_code=status.HTTP_201_CREATED, summary="Register a star building (星级楼宇)"
)
async def create_building(data: BuildingCreate, session: SessionDep, principal: KeyHolderDep) -> BuildingOut:
    return await service.create(session, principal, data)


@router.get("", response_model=BuildingPage, summary="Star buildings with their yearly revenue")
async def list_buildings(
    session: SessionDep,
    principal: KeyHolderDep,
    after_id: AfterIntegerId,
    district_code: DistrictCode | None = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> BuildingPage:
    return await service.list_page(session, principal, district_code=district_code, after_id=after_id, limit=limit)


@router.get("/{building_id}", response_model=BuildingOut, summary="One star building with its yearly revenue")
async def read_building(building_id: BuildingId, session: SessionDep, principal: KeyHolderDep) -> BuildingOut:
    return await service.read(session, principal, building_id)


@router.put(
    "/{building_id}/years/{year}",
    response_model=BuildingYearOut,
    summary="Record the year's revenue",
    responses={201: {"model": BuildingYearOut, "description": "Created: the year had no record yet"}},
)
async def put_building_year(
    building_id: BuildingId,
    year: Year,
    data: BuildingYearIn,
    session: SessionDep,
    principal: KeyHolderDep,
    response: Response,
) -> BuildingYearOut:
    out, created = await service.put_year(session, principal, building_id, year, data)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return out
