from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.ranking.dependencies import SensitivityWorkDep, SettingsDep
from services.ranking.sensitivity import service
from services.ranking.sensitivity.schemas import SensitivityOut
from shared.auth import Principal, Role, require_roles
from shared.db import SessionDep

router = APIRouter(prefix="/runs", tags=["sensitivity"])


@router.get(
    "/{run_id}/sensitivity",
    response_model=SensitivityOut,
    summary="How stable each rank is under perturbed weights and the alternative normalisations (city, auditor)",
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
