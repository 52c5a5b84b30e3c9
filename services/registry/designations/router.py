from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from services.registry.designations import service
from services.registry.designations.schemas import (
    DesignationConflictProblem,
    DesignationCreate,
    DesignationOut,
    DesignationPage,
    DesignationRevocationIn,
)
from services.registry.problems import (
    INVALID,
    INVALID_PATH,
    INVALID_QUERY,
    OTHER_DISTRICT,
    OTHER_DISTRICTS_RECORDS,
)
from shared.auth import KeyHolderDep, Principal, Role, require_roles
from shared.clock import ClockDep
from shared.db import SessionDep
from shared.identifiers import DistrictCode, SectorCode, Year
from shared.openapi import HEADERS, problems
from shared.pagination import DEFAULT_LIMIT, AfterIntegerId, LimitQuery

router = APIRouter(prefix="/leading-enterprises", tags=["leading enterprises"])
DesignationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CityPrincipal = Annotated[Principal, require_roles(Role.CITY)]
NO_DESIGNATION = "No leading-enterprise designation with this id."


@router.post(
    "",
    response_model=DesignationOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="createDesignation",
    summary="Designate a 市级领军企业",
    description="The city designates an enterprise of the registry as a city-level leading enterprise in a year, "
    "under the notice that makes it. `Location` names the designation created. 409 when the enterprise has a live "
    "designation (the problem names it: revoke it first); 422 for an invalid body, a year still to come, or a "
    "credit code the registry does not hold.",
    responses={
        201: {"headers": {"Location": HEADERS["Location"]}},
        **problems(
            {
                409: ("The enterprise already has a live designation.", DesignationConflictProblem),
                422: INVALID,
            }
        ),
    },
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
    operation_id="listDesignations",
    summary="市级领军企业 designations, in id order",
    description="The designations, live and revoked, a page at a time; filter by the year made and by the "
    "enterprise's district and sector (as they are now). A district key sees its own enterprises' designations "
    "only. 422 for an invalid filter or cursor.",
    responses=problems({403: OTHER_DISTRICTS_RECORDS, 422: INVALID_QUERY}),
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


@router.get(
    "/{designation_id}",
    response_model=DesignationOut,
    operation_id="getDesignation",
    summary="One 市级领军企业 designation",
    description="The designation, with the enterprise's district and sector as they are now and its revocation, if "
    "any.",
    responses=problems({403: OTHER_DISTRICT, 404: NO_DESIGNATION, 422: INVALID_PATH}),
)
async def read_designation(
    designation_id: DesignationId, session: SessionDep, principal: KeyHolderDep
) -> DesignationOut:
    return await service.read(session, principal, designation_id)


@router.post(
    "/{designation_id}/revocation",
    response_model=DesignationOut,
    operation_id="revokeDesignation",
    summary="Revoke a 市级领军企业 designation, with the reason",
    description="The city revokes a live designation; the enterprise may then be designated again. 409 when it was "
    "revoked already; 422 without a reason.",
    responses=problems({404: NO_DESIGNATION, 409: "The designation was revoked already.", 422: INVALID}),
)
async def revoke_designation(
    designation_id: DesignationId, body: DesignationRevocationIn, session: SessionDep, principal: CityPrincipal
) -> DesignationOut:
    return await service.revoke(session, principal, designation_id, body.reason)
