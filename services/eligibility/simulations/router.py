import asyncio
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import Response

from services.eligibility.dependencies import ParametersDep, ReachWorkDep, RegistryDep
from services.eligibility.screenings.router import rendered
from services.eligibility.simulations import service
from services.eligibility.simulations.schemas import SimulationIn, SimulationOut
from shared.auth import Principal, Role, require_roles

router = APIRouter(tags=["simulations"])


@router.post(
    "/simulations",
    response_model=SimulationOut,
    summary="What-if: totals under the parameters in force and under overrides within the policy's bounds",
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
