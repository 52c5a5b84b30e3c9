"""The gateway app: `uvicorn --factory gateway.main:create_app` (port 8000 under `make run`)."""

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from enum import StrEnum
from typing import Any, Literal

import aiohttp
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from gateway.authn import KeyAuthenticator
from gateway.breaker import CircuitBreaker, CircuitState
from gateway.client import client_of
from gateway.fairness import BodyBudget, ConcurrencyCap, FailureBlocks
from gateway.metrics import GatewayMetrics
from gateway.middleware import ROUTE_KEY, GatewayMiddleware
from gateway.openapi import HEAD_TOO_LARGE, SpecCache, merge
from gateway.proxy import API_PREFIX, GatewayState, proxy
from gateway.ratelimit import RateLimiter, make_rate_limiter
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream
from shared.app import TELEMETRY_OFF, tune_garbage_collector
from shared.db import make_engine, make_sessionmaker
from shared.errors import PROBLEM_MEDIA_TYPE, Problem, ServiceUnavailable, install_error_handlers, problem_response
from shared.logging import configure_logging, get_logger
from shared.metrics import check_metrics_reader
from shared.openapi import finish_document, problems
from shared.requestid import current_request_id
from shared.tracing import configure_tracing

logger = get_logger("gateway.main")

DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chongqing producer services API</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
"""

DOCS_INIT_JS = """window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  displayRequestDuration: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
"""

# Everything the docs page loads comes from the gateway itself: government intranets have no CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'"
)


class Health(BaseModel):
    status: Literal["ok"] = Field(description="Always `ok`: the process answers.")
    service: str = Field(description="The process's name.", examples=["gateway"])


class ReadinessStatus(StrEnum):
    """`ready`, or `degraded` while an upstream or the rate-limit store is not: the gateway still serves the rest."""

    READY = "ready"
    DEGRADED = "degraded"


class CircuitStateName(StrEnum):
    """An upstream's circuit breaker: `closed` (requests go through), `open` (refused at once for a while) or
    `half_open` (a few probes let through)."""

    CLOSED = CircuitState.CLOSED.label
    HALF_OPEN = CircuitState.HALF_OPEN.label
    OPEN = CircuitState.OPEN.label


class Readiness(BaseModel):
    status: ReadinessStatus
    checks: dict[str, str] = Field(
        description="`ok` or what is wrong, for the key `database`, the `rate_limit_store` and each deployed upstream.",
        examples=[{"database": "ok", "rate_limit_store": "ok", "registry": "ok"}],
    )
    circuits: dict[str, CircuitStateName] = Field(
        description="Each deployed upstream's circuit breaker.", examples=[{"registry": "closed"}]
    )


class GatewayNotReadyProblem(Problem):
    """The gateway's 503 from /readyz: what it found, as a 200 would report it."""

    checks: dict[str, str] = Field(description="As in `Readiness`: `ok` or what is wrong, for each dependency.")
    circuits: dict[str, CircuitStateName] = Field(description="As in `Readiness`: each upstream's circuit breaker.")


class _Labelled:
    """Names a mounted app's requests in the metrics (Starlette gives mounts no route template)."""

    def __init__(self, app: ASGIApp, label: str) -> None:
        self.app = app
        self.label = label

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[ROUTE_KEY] = self.label
        await self.app(scope, receive, send)


_PREFLIGHT_PATH: ContextVar[str] = ContextVar("preflight_path", default="")


