"""Dependencies every router of the service shares."""

from typing import Annotated

from fastapi import Depends, Request

from services.eligibility.parameters.definitions import ParameterSet
from services.eligibility.parameters.store import ParameterStore
from services.eligibility.registry_client.client import RegistryClient


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
