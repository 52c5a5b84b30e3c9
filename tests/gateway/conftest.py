from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from gateway import GATEWAY_DIR
from gateway.settings import SERVICE_NAMES
from tests.gateway.helpers import ServerThread, echo_app, free_port, running_gateway, settings_for
from tests.support import TestDatabase


@pytest.fixture(scope="session")
def gateway_db() -> Iterator[TestDatabase]:
    yield from TestDatabase("gateway", GATEWAY_DIR).lifecycle()


@pytest.fixture(scope="session")
def echoes() -> Iterator[dict[str, ServerThread]]:
    """An echo service standing in for each of the three (a signature names the service it is meant for)."""
    servers = {name: ServerThread(echo_app(audience=name)).start() for name in SERVICE_NAMES}
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def echo(echoes: dict[str, ServerThread]) -> ServerThread:
    """The registry's echo service."""
    return echoes["registry"]


@pytest.fixture
async def gw(
    gateway_db: TestDatabase, echoes: dict[str, ServerThread]
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A gateway whose three upstreams are echo services."""
    urls = {f"{name}_url": server.url for name, server in echoes.items()}
    settings = settings_for(gateway_db.url, **urls)
    async with running_gateway(settings) as pair:
        yield pair


@pytest.fixture
def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"
