from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.eligibility.dependencies import ParametersDep
from services.eligibility.measures import service
from services.eligibility.measures.schemas import MeasureOut, MeasuresOut
from shared.clock import ClockDep

router = APIRouter(tags=["measures"])

AsOfQuery = Annotated[date | None, Query(description="The date parameter values are shown for (default: today)")]


@router.get("/measures", response_model=MeasuresOut, summary="The 16 measures of 渝发改规范〔2024〕7号 (public)")
async def list_measures(parameters: ParametersDep, clock: ClockDep, as_of: AsOfQuery = None) -> MeasuresOut:
    return service.list_measures(parameters, as_of or clock.today())


@router.get("/measures/{measure_id}", response_model=MeasureOut, summary="One measure (public)")
async def get_measure(
    parameters: ParametersDep, clock: ClockDep, measure_id: Annotated[str, Path(max_length=8)], as_of: AsOfQuery = None
) -> MeasureOut:
    return service.get_measure(parameters, measure_id, as_of or clock.today())
