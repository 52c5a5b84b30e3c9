from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from services.eligibility.dependencies import ParametersDep, StoreDep
from services.eligibility.parameters import service
from services.eligibility.parameters.schemas import AmendmentIn, ParameterOut, ParametersOut
from shared.auth import Principal, Role, require_roles
from shared.clock import ClockDep
from shared.db import SessionDep

router = APIRouter(tags=["parameters"])

NamePath = Annotated[str, Path(max_length=64, description="e.g. `m06.award_by_rank_yuan`")]
AsOfQuery = Annotated[date | None, Query(description="The date the values are in force on (default: today)")]


@router.get(
    "/parameters",
    response_model=ParametersOut,
    summary="Every parameter: value in force, unit, citation, policy bounds and history (public)",
)
async def list_parameters(
    parameters: ParametersDep,
    clock: ClockDep,
    as_of: AsOfQuery = None,
    measure_id: Annotated[str | None, Query(max_length=8)] = None,
) -> ParametersOut:
    return service.list_parameters(parameters, as_of or clock.today(), measure_id)


@router.get(
    "/parameters/{name}",
    response_model=ParameterOut,
    summary="One parameter, e.g. the M06 award per rank the ranking service pays (public)",
)
async def get_parameter(
    parameters: ParametersDep, clock: ClockDep, name: NamePath, as_of: AsOfQuery = None
) -> ParameterOut:
    return service.parameter_out(service.get_definition(parameters, name), as_of or clock.today())


@router.post(
    "/parameters/{name}/values",
    response_model=ParameterOut,
    status_code=status.HTTP_201_CREATED,
    summary="Record a new dated value (city); a value outside the policy's bounds is refused",
)
async def amend_parameter(
    session: SessionDep,
    store: StoreDep,
    name: NamePath,
    body: AmendmentIn,
    principal: Annotated[Principal, require_roles(Role.CITY)],
) -> ParameterOut:
    return await service.amend(session, store, principal, name, body)
