"""The gateway's client for one service: an aiohttp session with pooled keep-alive connections.

aiohttp rather than httpx (which the services use between themselves): a proxy that only relays spent, per request,
about 0.36 ms of CPU with aiohttp and 2.2 ms with httpx (same machine, same minute, 16 concurrent callers), and the
gateway's whole budget is < 1 ms added at the median (docs/performance.md).
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from yarl import URL

from gateway.access import SAFE_METHODS
from gateway.settings import GatewaySettings

# The services (uvicorn) close a keep-alive connection after 5 idle seconds; one idle for this long is not
# reused, so that a request is not sent on a connection the service is closing.
IDLE_EXPIRY_SECONDS = 4.0
# Connections beyond the proxied requests' slots for the gateway's own requests (readiness, OpenAPI documents),
# which take no slot: they never make a proxied request that holds one wait for a connection.
PROBE_CONNECTIONS = 4


class PoolExhausted(Exception):
    """Every connection to the service stayed in use for the pool timeout."""


class WriteNotResent(aiohttp.ClientConnectionError):
    """A write whose connection closed before an answer. aiohttp would send a PUT or DELETE once more (it holds them
    idempotent), but the service may have done it already, and the resent copy, with the same spent nonce, would be
    refused as a replay: the caller would read a 401 for a write that was made. So it is not resent; the caller gets
    a 503 and retries (with an Idempotency-Key where the route takes one)."""


async def _no_resent_writes(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    try:
        return await handler(request)
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        if request.method in SAFE_METHODS:
            raise
        raise WriteNotResent(f"{request.method}: {exc}") from exc


class Upstream:
    """One service: its origin, and the session for the proxied requests and the gateway's own (readiness, OpenAPI
    documents). No cookies are kept (the session is every caller's), no redirect is followed, bodies are passed on
    as they came (no decompression), and nothing is taken from the environment (proxies, .netrc)."""

    def __init__(self, base_url: str, settings: GatewaySettings) -> None:
        self.origin = URL(base_url).origin()
        self.pool_timeout = settings.upstream_pool_timeout
        # aiohttp times the wait for a free connection and the TCP connect as one: the wait is bounded here, so
        # that a busy service (503 upstream-busy) is told apart from one that does not accept connections.
        self._slots = asyncio.Semaphore(settings.upstream_max_connections)
        self.session = aiohttp.ClientSession(
            base_url=self.origin,
            connector=aiohttp.TCPConnector(
                limit=settings.upstream_max_connections + PROBE_CONNECTIONS,
                limit_per_host=0,
                keepalive_timeout=IDLE_EXPIRY_SECONDS,
            ),
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=None,
                sock_connect=settings.upstream_connect_timeout,
                sock_read=settings.upstream_read_timeout,
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
            trust_env=False,
            middlewares=(_no_resent_writes,),
        )

    @asynccontextmanager
    async def connection_slot(self) -> AsyncIterator[None]:
        """One of the service's connections, for as long as an exchange (its answer's body included) lasts."""
        try:
            async with asyncio.timeout(self.pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolExhausted(f"no free connection within {self.pool_timeout} seconds") from None
        try:
            yield
        finally:
            self._slots.release()

    async def aclose(self) -> None:
        await self.session.close()
