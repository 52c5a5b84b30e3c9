from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from services.registry.registrations import service
from services.registry.registrations.schemas import (
    Confirmation,
    Refusal,
    RegistrationOut,
    RegistrationPage,
    RegistrationStatus,
)
from shared.auth import Principal, Role, require_roles
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, AfterIntegerId, LimitQuery

router = APIRouter(prefix="/enterprise-registrations", tags=["enterprises"])
RegistrationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CityPrincipal = Annotated[Principal, require_roles(Role.CITY)]


@router.get(
    "",
    response_model=RegistrationPage,
    summary="Registrations held for the city's confirmation (their code names another district's division)",
    dependencies=[require_roles(Role.CITY, Role.AUDITOR)],
)
async def list_registrations(
    session: SessionDep,
    after_id: AfterIntegerId,
    status: RegistrationStatus | None = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> RegistrationPage:
    return await service.list_page(session, status=status, after_id=after_id, limit=limit)


@router.post(
    "/{registration_id}/confirm",
    response_model=RegistrationOut,
    status_code=status.HTTP_201_CREATED,
    summary="Confirm a held registration: the enterprise is created (city; 409 if the code exists by now)",
    description="Answers the confirmed registration; `Location` names the enterprise created.",
)
async def confirm_registration(
    registration_id: RegistrationId,
    body: Confirmation,
    session: SessionDep,
    response: Response,
    principal: CityPrincipal,
) -> RegistrationOut:
    registration, enterprise = await service.confirm(session, principal, registration_id, body.reason)
    response.headers["Location"] = f"/enterprises/{enterprise.uscc}"
    return registration


@router.post(
    "/{registration_id}/refuse",
    response_model=RegistrationOut,
    summary="Refuse a held registration, with the reason (city)",
)
async def refuse_registration(
    registration_id: RegistrationId,
    body: Refusal,
    session: SessionDep,
    principal: CityPrincipal,
) -> RegistrationOut:
    return await service.refuse(session, principal, registration_id, body.reason)
