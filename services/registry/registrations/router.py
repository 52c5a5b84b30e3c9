from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from services.registry.problems import INVALID, INVALID_QUERY
from services.registry.registrations import service
from services.registry.registrations.schemas import (
    RegistrationConfirmation,
    RegistrationConflictProblem,
    RegistrationOut,
    RegistrationPage,
    RegistrationRefusal,
    RegistrationStatus,
)
from shared.auth import Principal, Role, require_roles
from shared.db import SessionDep
from shared.openapi import HEADERS, problems
from shared.pagination import DEFAULT_LIMIT, AfterIntegerId, LimitQuery

router = APIRouter(prefix="/enterprise-registrations", tags=["enterprises"])
RegistrationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CityPrincipal = Annotated[Principal, require_roles(Role.CITY)]
NO_REGISTRATION = "No enterprise registration with this id."


@router.get(
    "",
    response_model=RegistrationPage,
    operation_id="listEnterpriseRegistrations",
    summary="Registrations held for the city's confirmation",
    description="Registrations a district made of a credit code whose division segment names another district, "
    "in id order, a page at a time; filter by `status` (held, confirmed, refused). 422 for an invalid filter or "
    "cursor.",
    dependencies=[require_roles(Role.CITY, Role.AUDITOR)],
    responses=problems({422: INVALID_QUERY}),
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
    operation_id="confirmEnterpriseRegistration",
    summary="Confirm a held registration: the enterprise is created",
    description="The city confirms a held registration, with a note if it likes: the enterprise is created as the "
    "district sent it. Answers the confirmed registration; `Location` names the enterprise created. 409 when the "
    "registration was decided already (`/problems/registration-decided`, with `current_status`) or an enterprise "
    "holds the credit code by now (`/problems/enterprise-exists`, with `uscc`; refuse the registration instead).",
    responses={
        201: {"headers": {"Location": HEADERS["Location"]}},
        **problems(
            {
                404: NO_REGISTRATION,
                409: (
                    "`/problems/registration-decided`: the registration was decided already (`current_status`); "
                    "`/problems/enterprise-exists`: its credit code is registered by now (`uscc`); "
                    "`/problems/conflict`: a simultaneous write got there first (retry).",
                    RegistrationConflictProblem,
                ),
                422: INVALID,
            }
        ),
    },
)
async def confirm_registration(
    registration_id: RegistrationId,
    body: RegistrationConfirmation,
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
    operation_id="refuseEnterpriseRegistration",
    summary="Refuse a held registration, with the reason",
    description="The city refuses a held registration; nothing is created. 409 when the registration was decided "
    "already (`/problems/registration-decided`, with `current_status`); 422 without a reason.",
    responses=problems(
        {
            404: NO_REGISTRATION,
            409: (
                "`/problems/registration-decided`: the registration was decided already (`current_status`).",
                RegistrationConflictProblem,
            ),
            422: INVALID,
        }
    ),
)
async def refuse_registration(
    registration_id: RegistrationId,
    body: RegistrationRefusal,
    session: SessionDep,
    principal: CityPrincipal,
) -> RegistrationOut:
    return await service.refuse(session, principal, registration_id, body.reason)
