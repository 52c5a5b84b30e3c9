import asyncio
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from services.eligibility.dependencies import ParametersDep, ReachWorkDep, RegistryDep
from services.eligibility.screenings import service
from services.eligibility.screenings.schemas import ScreeningIn, ScreeningOut
from shared.auth import Principal, Role, require_roles
from shared.http import upstream_unavailable
from shared.openapi import problems
from shared.perf import gc_paused

router = APIRouter(tags=["screenings"])


def rendered(answer: BaseModel) -> Response:
    """The answer as JSON, written in a worker thread: thousands of subjects are megabytes to serialise."""
    with gc_paused():
        return Response(answer.model_dump_json(), media_type="application/json")


@router.post(
    "/screenings",
    response_model=ScreeningOut,
    operation_id="createScreening",
    summary="Screen the registry against every computable measure",
    description="免申即享: evaluates every subject of the registry (projects, clusters, star buildings, enterprises) "
    "of `year`, on its verified facts, against every computable measure on `as_of`, and answers the eligible "
    "subjects with their amounts and facts (replayable with `POST /calculate`), the reasons others are not "
    "eligible, and totals per measure and district. Writes nothing. A district key screens its own district only "
    "(another `district_code` is a 403).",
    responses=problems(
        {
            403: "A district key named another district in `district_code`: it screens its own district only.",
            422: "The body is invalid (a year outside 2000–2100, an unknown district); `errors` names it.",
            503: upstream_unavailable("registry"),
        }
    ),
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
