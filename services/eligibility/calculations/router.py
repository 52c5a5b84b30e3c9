import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response

from services.eligibility.calculations import service
from services.eligibility.calculations.schemas import BatchOut, CalculationOut, CalculationRequest
from services.eligibility.dependencies import BatchItemsDep, BatchWorkDep, ParametersDep, SettingsDep
from services.eligibility.rules.engine import facts_table
from shared.errors import SafeJSONResponse
from shared.openapi import problems

router = APIRouter(tags=["calculate"])

CALCULATE, CALCULATE_BATCH = "/calculate", "/calculate/batch"
# POSTs only to carry a body: they compute an answer and write nothing, so a replay is harmless (as a read's).
COMPUTATIONS = (CALCULATE, CALCULATE_BATCH)

_INVALID_REQUEST = (
    "The request is invalid: `errors` names each field — `measure_id` when it is not a computable measure "
    "(a measure without a formula is matched, not calculated), `facts.<name>` for a fact missing, ill-typed or not "
    "one the measure reads."
)


@router.post(
    CALCULATE,
    response_model=CalculationOut,
    operation_id="calculateMeasure",
    summary="Calculate one measure",
    description="One computable measure for one set of facts on one date: whether the facts are eligible, the "
    "amount, the reasons when not, the trace of every step with its citation, and the parameters read. The facts "
    "are those the measure's rule reads (the request is told apart by `measure_id`; `GET /measures` lists each "
    "measure's facts). A date outside the policy's validity, or a year it does not reward, is an answer (`eligible: "
    "false` with the reason), not an error. Needs no other service.\n\nThe facts each measure reads:\n\n"
    + facts_table(),
    responses=problems({422: _INVALID_REQUEST}),
)
async def calculate(parameters: ParametersDep, body: Annotated[CalculationRequest, Body()]) -> dict[str, Any]:
    return service.calculate(parameters, body)


@router.post(
    CALCULATE_BATCH,
    response_model=BatchOut,
    operation_id="calculateBatch",
    summary="Calculate many measures at once",
    description="Up to 10,000 calculation requests, each as `POST /calculate` takes it, answered in order. Nothing "
    "is calculated unless every item is valid: a 422 names each bad item by its index (`body`, index, field).",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A JSON array of calculation requests",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "maxItems": 10_000,
                        "items": {"$ref": "#/components/schemas/CalculationRequest"},
                    }
                }
            },
        }
    },
    responses=problems(
        {
            415: "The body is not `application/json`.",
            422: "An item is invalid, or the batch holds more than 10,000 items: `errors` names each (`body`, the "
            "item's index, its field); nothing was calculated.",
        }
    ),
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
