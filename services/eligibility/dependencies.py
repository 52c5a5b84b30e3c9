"""The eligibility service's dependencies: its settings, the parameters in force, the clients of the registry and
the ranking service, and the admission of heavy work.

The clients and the parameter store are made once, in the app's lifespan (services.eligibility.main), and reached
only through these functions: a test replaces one with `app.dependency_overrides[get_registry] = …`. The session
(shared.db.SessionDep), the principal (shared.auth) and the clock (shared.clock.ClockDep) are every service's and
are defined once there.
"""

import asyncio
import json
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import TypeAdapter, ValidationError

from services.eligibility.awards.ranking import RankingClient
from services.eligibility.calculations.schemas import CalculationRequest
from services.eligibility.parameters.definitions import ParameterSet
from services.eligibility.parameters.store import ParameterStore
from services.eligibility.registry_client.client import RegistryClient
from services.eligibility.settings import EligibilitySettings
from shared.admission import by_body_size, by_reach, heavy_work
from shared.errors import BadRequest, InvalidInput, UnsupportedMediaType, field_error
from shared.perf import gc_paused


async def get_settings(request: Request) -> EligibilitySettings:
    settings: EligibilitySettings = request.app.state.settings
    return settings


SettingsDep = Annotated[EligibilitySettings, Depends(get_settings)]


async def get_store(request: Request) -> ParameterStore:
    store: ParameterStore = request.app.state.parameter_store
    return store


StoreDep = Annotated[ParameterStore, Depends(get_store)]


async def get_parameters(store: StoreDep) -> ParameterSet:
    return await store.get()


ParametersDep = Annotated[ParameterSet, Depends(get_parameters)]


async def get_registry(request: Request) -> RegistryClient:
    registry: RegistryClient = request.app.state.registry
    return registry


RegistryDep = Annotated[RegistryClient, Depends(get_registry)]


async def get_ranking(request: Request) -> RankingClient:
    ranking: RankingClient = request.app.state.ranking
    return ranking


RankingDep = Annotated[RankingClient, Depends(get_ranking)]

# Heavy work, admitted by cost (shared/admission.py). A batch by its size: 10,000 items are about 1 MB, a full-size
# request. Screenings, simulations and exports by the caller's reach: a district's part of the registry or ledger is
# small, the city's and the auditor's whole of it is full size.
BatchWorkDep = Annotated[None, heavy_work(by_body_size(1_000_000))]
ReachWorkDep = Annotated[None, heavy_work(by_reach)]

_BATCH = TypeAdapter(list[CalculationRequest])


def _parse_batch(raw: bytes) -> list[CalculationRequest]:
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


async def read_batch(request: Request) -> list[CalculationRequest]:
    """A batch of calculations, parsed by pydantic as a FastAPI body would be, but only once the batch has been
    admitted (BatchWorkDep comes first: a refused batch is not read) and in a worker thread with the collector
    paused: 10,000 items are CPU that would otherwise hold the event loop."""
    content_type = request.headers.get("content-type")
    media_type = content_type.split(";")[0].strip().lower() if content_type else "application/json"
    kind, _, subtype = media_type.partition("/")
    if kind != "application" or not (subtype == "json" or subtype.endswith("+json")):
        # As FastAPI reads the other JSON bodies: a form or text/plain (a browser's cross-site default) is refused.
        raise UnsupportedMediaType(f"Send the batch as application/json, not {media_type}.")
    return await asyncio.to_thread(_parse_batch, await request.body())


BatchItemsDep = Annotated[list[CalculationRequest], Depends(read_batch)]