class ProblemCORSMiddleware(CORSMiddleware):
    """CORS from the allow-list, with a refused preflight answered as a problem like every other error."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _PREFLIGHT_PATH.set(scope.get("path", ""))
        try:
            await super().__call__(scope, receive, send)
        finally:
            _PREFLIGHT_PATH.reset(token)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        detail = bytes(response.body).decode() + ": this origin, method or header is not on the allow-list."
        body = {
            "type": "/problems/cors-refused",
            "title": "Bad Request",
            "status": response.status_code,
            "detail": detail,
            "instance": _PREFLIGHT_PATH.get(),
            "request_id": current_request_id(),
        }
        return JSONResponse(
            body,
            status_code=response.status_code,
            media_type=PROBLEM_MEDIA_TYPE,
            headers={k: v for k, v in response.headers.items() if k.lower().startswith("access-")},
        )


class StaticAssets:
    """The docs page's files, by GET or HEAD; any other method is a 405 that says so (StaticFiles' own names no
    `Allow`, and the error handler would name what the mount matches: every method)."""

    ALLOWED = "GET, HEAD"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            response = problem_response(
                Request(scope),
                status=405,
                title="Method Not Allowed",
                slug="method-not-allowed",
                detail=f"Method {scope['method']} is not allowed on {scope['path']}; it answers {self.ALLOWED}.",
                headers={"Allow": self.ALLOWED},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


# A Host header as a browser or client sends it: a name or address, and a port.
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def server_url(request: Request) -> str:
    """The base URL the caller used: its Host and the scheme the gateway identified (a trusted proxy's
    X-Forwarded-Proto, gateway/client.py), or `/`, the document's own origin, when its Host is missing or odd."""
    host = request.headers.get("host", "")
    if not _HOST.fullmatch(host):
        return "/"
    return f"{client_of(request.scope).scheme}://{host}"


# The response headers a browser client reads: CORS hides all but a few unless they are exposed.
EXPOSED_HEADERS = ["X-Request-ID", "ETag", "Location", "Retry-After", "Content-Disposition", "Idempotent-Replayed"]


def _proxied(scope: Scope) -> bool:
    if scope["type"] != "http":
        return False
    path: str = scope["path"]
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


