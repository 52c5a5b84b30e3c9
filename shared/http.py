"""Calling another service of this system: signed as a service principal, explicit timeouts, retried reads.

Each call carries the system's id of the request being served (signed, so the other service logs and audits under
the same id), the caller's own id as X-Client-Request-ID, and the W3C `traceparent` of the trace being served (a
new span of it per attempt). Each read is counted in the serving app's metrics (shared.metrics) by upstream and
outcome.

Only idempotent reads are retried (transport errors and 502/503/504, with exponential backoff). When the other
service cannot be read the caller gets a 503 problem naming it.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, Literal

import httpx
from pydantic import Field
from typing_extensions import TypeAliasType

from shared.auth import Principal, Role, sign_principal
from shared.errors import Problem, ServiceUnavailable
from shared.logging import get_logger
from shared.metrics import current_metrics
from shared.requestid import (
    CLIENT_REQUEST_ID_HEADER,
    current_client_request_id,
    current_request_id,
    make_request_id,
)
from shared.tracing import TRACEPARENT_HEADER, client_span

logger = get_logger("shared.http")

SERVICE_PRINCIPAL = Principal(Role.SERVICE)
_RETRY_STATUSES = frozenset({502, 503, 504})


# The services of this system that another one reads (each client's `upstream`, the audience it signs for).
UpstreamService = TypeAliasType(
    "UpstreamService",
    Annotated[
        Literal["registry", "eligibility", "ranking"],
        Field(title="UpstreamService", description="A service of this system that another service reads"),
    ],
)


class UpstreamUnavailable(ServiceUnavailable):
    """Another service of this system could not be read; rendered as a 503 problem naming it (`upstream`)."""

    def __init__(self, detail: str, *, upstream: str) -> None:
        super().__init__(detail, upstream=upstream)


class UpstreamUnavailableProblem(Problem):
    """The 503 of a route that reads another service of this system. When that service could not be read (down,
    failing, or answering what the caller cannot use), `upstream` names it; a 503 for another reason (this
    service's database, or the gateway's own: see the description) has no `upstream`."""

    upstream: UpstreamService | None = Field(
        default=None, description="The service that could not be read.", examples=["registry"]
    )


def upstream_unavailable(*upstreams: str) -> tuple[str, type[Problem]]:
    """The `shared.openapi.problems` entry for the 503 of a route that reads `upstreams` (e.g. "registry")."""
    names = " or the ".join(upstreams)
    return (
        f"The {names} service could not be read (`upstream` names it); nothing was written. Try again later.",
        UpstreamUnavailableProblem,
    )


def make_http_client(base_url: str, *, timeout_seconds: float, max_connections: int = 20) -> httpx.AsyncClient:
    """One pooled client per upstream, made in the app's lifespan. No cookies are kept between calls."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 3.0)),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        cookies=None,
        # Between the services, always direct: a proxy of the environment (HTTP_PROXY) would see signed requests.
        trust_env=False,
    )


def service_client(
    upstream: str,
    base_url: str,
    *,
    secret: str,
    timeout_seconds: float,
    retries: int,
    backoff_seconds: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> "ServiceClient":
    """The signed client of one upstream, pooled (`make_http_client`), or over `transport` when a test passes one
    (`httpx.ASGITransport(app=…)`: the upstream answering in-process)."""
    http = (
        make_http_client(base_url, timeout_seconds=timeout_seconds)
        if transport is None
        else httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout_seconds, trust_env=False)
    )
    return ServiceClient(http, upstream=upstream, secret=secret, retries=retries, backoff_seconds=backoff_seconds)


class ServiceClient:
    """Signed GETs of JSON from one upstream service; `upstream` is its name, the audience it verifies."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        upstream: str,
        secret: str,
        retries: int = 2,
        backoff_seconds: float = 0.2,
        principal: Principal = SERVICE_PRINCIPAL,
    ) -> None:
        self.http = http
        self.upstream = upstream
        self.secret = secret
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.principal = principal

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any | None:
        """The JSON at `path`, or None on 404."""
        clean = {key: value for key, value in (params or {}).items() if value is not None}
        request_id = current_request_id() or make_request_id()
        client_request_id = current_client_request_id()
        started = time.perf_counter()
        attempt = 0
        outcome = "failed"
        try:
            while True:
                request = self.http.build_request("GET", path, params=clean)
                target = request.url.raw_path.decode("latin-1")
                # Each attempt is signed afresh (a new nonce and timestamp), under the same request ids, as a span of
                # its own of the trace being served.
                request.headers.update(
                    sign_principal(
                        self.secret,
                        "GET",
                        target,
                        self.principal,
                        audience=self.upstream,
                        request_id=request_id,
                    )
                )
                if client_request_id is not None:
                    request.headers[CLIENT_REQUEST_ID_HEADER] = client_request_id
                with client_span(self.upstream, "GET", path) as call:
                    request.headers[TRACEPARENT_HEADER] = call.traceparent
                    response: httpx.Response | None = None
                    try:
                        response = await self.http.send(request)
                    except httpx.TransportError as exc:
                        problem = type(exc).__name__
                    else:
                        call.answered(response.status_code)
                if response is not None:
                    if response.status_code == httpx.codes.NOT_FOUND:
                        outcome = "not_found"
                        return None
                    if response.is_success:
                        found = response.json()
                        outcome = "ok"
                        return found
                    problem = f"HTTP {response.status_code}"
                    if response.status_code not in _RETRY_STATUSES:
                        break
                if attempt >= self.retries:
                    break
                await asyncio.sleep(self.backoff_seconds * 2**attempt)
                attempt += 1
        except asyncio.CancelledError:
            outcome = "cancelled"  # the request it served was given up: not the upstream's failure
            raise
        finally:
            metrics = current_metrics()
            if metrics is not None:
                metrics.observe_upstream(self.upstream, outcome, time.perf_counter() - started, attempt)
        logger.warning("upstream read failed", upstream=self.upstream, path=path, problem=problem, attempts=attempt + 1)
        raise UpstreamUnavailable(
            f"The {self.upstream} service could not be read ({problem} on GET {path}); try again later.",
            upstream=self.upstream,
        )

    async def pages(
        self, path: str, params: Mapping[str, str | int] | None = None, *, page_size: int = 500
    ) -> AsyncIterator[list[Any]]:
        """Every page of a paginated list (`{items, next_cursor}`), following `next_cursor`."""
        query: dict[str, str | int] = {**(params or {}), "limit": page_size}
        while True:
            page = await self.get(path, query)
            if page is None:
                raise UpstreamUnavailable(f"The {self.upstream} service has no list at {path}.", upstream=self.upstream)
            yield page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return
            query["cursor"] = cursor
