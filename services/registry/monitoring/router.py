from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.registry.dependencies import MonitoringWorkDep
from services.registry.monitoring import service
from services.registry.monitoring.schemas import MonitoringStats
from services.registry.problems import INVALID
from shared.auth import KeyHolderDep
from shared.db import SessionDep
from shared.openapi import problems
from shared.reference import MAX_YEAR, MIN_YEAR

router = APIRouter(tags=["monitoring statistics"])


@router.get(
    "/monitoring-stats/{year}",
    response_model=MonitoringStats,
    operation_id="getMonitoringStats",
    summary="What the registry measures for the plan's monitoring (渝府发〔2024〕18号)",
    description="Per district and sector the verified above-size enterprises of the year, their revenue and "
    "employees, how many are new since the baseline year, and the year before; the clusters' verified revenue "
    "(百亿级集聚区); the 市级领军企业 standing at the end of the year. Verified figures only. A whole-city "
    "aggregate: a district key is refused (403). 422 when `baseline_year` is not before the year, or a year is "
    "out of range.",
    responses=problems(
        {
            403: "The statistics are the whole city's: a district key may not read them.",
            422: INVALID,
        }
    ),
)
async def read_monitoring_stats(
    year: Annotated[int, Path(ge=MIN_YEAR + 1, le=MAX_YEAR)],
    session: SessionDep,
    principal: KeyHolderDep,
    _: MonitoringWorkDep,
    baseline_year: Annotated[
        int, Query(ge=MIN_YEAR, le=MAX_YEAR, description="The year `new_above_scale_since_baseline` counts from")
    ] = service.PLAN_BASELINE_YEAR,
) -> MonitoringStats:
    return await service.monitoring_stats(session, principal, year, baseline_year)
