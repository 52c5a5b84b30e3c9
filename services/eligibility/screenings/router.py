import asyncio
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from services.eligibility.dependencies import ParametersDep, ReachWorkDep, RegistryDep
from services.eligibility.screenings import service
from services.eligibility.screenings.schemas import ScreeningIn, ScreeningOut
from shared.auth import Principal, Role, require_roles
from shared.perf import gc_paused

router = APIRouter(tags=["screenings"])


def rendered(answer: BaseModel) -> Response:
    """The answer as JSON, written in a worker thread: thousands of subjects are megabytes to serialise."""
    with gc_paused():
        return Response(answer.model_dump_json(), media_type="application/json")


@router.post(
    "/screenings",
    response_model=ScreeningOut,
    summary="Screen the registry against every computable measure (免申即享): city and auditor all, a district its own",
)
async def screen(
    registry: RegistryDep,
    parameters: ParametersDep,
    body: ScreeningIn,
    principal: Annotated[Principal, require_roles(Role.CITY, Role.AUDITOR, Role.DISTRICT)],
    _: ReachWorkDep,
) -> Response:
    answer = await service.screen(registry, parameters, principal, body)
    return await asyncio.to_thread(rendered, answer)
