from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import Principal
from tests.support import CITY, REGISTRY_TABLES, asgi_client, truncate


@pytest.fixture(autouse=True)
async def _isolated(registry_app: FastAPI) -> AsyncIterator[None]:
    yield
    await truncate(registry_app, (*REGISTRY_TABLES, "enterprise_registrations"))


@pytest.fixture
def client_for(registry_app: FastAPI):  # type: ignore[no-untyped-def]
    """client_for(principal) → an httpx client whose requests are signed for that principal (None: unsigned)."""
    opened: list[httpx.AsyncClient] = []

    def make(principal: Principal | None) -> httpx.AsyncClient:
        client = asgi_client(registry_app, principal)
        opened.append(client)
        return client

    yield make


@pytest.fixture
def city(client_for) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return client_for(CITY)
