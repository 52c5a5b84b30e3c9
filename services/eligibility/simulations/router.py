import asyncio
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import Response

from services.eligibility.dependencies import ParametersDep, ReachWorkDep, RegistryDep
from services.eligibility.screenings.router import rendered
from services.eligibility.simulations import service
from services.eligibility.simulations.schemas import SimulationIn, SimulationOut
from shared.auth import Principal, Role, require_roles
from shared.http import upstream_unavailable
from shared.openapi import problems

router = APIRouter(tags=["simulations"])


@router.post(
    "/simulations",
    response_model=SimulationOut,
    operation_id="createSimulation",
    summary="Simulate a change of parameters over the registry",
    description="What-if: the totals of every computable measure over the registry's subjects of `year`, under the "
    "parameters in force on `as_of` (baseline) and under `overrides` (reform), per measure and district, with "
    "each subject whose amount changes. Writes nothing. Each override must name a parameter and lie within the "
    "policy's bounds (a 422 names the one refused). A district key simulates its own district only.",
    responses=problems(
        {
            403: "A district key named another district in `district_code`: it simulates its own district only.",
            422: "The body is invalid, or an override is refused (not a parameter, outside the policy's bounds, "
            "breaking a rule between parameters): `errors` names it at `overrides.<parameter>`.",
            503: upstream_unavailable("registry"),
        }
    ),
)
async def simulate(
    registry: RegistryDep,
    parameters: ParametersDep,
    body: SimulationIn,
    principal: Annotated[Principal, require_roles(Role.CITY, Role.AUDITOR, Role.DISTRICT)],
    _: ReachWorkDep,
) -> Response:
    answer = await service.simulate(registry, parameters, principal, body)
    return await asyncio.to_thread(rendered, answer)
