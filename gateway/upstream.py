"""The gateway's client for one service: an aiohttp session with pooled keep-alive connections (renewed after a
maximum age), and the service's circuit breaker.

aiohttp rather than httpx (which the services use between themselves): a proxy that only relays spent, per request,
about 0.36 ms of CPU with aiohttp and 2.2 ms with httpx (same machine, same minute, 16 concurrent callers), and the
gateway's whole budget is < 1 ms added at the median (docs/performance.md).
"""

import asyncio
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from yarl import URL

from gateway.access import SAFE_METHODS
from gateway.breaker import CircuitBreaker, Clock
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


class _Generation:
    """One session and how many exchanges are using it; a retired one is closed when the last is done."""

    __slots__ = ("expires_at", "leases", "retired", "session")

    def __init__(self, session: aiohttp.ClientSession, expires_at: float) -> None:
        self.session = session
        self.expires_at = expires_at
        self.leases = 0
        self.retired = False


class Upstream:
    """One service: its origin, its circuit breaker, and the session for the proxied requests and the gateway's own
    (readiness, OpenAPI documents). No cookies are kept (the session is every caller's), no redirect is followed,
    bodies are passed on as they came (no decompression), and nothing is taken from the environment (proxies, .netrc).

    aiohttp gives a pooled connection no maximum age, so the session itself is renewed: after
    `upstream_connection_max_age` seconds (less up to a tenth, so that gateways started together do not all
    reconnect at once) new exchanges take a new session, and the old one is closed when its last exchange is done.
    A service scaled out then gets its share of the connections within that time."""

    def __init__(
        self,
        base_url: str,
        settings: GatewaySettings,
        *,
        breaker: CircuitBreaker | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.origin = URL(base_url).origin()
        self.pool_timeout = settings.upstream_pool_timeout
        self.breaker = breaker or CircuitBreaker(
            failure_threshold=settings.circuit_failure_threshold,
            cool_down=settings.circuit_cool_down_seconds,
            half_open_probes=settings.circuit_half_open_probes,
        )
        self._settings = settings
        self._clock = clock
        self._max_age = settings.upstream_connection_max_age
        # aiohttp times the wait for a free connection with the connect: the wait is bounded here first, so that a
        # busy service (503 upstream-busy) is told apart from one that does not accept connections.
        self._slots = asyncio.Semaphore(settings.upstream_max_connections)
        self._current = self._new_generation()
        # Retired sessions that exchanges still use, and the closing of those they no longer do.
        self._draining: set[_Generation] = set()
        self._closing: set[asyncio.Task[None]] = set()

    def _new_generation(self) -> _Generation:
        settings = self._settings
        session = aiohttp.ClientSession(
            base_url=self.origin,
            connector=aiohttp.TCPConnector(
                limit=settings.upstream_max_connections + PROBE_CONNECTIONS,
                limit_per_host=0,
                keepalive_timeout=IDLE_EXPIRY_SECONDS,
            ),
            # `connect` bounds the name resolution and the connect together (`sock_connect` only the latter): a
            # resolver that hangs (an overloaded cluster DNS, search domains tried one by one) costs a request the
            # connect timeout, not what libc allows. It also times a wait for a free connector connection, which a
            # proxied request never has (it holds a slot, below, and the connector has more), so a busy service is
            # still told apart: 503 upstream-busy after `upstream_pool_timeout`.
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=settings.upstream_connect_timeout,
                sock_connect=settings.upstream_connect_timeout,
                sock_read=settings.upstream_read_timeout,
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
            trust_env=False,
            middlewares=(_no_resent_writes,),
        )
        jitter = random.uniform(0.9, 1.0)  # noqa: S311 - spreads reconnections, not a secret
        return _Generation(session, self._clock() + self._max_age * jitter)

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session new exchanges use now (within `connection_slot` or `probe_session`, it stays open)."""
        return self._current.session

    def _lease(self) -> _Generation:
        generation = self._current
        if self._clock() >= generation.expires_at:
            generation.retired = True
            if generation.leases == 0:
                self._close_later(generation)
            else:
                self._draining.add(generation)
            generation = self._current = self._new_generation()
        generation.leases += 1
        return generation

    def _release(self, generation: _Generation) -> None:
        generation.leases -= 1
        if generation.retired and generation.leases == 0:
            self._draining.discard(generation)
            self._close_later(generation)

    def _close_later(self, generation: _Generation) -> None:
        task = asyncio.get_running_loop().create_task(generation.session.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @asynccontextmanager
    async def connection_slot(self) -> AsyncIterator[aiohttp.ClientSession]:
        """One of the service's connections, for as long as an exchange (its answer's body included) lasts, and
        the session to make it with."""
        try:
            async with asyncio.timeout(self.pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolExhausted(f"no free connection within {self.pool_timeout} seconds") from None
        generation = self._lease()
        try:
            yield generation.session
        finally:
            self._release(generation)
            self._slots.release()

    @asynccontextmanager
    async def probe_session(self) -> AsyncIterator[aiohttp.ClientSession]:
        """The session for one of the gateway's own requests (no slot: they use the probe connections)."""
        generation = self._lease()
        try:
            yield generation.session
        finally:
            self._release(generation)

    async def aclose(self) -> None:
        sessions = [self._current.session, *(generation.session for generation in self._draining)]
        self._draining.clear()
        await asyncio.gather(*(session.close() for session in sessions), *self._closing, return_exceptions=True)
