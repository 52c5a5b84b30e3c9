from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.registry.dependencies import MonitoringWorkDep
from services.registry.monitoring import service
from services.registry.monitoring.schemas import MonitoringStats
from shared.auth import KeyHolderDep
from shared.db import SessionDep
from shared.reference import MAX_YEAR, MIN_YEAR

router = APIRouter(tags=["monitoring statistics"])


@router.get(
    "/monitoring-stats/{year}",
    response_model=MonitoringStats,
    summary="What the registry measures for the plan's monitoring (渝府发〔2024〕18号): cells, clusters, 领军企业",
    description="City, auditor and the system's services only. Verified figures only; 422 when baseline_year is not "
    "before year.",
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
