from typing import Annotated

from fastapi import APIRouter

from services.eligibility.dependencies import ParametersDep, RegistryDep
from services.eligibility.screenings import service
from services.eligibility.screenings.schemas import ScreeningIn, ScreeningOut
from shared.auth import Principal, Role, require_roles

router = APIRouter(tags=["screenings"])


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
) -> ScreeningOut:
    return await service.screen(registry, parameters, principal, body)
