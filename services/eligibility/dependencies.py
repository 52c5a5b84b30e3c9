"""Dependencies every router of the service shares."""

from typing import Annotated

from fastapi import Depends, Request

from services.eligibility.parameters.definitions import ParameterSet
from services.eligibility.parameters.store import ParameterStore
from services.eligibility.registry_client.client import RegistryClient
from shared.admission import by_body_size, by_reach, heavy_work


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

# Heavy work, admitted by cost (shared/admission.py). A batch by its size: 10,000 items are about 1 MB, a full-size
# request. Screenings, simulations and exports by the caller's reach: a district's part of the registry or ledger is
# small, the city's and the auditor's whole of it is full size.
BatchWorkDep = Annotated[None, heavy_work(by_body_size(1_000_000))]
ReachWorkDep = Annotated[None, heavy_work(by_reach)]
