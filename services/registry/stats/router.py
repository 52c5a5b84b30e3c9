from typing import Annotated

from fastapi import APIRouter, Path

from services.registry.problems import INVALID_PATH
from services.registry.stats import service
from services.registry.stats.schemas import DistrictStatsReport
from shared.auth import KeyHolderDep
from shared.db import SessionDep
from shared.openapi import problems
from shared.reference import MAX_YEAR, MIN_YEAR

router = APIRouter(tags=["district statistics"])


@router.get(
    "/district-stats/{year}",
    response_model=DistrictStatsReport,
    operation_id="getDistrictStats",
    summary="Above-size producer-service enterprises per district for a year, against the year before",
    description="For each of the 38 districts: the enterprises above designated size in the year and the year "
    "before, how many are new, moved in or out, exited or unreported, the net increase, their revenue and the "
    "comparable revenue growth (enterprises above size in both years), from verified enterprise-years only, each "
    "counted in the district its yearly record names (第（六）条; the ranking reads these). 422 for a year out of "
    f"range ({MIN_YEAR + 1}–{MAX_YEAR}).",
    responses=problems({422: INVALID_PATH}),
)
async def read_district_stats(
    year: Annotated[int, Path(ge=MIN_YEAR + 1, le=MAX_YEAR)], session: SessionDep, _: KeyHolderDep
) -> DistrictStatsReport:
    return await service.district_stats(session, year)
