"""The eligibility service's clients of the registry and the ranking service, swapped for tests through
`app.dependency_overrides` (the app's own, made in its lifespan, stay unused meanwhile)."""

from contextlib import AbstractAsyncContextManager

import httpx
from fastapi import FastAPI

from services.eligibility.awards.ranking import RankingClient, make_ranking_client
from services.eligibility.dependencies import get_ranking, get_registry
from services.eligibility.registry_client.client import RegistryClient, make_registry_client
from services.eligibility.settings import EligibilitySettings
from tests.support import overridden


def registry_in_process(
    app: FastAPI, settings: EligibilitySettings, transport: httpx.AsyncBaseTransport
) -> AbstractAsyncContextManager[RegistryClient]:
    """`async with registry_in_process(app, settings, httpx.ASGITransport(app=registry_app)):` the app reads the
    registry through `transport`, with the client configured as in production (retries, page size)."""
    return overridden(app, get_registry, make_registry_client(settings, transport))


def ranking_in_process(
    app: FastAPI, settings: EligibilitySettings, transport: httpx.AsyncBaseTransport
) -> AbstractAsyncContextManager[RankingClient]:
    """Like registry_in_process, for the ranking service the eligibility app reads (M06)."""
    return overridden(app, get_ranking, make_ranking_client(settings, transport))
