from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from services.registry.designations import service
from services.registry.designations.schemas import DesignationCreate, DesignationOut, DesignationPage, Revocation
from shared.auth import KeyHolderDep, Principal, Role, require_roles
from shared.clock import ClockDep
from shared.db import SessionDep
from shared.identifiers import DistrictCode, SectorCode, Year
from shared.pagination import DEFAULT_LIMIT, AfterIntegerId, LimitQuery

router = APIRouter(prefix="/leading-enterprises", tags=["leading enterprises"])
DesignationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CityPrincipal = Annotated[Principal, require_roles(Role.CITY)]


@router.post(
    "",
    response_model=DesignationOut,
    status_code=status.HTTP_201_CREATED,
    summary="Designate a 市级领军企业 (city; 409 if the enterprise has a live designation)",
)
async def create_designation(
    data: DesignationCreate, session: SessionDep, principal: CityPrincipal, clock: ClockDep, response: Response
) -> DesignationOut:
    out = await service.create(session, principal, data, clock.today())
    response.headers["Location"] = f"/leading-enterprises/{out.id}"
    return out


@router.get(
    "",
    response_model=DesignationPage,
    summary="市级领军企业 designations, in id order (a district: its own enterprises')",
)
async def list_designations(
    session: SessionDep,
    principal: KeyHolderDep,
    after_id: AfterIntegerId,
    year: Annotated[Year | None, Query(description="Designations made in that year")] = None,
    district_code: Annotated[DistrictCode | None, Query(description="The enterprise's district (now)")] = None,
    sector: Annotated[SectorCode | None, Query(description="The enterprise's sector (now)")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> DesignationPage:
    return await service.list_page(
        session, principal, year=year, district_code=district_code, sector=sector, after_id=after_id, limit=limit
    )


@router.get("/{designation_id}", response_model=DesignationOut, summary="One 市级领军企业 designation")
async def read_designation(
    designation_id: DesignationId, session: SessionDep, principal: KeyHolderDep
) -> DesignationOut:
    return await service.read(session, principal, designation_id)


@router.post(
    "/{designation_id}/revocation",
    response_model=DesignationOut,
    summary="Revoke a designation, with the reason (city; 409 if it was revoked already)",
)
async def revoke_designation(
    designation_id: DesignationId, body: Revocation, session: SessionDep, principal: CityPrincipal
) -> DesignationOut:
    return await service.revoke(session, principal, designation_id, body.reason)
