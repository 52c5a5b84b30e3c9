from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.ranking.dependencies import SensitivityWorkDep, SettingsDep
from services.ranking.sensitivity import service
from services.ranking.sensitivity.schemas import SensitivityOut
from shared.auth import Principal, Role, require_roles
from shared.db import SessionDep
from shared.openapi import problems

router = APIRouter(prefix="/runs", tags=["sensitivity"])


@router.get(
    "/{run_id}/sensitivity",
    response_model=SensitivityOut,
    operation_id="getRunSensitivity",
    summary="How stable each rank of a run is",
    description="Monte Carlo over the run's indicators: each draw perturbs the weights (Dirichlet around the "
    "nominal ones) and picks one of the three normalisations; per district the nominal rank, the median and the "
    "5th/95th percentile rank, `p_top5`, `p_top10`, the share of draws keeping its award tier, and whether it is "
    "fragile. The same seed gives the same answer. Heavy work: a caller already running some is answered 429.",
    responses=problems(
        {
            403: "Only city and auditor keys read runs.",
            404: "No run has this id.",
            422: "`draws` lies outside 1 … the most one request may ask for, or a parameter is not a number.",
        }
    ),
)
async def read_sensitivity(
    run_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    session: SessionDep,
    settings: SettingsDep,
    _: Annotated[Principal, require_roles(Role.CITY, Role.AUDITOR)],
    __: SensitivityWorkDep,
    draws: Annotated[int, Query(description="Monte Carlo draws (1 … 100,000 by default)")] = 1000,
    seed: Annotated[int, Query(ge=0, le=2**63 - 1, description="The same seed gives the same answer")] = 0,
) -> SensitivityOut:
    return await service.sensitivity(session, settings, run_id, draws=draws, seed=seed)
