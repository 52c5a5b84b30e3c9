import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.eligibility.calculations import service
from services.eligibility.calculations.schemas import BatchOut, CalculationIn, CalculationOut
from services.eligibility.dependencies import BatchItemsDep, BatchWorkDep, ParametersDep, SettingsDep
from shared.errors import SafeJSONResponse

router = APIRouter(tags=["calculate"])

CALCULATE, CALCULATE_BATCH = "/calculate", "/calculate/batch"
# POSTs only to carry a body: they compute an answer and write nothing, so a replay is harmless (as a read's).
COMPUTATIONS = (CALCULATE, CALCULATE_BATCH)


@router.post(
    CALCULATE,
    response_model=CalculationOut,
    summary="One measure for one set of facts on one date: eligibility, amount, reasons and trace (public)",
)
async def calculate(parameters: ParametersDep, body: CalculationIn) -> dict[str, Any]:
    return service.calculate(parameters, body)


@router.post(
    CALCULATE_BATCH,
    response_model=BatchOut,
    summary="Up to 10,000 calculations, answered in order (public)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A JSON array of calculation requests",
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/CalculationIn"}}
                }
            },
        }
    },
)
async def calculate_batch(
    parameters: ParametersDep,
    settings: SettingsDep,
    _: BatchWorkDep,
    items: BatchItemsDep,
    trace: Annotated[bool, Query(description="Include each trace (false: empty traces, a smaller answer)")] = True,
) -> Response:
    answer = await asyncio.to_thread(
        service.calculate_batch, parameters, items, settings.batch_max_items, include_trace=trace
    )
    # Rendered as built (service.outcome_json, BatchOut's shape), in a worker thread: validating 10,000 answers
    # again against BatchOut took about six times as long as writing them.
    return await asyncio.to_thread(SafeJSONResponse, answer)
