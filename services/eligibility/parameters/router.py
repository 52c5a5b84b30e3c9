from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from services.eligibility.dependencies import ParametersDep, StoreDep
from services.eligibility.parameters import service
from services.eligibility.parameters.schemas import ParameterAmendmentIn, PolicyParameterList, PolicyParameterOut
from shared.auth import Principal, Role, require_roles
from shared.clock import ClockDep
from shared.db import SessionDep
from shared.openapi import problems

router = APIRouter(tags=["parameters"])

NamePath = Annotated[str, Path(max_length=64, description="e.g. `m06.award_by_rank_yuan`")]
AsOfQuery = Annotated[date | None, Query(description="The date the values are in force on (default: today)")]
_BAD_QUERY = "A query parameter is invalid (`as_of` not a date); `errors` names it."


@router.get(
    "/parameters",
    response_model=PolicyParameterList,
    operation_id="listParameters",
    summary="List the parameters of the rules",
    description="Every parameter the rules read, with its value in force on `as_of`, unit, citation, the policy's "
    "bounds and its dated history; `measure_id` narrows to one measure's (`policy` for the policy's own, such as "
    "the years it rewards).",
    responses=problems({422: _BAD_QUERY}),
)
async def list_parameters(
    parameters: ParametersDep,
    clock: ClockDep,
    as_of: AsOfQuery = None,
    measure_id: Annotated[str | None, Query(max_length=8, description="e.g. `M01`, or `policy`")] = None,
) -> PolicyParameterList:
    return service.list_parameters(parameters, as_of or clock.today(), measure_id)


@router.get(
    "/parameters/{name}",
    response_model=PolicyParameterOut,
    operation_id="getParameter",
    summary="Get one parameter",
    description="One parameter with its value in force on `as_of` and its history, e.g. `m06.award_by_rank_yuan`, "
    "the M06 award per rank the ranking service pays; 404 if there is no such parameter.",
    responses=problems({404: "There is no parameter of that name.", 422: _BAD_QUERY}),
)
async def get_parameter(
    parameters: ParametersDep, clock: ClockDep, name: NamePath, as_of: AsOfQuery = None
) -> PolicyParameterOut:
    return service.parameter_out(service.get_definition(parameters, name), as_of or clock.today())


@router.post(
    "/parameters/{name}/values",
    response_model=PolicyParameterOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="amendParameter",
    summary="Record a new dated value of a parameter",
    description="Records a value in force from `effective_from` (while the policy is in force), with the reason; "
    "it applies to every calculation on or after that day. A value outside the policy's bounds, or one that breaks "
    "a rule between parameters (tier 1 growth above tier 2's), is a 422; a value already recorded from the same "
    "day is a 409.",
    responses=problems(
        {
            404: "There is no parameter of that name.",
            409: "The parameter already has a value in force from that day.",
            422: "The value or the date is refused: `errors` says why (outside the bounds, outside the policy's "
            "validity, not a value of the parameter's kind).",
        }
    ),
)
async def amend_parameter(
    session: SessionDep,
    store: StoreDep,
    name: NamePath,
    body: ParameterAmendmentIn,
    principal: Annotated[Principal, require_roles(Role.CITY)],
) -> PolicyParameterOut:
    return await service.amend(session, store, principal, name, body)