class ProxyDispatch:
    """Sends `/api/v1/...` to the proxy, everything else to the gateway's own routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _proxied(scope):
            await proxy(scope["app"].state.gateway, scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    # Here, not in the lifespan: uvicorn calls the factory before it logs that it started, so its lines are JSON too.
    configure_logging(settings.service_name, settings.log_level)

    def pool() -> Pool | None:  # read when scraped; the engine is made in the lifespan
        engine: AsyncEngine | None = getattr(app.state, "engine", None)
        return None if engine is None else engine.pool

    metrics = GatewayMetrics(pool, settings.database_pool_size + settings.database_max_overflow)

    def circuit(name: str) -> CircuitBreaker:
        record = metrics.circuit_listener(name)

        def changed(previous: CircuitState, state: CircuitState) -> None:
            record(previous, state)
            log = logger.warning if state is CircuitState.OPEN else logger.info
            log(f"circuit {state.label}", upstream=name, previous=previous.label)

        return CircuitBreaker(
            failure_threshold=settings.circuit_failure_threshold,
            cool_down=settings.circuit_cool_down_seconds,
            half_open_probes=settings.circuit_half_open_probes,
            on_change=changed,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_garbage_collector()
        engine = make_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_timeout=settings.database_pool_timeout,
            echo=settings.database_echo,
        )
        upstreams = {
            name: Upstream(url, settings, breaker=circuit(name)) for name, url in settings.upstream_urls().items()
        }
        limiter = make_rate_limiter(settings.redis_url, on_fallback=metrics.rate_limit_fallback.inc)
        specs = SpecCache(upstreams, settings.internal.secret, settings.openapi_cache_seconds, settings.probe_timeout)
        probes = ReadinessProbes(
            upstreams,
            limiter,
            metrics,
            settings.probe_timeout,
            settings.upstream_probe_interval,
            key_database=lambda: database_check(engine, settings.probe_timeout),
        )
        authenticator = KeyAuthenticator(make_sessionmaker(engine), settings.key_cache_seconds)
        app.state.engine = engine
        app.state.gateway = GatewayState(
            settings=settings,
            upstreams=upstreams,
            authenticator=authenticator,
            limiter=limiter,
            metrics=metrics,
            specs=specs,
            concurrency=ConcurrencyCap(settings.max_concurrent_per_client),
            bodies=BodyBudget(settings.max_buffered_body_bytes),
            auth_failures=FailureBlocks(),
        )
        app.state.probes = probes
        for name in upstreams:
            specs.warm(name)
        probes.start()
        try:
            yield
        finally:
            await probes.close()
            await specs.close()
            await asyncio.gather(*(upstream.aclose() for upstream in upstreams.values()))
            await limiter.close()
            # The last uses not yet written (last_used_at), before the engine goes; bounded, as a hung database must
            # not hold the shutdown beyond its grace period.
            try:
                async with asyncio.timeout(settings.probe_timeout):
                    await authenticator.close()
            except Exception as exc:
                logger.warning("last key uses not written at shutdown", error=type(exc).__name__)
            await engine.dispose()

    app = FastAPI(
        title="Gateway",
        version="1.0.0",
        contact=settings.api_contact(),
        license_info=settings.api_license(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=TELEMETRY_OFF,
    )
    app.state.settings = settings
    install_error_handlers(app)
    build_document = app.openapi

    def document() -> dict[str, Any]:
        # The gateway's own routes as every service documents its own (shared.openapi), before the merge.
        if app.openapi_schema is None:
            app.openapi_schema = finish_document(build_document())
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]

    @app.get(
        "/healthz",
        response_model=Health,
        operation_id="getGatewayHealth",
        summary="The gateway process is alive",
        description="Answers while the gateway process runs, whatever its key database and upstreams do.\n\n"
        "**Who may call:** anyone, no API key needed (the probe of load balancers and orchestrators).",
        tags=["gateway"],
        responses=problems({431: HEAD_TOO_LARGE}),
    )
    async def healthz() -> Health:
        return Health(status="ok", service=settings.service_name)

    @app.get(
        "/readyz",
        response_model=Readiness,
        operation_id="getGatewayReadiness",
        summary="The gateway can serve",
        description="A 503 only when its key database cannot be reached. The rate-limit store and every upstream "
        "are reported (from probes every few seconds, with each circuit's state) but do not make it unready: a "
        "service that is down answers 503 on its own routes, the others are served.\n\n"
        "**Who may call:** anyone, no API key needed (the probe of load balancers and orchestrators).",
        tags=["gateway"],
        responses=problems(
            {
                431: HEAD_TOO_LARGE,
                503: (
                    "The key database cannot be reached: no caller can be authenticated. The checks and circuits "
                    "are reported as when ready.",
                    GatewayNotReadyProblem,
                ),
            }
        ),
    )
    async def readyz(request: Request) -> Readiness:
        state: GatewayState = request.app.state.gateway
        probes: ReadinessProbes = request.app.state.probes
        database, others = await asyncio.gather(
            database_check(request.app.state.engine, settings.probe_timeout), probes.latest()
        )
        checks = {"database": database, **others}
        circuits = {name: CircuitStateName(upstream.breaker.state.label) for name, upstream in state.upstreams.items()}
        if database != "ok":
            raise ServiceUnavailable(
                "The gateway's key database cannot be reached: no caller can be authenticated.",
                checks=checks,
                circuits=circuits,
            )
        ready = all(value == "ok" for value in checks.values())
        status = ReadinessStatus.READY if ready else ReadinessStatus.DEGRADED
        return Readiness(status=status, checks=checks, circuits=circuits)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        check_metrics_reader(settings, request.headers.get("authorization"))
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_document(request: Request) -> JSONResponse:
        state: GatewayState = request.app.state.gateway
        specs, unavailable = await state.specs.current()
        return JSONResponse(merge(app.openapi(), specs, unavailable, server_url=server_url(request)))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_HTML, headers={"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"})

    @app.get("/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(DOCS_INIT_JS, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    app.mount(
        "/docs/assets",
        _Labelled(StaticAssets(StaticFiles(directory=str(swagger_ui_path))), "/docs/assets/{file}"),
        name="docs-assets",
    )

    app.add_middleware(ProxyDispatch)
    cors: dict[str, Any] = {
        "allow_origins": settings.cors_origins,
        # No HEAD: the API's routes answer GET only (a HEAD is a 405 naming GET).
        "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        "allow_headers": [
            "Authorization",
            "Content-Type",
            "If-Match",
            "If-None-Match",
            "Idempotency-Key",
            "X-Request-ID",
        ],
        "expose_headers": EXPOSED_HEADERS,
        "max_age": 600,
    }
    if settings.cors_origins:
        app.add_middleware(ProblemCORSMiddleware, **cors)
    proxies, header = settings.trusted_proxies, settings.forwarded_header
    app.add_middleware(
        GatewayMiddleware,
        metrics=metrics,
        trusted_proxies=proxies,
        forwarded_header=header,
        # The gateway decides sampling for every trace it sends on (shared.tracing: the edge).
        tracer=configure_tracing(settings.service_name, edge=True),
    )
    return app


async def database_check(engine: AsyncEngine, seconds: float) -> str:
    """The key database, asked now: without it no caller can be authenticated."""
    try:
        async with asyncio.timeout(seconds), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"


class ReadinessProbes:
    """The rate-limit store and every upstream's /readyz, probed together every `interval` seconds in the
    background (each within `timeout`): /readyz reports the last round at once, and the metrics follow it even
    when no one asks /readyz. Each round also checks the key database (`gateway_key_database_up`: when it is down
    every gateway is unready, and no request reaches one to count a 5xx) and moves each circuit on with time: an
    upstream that answers its probe with a 200 closes a circuit past its cool-down (gateway/breaker.py)."""

    def __init__(
        self,
        upstreams: dict[str, Upstream],
        limiter: RateLimiter,
        metrics: GatewayMetrics,
        timeout: float,
        interval: float,
        *,
        key_database: Callable[[], Awaitable[str]],
    ) -> None:
        self.upstreams = upstreams
        self.key_database = key_database
        self.limiter = limiter
        self.metrics = metrics
        self.timeout = timeout
        self.interval = interval
        self.checks: dict[str, str] = {}
        self._first_round = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def latest(self) -> dict[str, str]:
        """The last round's results (the first round is waited for: at most `timeout` after the start)."""
        await self._first_round.wait()
        return dict(self.checks)

    async def _run(self) -> None:
        while True:
            try:
                await self.probe()
            except Exception:  # the probes go on: a stopped loop would report one old round for ever
                logger.exception("readiness probes failed")
            self._first_round.set()
            await asyncio.sleep(self.interval)

    async def probe(self) -> None:
        names = list(self.upstreams)
        # A 200 closes only a circuit that opened before its probe was sent (gateway/breaker.py).
        sent = time.monotonic()
        database, store, *upstreams = await asyncio.gather(
            self.key_database(), self._rate_limit_store(), *(self._upstream(name) for name in names)
        )
        self.metrics.key_database_up.set(database == "ok")
        self.metrics.rate_limit_store_up.set(store == "ok")
        for name, result in zip(names, upstreams, strict=True):
            self.metrics.upstream_up.labels(name).set(result == "ok")
            breaker = self.upstreams[name].breaker
            # Either call moves an idle circuit past its cool-down on (the gauge follows through its listener).
            if result == "ok":
                breaker.recovered(probed_at=sent)
            else:
                breaker.state  # noqa: B018 - read for its effect: open past the cool-down becomes half-open
        self.checks = {"rate_limit_store": store, **dict(zip(names, upstreams, strict=True))}

    async def _rate_limit_store(self) -> str:
        try:
            await asyncio.wait_for(self.limiter.ping(), self.timeout)
        except Exception as exc:
            return f"unreachable: {type(exc).__name__}"
        return "ok"

    async def _upstream(self, name: str) -> str:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with (
                self.upstreams[name].probe_session() as session,
                session.get("/readyz", timeout=timeout) as response,
            ):
                if response.status == 200:
                    return "ok"
                json = "json" in response.content_type
                detail: Any = (await response.json(content_type=None)).get("detail") if json else ""
                return f"not ready ({response.status}): {detail}".rstrip(": ")
        except Exception as exc:
            return f"unreachable: {type(exc).__name__}"
