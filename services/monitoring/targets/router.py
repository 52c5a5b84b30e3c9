from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.monitoring.targets import service
from services.monitoring.targets.schemas import IndicatorList, IndicatorOut, PlanOut, TargetList, TargetOut
from services.monitoring.vocabulary import SectorScope
from shared.openapi import problems

router = APIRouter(tags=["targets"])

SectorQuery = Annotated[
    SectorScope | None, Query(description="One of the 18 sector codes, or `whole` for the plan as a whole")
]
SECTOR_PROBLEMS = problems({422: "`sector` is neither one of the 18 sectors nor `whole`."})


@router.get(
    "/plan",
    response_model=PlanOut,
    operation_id="getPlan",
    summary="The plan and its assessment parameters",
    description="The plan's document, its period and baseline year, and the parameters of the assessment (ratios, "
    "tolerance, small-cell minimum, cluster threshold) with their bounds and citations.",
)
async def read_plan() -> PlanOut:
    return service.plan()


@router.get(
    "/targets",
    response_model=TargetList,
    operation_id="listTargets",
    summary="Every quantified 2027 target of the plan",
    description="Every quantified target of 渝府发〔2024〕18号 with its indicator, measure, comparator, value, "
    "baseline and the sentence of the text, optionally of one sector (or `whole`).",
    responses=SECTOR_PROBLEMS,
)
async def list_targets(sector: SectorQuery = None) -> TargetList:
    return service.targets(sector)


@router.get(
    "/targets/{target_id}",
    response_model=TargetOut,
    operation_id="getTarget",
    summary="One target",
    description="One target of the plan with its clause and sentence.",
    responses=problems({404: "The plan has no target with this id (`GET /targets` lists them)."}),
)
async def read_target(target_id: Annotated[str, Path(max_length=8, examples=["T01"])]) -> TargetOut:
    return service.target(target_id)


@router.get(
    "/indicators",
    response_model=IndicatorList,
    operation_id="listIndicators",
    summary="Every indicator the targets are set on",
    description="What is observed or computed for the targets: unit, the registry figure it is computed from (null: "
    "recorded by the city), lead departments and its targets; optionally of one sector (or `whole`).",
    responses=SECTOR_PROBLEMS,
)
async def list_indicators(sector: SectorQuery = None) -> IndicatorList:
    return service.indicators(sector)


@router.get(
    "/indicators/{indicator_id}",
    response_model=IndicatorOut,
    operation_id="getIndicator",
    summary="One indicator",
    description="One indicator of the plan's targets.",
    responses=problems({404: "The plan has no indicator with this id (`GET /indicators` lists them)."}),
)
async def read_indicator(
    indicator_id: Annotated[str, Path(max_length=80, examples=["software_it.main_business_revenue"])],
) -> IndicatorOut:
    return service.indicator(indicator_id)
