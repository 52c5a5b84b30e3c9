from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.monitoring.targets import service
from services.monitoring.targets.schemas import IndicatorList, IndicatorOut, PlanOut, TargetList, TargetOut

router = APIRouter(tags=["targets"])

SectorQuery = Annotated[
    str | None, Query(max_length=40, description="One of the 18 sector codes, or `whole` for the plan as a whole")
]


@router.get("/plan", response_model=PlanOut, summary="The plan's period, baseline year and assessment parameters")
async def read_plan() -> PlanOut:
    return service.plan()


@router.get("/targets", response_model=TargetList, summary="Every quantified 2027 target of the plan, cited")
async def list_targets(sector: SectorQuery = None) -> TargetList:
    return service.targets(sector)


@router.get("/targets/{target_id}", response_model=TargetOut, summary="One target with its clause and sentence")
async def read_target(target_id: Annotated[str, Path(max_length=8)]) -> TargetOut:
    return service.target(target_id)


@router.get("/indicators", response_model=IndicatorList, summary="What is observed or computed for the targets")
async def list_indicators(sector: SectorQuery = None) -> IndicatorList:
    return service.indicators(sector)


@router.get("/indicators/{indicator_id}", response_model=IndicatorOut, summary="One indicator")
async def read_indicator(indicator_id: Annotated[str, Path(max_length=80)]) -> IndicatorOut:
    return service.indicator(indicator_id)
