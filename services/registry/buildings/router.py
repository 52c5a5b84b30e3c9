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
from services.registry.problems import (
    INVALID,
    INVALID_PATH,
    INVALID_QUERY,
    OTHER_DISTRICT,
    OTHER_DISTRICTS_RECORDS,
)
from shared.auth import KeyHolderDep
from shared.db import SessionDep
from shared.identifiers import DistrictCode, Year
from shared.openapi import HEADERS, problems
from shared.pagination import DEFAULT_LIMIT, AfterIntegerId, LimitQuery

router = APIRouter(prefix="/buildings", tags=["buildings"])
BuildingId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NO_BUILDING = "No building with this id."


@router.post(
    "",
    response_model=BuildingOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="createBuilding",
    summary="Register a star building (星级楼宇)",
    description="Registers a building with its star grade and operator in its district; a district key registers "
    "only in its own district. The grade is verified when the city registers the building and waits for the city "
    "when a district does. `Location` names the building created.",
    responses={
        201: {"headers": {"Location": HEADERS["Location"]}},
        **problems({403: OTHER_DISTRICT, 422: INVALID}),
    },
)
async def create_building(
    data: BuildingCreate, session: SessionDep, principal: KeyHolderDep, response: Response
) -> BuildingOut:
    out = await service.create(session, principal, data)
    response.headers["Location"] = f"/buildings/{out.id}"
    return out


@router.get(
    "",
    response_model=BuildingPage,
    operation_id="listBuildings",
    summary="Star buildings with their yearly revenue",
    description="The buildings in id order, a page at a time, each with its yearly revenue; filter by district. A "
    "district key sees its own district's buildings only. 422 for an invalid filter or cursor.",
    responses=problems({403: OTHER_DISTRICTS_RECORDS, 422: INVALID_QUERY}),
)
async def list_buildings(
    session: SessionDep,
    principal: KeyHolderDep,
    after_id: AfterIntegerId,
    district_code: DistrictCode | None = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> BuildingPage:
    return await service.list_page(session, principal, district_code=district_code, after_id=after_id, limit=limit)


@router.get(
    "/{building_id}",
    response_model=BuildingOut,
    operation_id="getBuilding",
    summary="One star building with its yearly revenue",
    description="The building, its grade's verification and its yearly revenue, each year with its verification.",
    responses=problems({403: OTHER_DISTRICT, 404: NO_BUILDING, 422: INVALID_PATH}),
)
async def read_building(building_id: BuildingId, session: SessionDep, principal: KeyHolderDep) -> BuildingOut:
    return await service.read(session, principal, building_id)


@router.put(
    "/{building_id}/years/{year}",
    response_model=BuildingYearOut,
    operation_id="setBuildingYear",
    summary="Record a star building's revenue of the year",
    description="Records the year's revenue, which decides M05. Written by the city, it is verified; written by the "
    "building's district, it waits for the city. 201 when the year had no record, 200 when it is replaced (or "
    "unchanged).",
    responses={
        200: {"description": "Replaced (or unchanged)"},
        201: {"model": BuildingYearOut, "description": "Created: the year had no record yet"},
        **problems({403: OTHER_DISTRICT, 404: NO_BUILDING, 422: INVALID}),
    },
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
