from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from gateway import GATEWAY_DIR
from tests.gateway.helpers import ServerThread, echo_app, free_port, running_gateway, settings_for
from tests.support import TestDatabase


@pytest.fixture(scope="session")
def gateway_db() -> Iterator[TestDatabase]:
    yield from TestDatabase("gateway", GATEWAY_DIR).lifecycle()


@pytest.fixture(scope="session")
def echo() -> Iterator[ServerThread]:
    server = ServerThread(echo_app()).start()
    yield server
    server.stop()


@pytest.fixture
async def gw(gateway_db: TestDatabase, echo: ServerThread) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A gateway whose three upstreams are the echo service (each under its own prefix)."""
    settings = settings_for(gateway_db.url, registry_url=echo.url, eligibility_url=echo.url, ranking_url=echo.url)
    async with running_gateway(settings) as pair:
        yield pair


@pytest.fixture
def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"
