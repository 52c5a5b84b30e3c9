import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError

from services.eligibility.calculations import service
from services.eligibility.calculations.schemas import BatchOut, CalculationIn, CalculationOut
from services.eligibility.dependencies import BatchWorkDep, ParametersDep
from shared.errors import BadRequest, InvalidInput, UnsupportedMediaType, field_error
from shared.perf import gc_paused

router = APIRouter(tags=["calculate"])

CALCULATE, CALCULATE_BATCH = "/calculate", "/calculate/batch"
# POSTs only to carry a body: they compute an answer and write nothing, so a replay is harmless (as a read's).
COMPUTATIONS = (CALCULATE, CALCULATE_BATCH)

_BATCH = TypeAdapter(list[CalculationIn])


def _json(body: str) -> Response:
    # Built by hand (see service.outcome_json): the batch's 10,000 answers skip a second validation.
    return Response(body, media_type="application/json")


@router.post(
    CALCULATE,
    response_model=CalculationOut,
    summary="One measure for one set of facts on one date: eligibility, amount, reasons and trace (public)",
)
async def calculate(parameters: ParametersDep, body: CalculationIn) -> Response:
    return _json(service.calculate(parameters, body))


async def _batch_items(request: Request) -> list[CalculationIn]:
    """The body, parsed here rather than by FastAPI so that 10,000 items are read with the collector paused."""
    content_type = request.headers.get("content-type")
    media_type = content_type.split(";")[0].strip().lower() if content_type else "application/json"
    kind, _, subtype = media_type.partition("/")
    if kind != "application" or not (subtype == "json" or subtype.endswith("+json")):
        # As FastAPI reads the other JSON bodies: a form or text/plain (a browser's cross-site default) is refused.
        raise UnsupportedMediaType(f"Send the batch as application/json, not {media_type}.")
    # Parsing and validating 10,000 items is CPU: in a worker thread, so the event loop keeps serving the others.
    return await asyncio.to_thread(_parse_batch, await request.body())


def _parse_batch(raw: bytes) -> list[CalculationIn]:
    try:
        data: Any = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
        raise BadRequest(
            "The request body is not valid JSON.", errors=[field_error(["body"], "invalid JSON")]
        ) from None
    try:
        with gc_paused():
            return _BATCH.validate_python(data)
    except ValidationError as exc:
        errors = [field_error(["body", *err["loc"]], err["msg"]) for err in exc.errors(include_url=False)[:1000]]
        raise InvalidInput("The batch is invalid: see `errors`; nothing was calculated.", errors=errors) from None


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
    request: Request,
    parameters: ParametersDep,
    _: BatchWorkDep,
    trace: Annotated[bool, Query(description="Include each trace (false: empty traces, a smaller answer)")] = True,
) -> Response:
    items = await _batch_items(request)
    settings = request.app.state.settings
    answer = await asyncio.to_thread(
        service.calculate_batch, parameters, items, settings.batch_max_items, include_trace=trace
    )
    return _json(answer)
