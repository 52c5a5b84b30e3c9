from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.eligibility.dependencies import ParametersDep, RegistryDep
from services.eligibility.matches import service
from services.eligibility.matches.schemas import MatchesOut
from shared.auth import KeyHolderDep
from shared.clock import ClockDep
from shared.db import SessionDep
from shared.identifiers import Uscc
from shared.reference import MAX_YEAR, MIN_YEAR

router = APIRouter(tags=["matches"])


@router.get(
    "/enterprises/{uscc}/matches",
    response_model=MatchesOut,
    summary="What one enterprise qualifies for, with amounts, and the measures without a formula that apply",
)
async def matches(
    session: SessionDep,
    clock: ClockDep,
    registry: RegistryDep,
    parameters: ParametersDep,
    principal: KeyHolderDep,
    uscc: Annotated[Uscc, Path(description="Unified social credit code")],
    as_of: Annotated[date | None, Query(description="Default: today")] = None,
    year: Annotated[
        int | None, Query(ge=MIN_YEAR, le=MAX_YEAR, description="Year of the figures (default: the year before as_of)")
    ] = None,
) -> MatchesOut:
    return await service.match(session, registry, parameters, principal, uscc, as_of or clock.today(), year)
