from typing import Annotated

from fastapi import APIRouter, Path

from services.registry.stats import service
from services.registry.stats.schemas import DistrictStatsReport
from shared.auth import KeyHolderDep
from shared.db import SessionDep
from shared.reference import MAX_YEAR, MIN_YEAR

router = APIRouter(tags=["district statistics"])


@router.get(
    "/district-stats/{year}",
    response_model=DistrictStatsReport,
    summary="Above-size producer-service enterprises per district for a year, against the year before",
)
async def read_district_stats(
    year: Annotated[int, Path(ge=MIN_YEAR + 1, le=MAX_YEAR)], session: SessionDep, _: KeyHolderDep
) -> DistrictStatsReport:
    return await service.district_stats(session, year)
