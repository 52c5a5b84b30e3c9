from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.eligibility.dependencies import ParametersDep
from services.eligibility.measures import service
from services.eligibility.measures.schemas import MeasureOut, MeasuresOut
from shared.clock import ClockDep
from shared.openapi import problems

router = APIRouter(tags=["measures"])

AsOfQuery = Annotated[date | None, Query(description="The date parameter values are shown for (default: today)")]
_BAD_QUERY = "A query parameter is invalid (`as_of` not a date); `errors` names it."


@router.get(
    "/measures",
    response_model=MeasuresOut,
    operation_id="listMeasures",
    summary="List the measures of 渝发改规范〔2024〕7号",
    description="The catalogue: all 16 measures (（七） in three parts), each with its clause, titles, recipient, "
    "lead department, validity, whether it has a formula (`computable`), the facts `POST /calculate` takes for it "
    "and the parameter values in force on `as_of`.",
    responses=problems({422: _BAD_QUERY}),
)
async def list_measures(parameters: ParametersDep, clock: ClockDep, as_of: AsOfQuery = None) -> MeasuresOut:
    return service.list_measures(parameters, as_of or clock.today())


@router.get(
    "/measures/{measure_id}",
    response_model=MeasureOut,
    operation_id="getMeasure",
    summary="Get one measure",
    description="One measure of the catalogue, with its facts and the parameter values in force on `as_of`; 404 if "
    "there is no such measure.",
    responses=problems({404: "There is no measure of that id.", 422: _BAD_QUERY}),
)
async def get_measure(
    parameters: ParametersDep,
    clock: ClockDep,
    measure_id: Annotated[str, Path(max_length=8, description="e.g. `M01`, `M07a`")],
    as_of: AsOfQuery = None,
) -> MeasureOut:
    return service.get_measure(parameters, measure_id, as_of or clock.today())
