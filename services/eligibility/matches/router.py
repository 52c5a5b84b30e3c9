from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.eligibility.dependencies import ParametersDep, RegistryDep
from services.eligibility.matches import service
from services.eligibility.matches.schemas import MatchesOut
from shared.auth import KeyHolderDep
from shared.clock import ClockDep
from shared.db import SessionDep
from shared.http import upstream_unavailable
from shared.identifiers import Uscc
from shared.openapi import problems
from shared.reference import MAX_YEAR, MIN_YEAR

router = APIRouter(tags=["matches"])


@router.get(
    "/enterprises/{uscc}/matches",
    response_model=MatchesOut,
    operation_id="listEnterpriseMatches",
    summary="Match an enterprise to the measures that apply",
    description="第三十二条 of 渝府发〔2024〕18号: what one enterprise qualifies for on its verified facts of `year`, "
    "with the amounts, what the award ledger already holds for it (就高不重复) and what is still open, and the "
    "measures without a formula whose conditions the registry shows are met or may be. A district key reads its "
    "own district's enterprises only (403).",
    responses=problems(
        {
            403: "The enterprise is of another district: a district key matches its own district's enterprises only.",
            404: "The registry holds no enterprise with that credit code.",
            422: "The credit code fails the GB 32100 check, or `as_of`/`year` is invalid; `errors` names it.",
            503: upstream_unavailable("registry"),
        }
    ),
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
