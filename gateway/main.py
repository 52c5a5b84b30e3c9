"""The gateway app: `uvicorn --factory gateway.main:create_app` (port 8000 under `make run`)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import aiohttp
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import text
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from gateway.authn import KeyAuthenticator
from gateway.fairness import BodyBudget, ConcurrencyCap, FailureBlocks
from gateway.metrics import GatewayMetrics
from gateway.middleware import ROUTE_KEY, GatewayMiddleware
from gateway.openapi import SpecCache, merge
from gateway.proxy import API_PREFIX, GatewayState, proxy
from gateway.ratelimit import make_rate_limiter
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream
from shared.app import TELEMETRY_OFF, tune_garbage_collector
from shared.db import make_engine, make_sessionmaker
from shared.errors import PROBLEM_MEDIA_TYPE, ServiceUnavailable, install_error_handlers
from shared.logging import configure_logging
from shared.requestid import current_request_id

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
    status: str
    service: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


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
    metrics = GatewayMetrics()

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
        upstreams = {name: Upstream(url, settings) for name, url in settings.upstream_urls().items()}
        limiter = make_rate_limiter(settings.redis_url)
        specs = SpecCache(
            {name: upstream.session for name, upstream in upstreams.items()},
            settings.internal.secret,
            settings.openapi_cache_seconds,
            settings.probe_timeout,
        )
        app.state.engine = engine
        app.state.gateway = GatewayState(
            settings=settings,
            upstreams=upstreams,
            authenticator=KeyAuthenticator(make_sessionmaker(engine), settings.key_cache_seconds),
            limiter=limiter,
            metrics=metrics,
            specs=specs,
            concurrency=ConcurrencyCap(settings.max_concurrent_per_client),
            bodies=BodyBudget(settings.max_buffered_body_bytes),
            auth_failures=FailureBlocks(),
        )
        for name in upstreams:
            specs.warm(name)
        try:
            yield
        finally:
            await specs.close()
            await asyncio.gather(*(upstream.aclose() for upstream in upstreams.values()))
            await limiter.close()
            await engine.dispose()

    app = FastAPI(
        title="Gateway",
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=TELEMETRY_OFF,
    )
    app.state.settings = settings
    install_error_handlers(app)

    @app.get("/healthz", response_model=Health, summary="The gateway process is alive", tags=["gateway"])
    async def healthz() -> Health:
        return Health(status="ok", service=settings.service_name)

    @app.get(
        "/readyz",
        response_model=Readiness,
        summary="The gateway, its database, its rate-limit store and every upstream (with its database) can answer",
        tags=["gateway"],
    )
    async def readyz(request: Request) -> Readiness:
        state: GatewayState = request.app.state.gateway
        checks = await readiness_checks(request.app, state)
        if any(value != "ok" for value in checks.values()):
            raise ServiceUnavailable("Not every part of the system is ready.", checks=checks)
        return Readiness(status="ready", checks=checks)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_document(request: Request) -> JSONResponse:
        state: GatewayState = request.app.state.gateway
        specs, unavailable = await state.specs.current()
        return JSONResponse(merge(app.openapi(), specs, unavailable))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_HTML, headers={"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"})

    @app.get("/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(DOCS_INIT_JS, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    app.mount(
        "/docs/assets",
        _Labelled(StaticFiles(directory=str(swagger_ui_path)), "/docs/assets/{file}"),
        name="docs-assets",
    )

    app.add_middleware(ProxyDispatch)
    cors: dict[str, Any] = {
        "allow_origins": settings.cors_origins,
        "allow_methods": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        "allow_headers": [
            "Authorization",
            "Content-Type",
            "If-Match",
            "If-None-Match",
            "Idempotency-Key",
            "X-Request-ID",
        ],
        "expose_headers": ["X-Request-ID", "ETag", "Location", "Retry-After"],
        "max_age": 600,
    }
    if settings.cors_origins:
        app.add_middleware(ProblemCORSMiddleware, **cors)
    proxies, header = settings.trusted_proxies, settings.forwarded_header
    app.add_middleware(GatewayMiddleware, metrics=metrics, trusted_proxies=proxies, forwarded_header=header)
    return app


async def readiness_checks(app: FastAPI, state: GatewayState) -> dict[str, str]:
    settings = state.settings

    async def database() -> str:
        try:
            async with app.state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            return f"unreachable: {type(exc).__name__}"
        return "ok"

    async def rate_limit_store() -> str:
        try:
            await asyncio.wait_for(state.limiter.ping(), settings.probe_timeout)
        except Exception as exc:
            return f"unreachable: {type(exc).__name__}"
        return "ok"

    async def upstream(name: str) -> str:
        probe = aiohttp.ClientTimeout(total=settings.probe_timeout)
        try:
            async with state.upstreams[name].session.get("/readyz", timeout=probe) as response:
                if response.status == 200:
                    return "ok"
                json = "json" in response.content_type
                detail: Any = (await response.json(content_type=None)).get("detail") if json else ""
                return f"not ready ({response.status}): {detail}".rstrip(": ")
        except Exception as exc:
            return f"unreachable: {type(exc).__name__}"

    names = list(state.upstreams)
    results = await asyncio.gather(database(), rate_limit_store(), *(upstream(name) for name in names))
    checks = {"database": results[0], "rate_limit_store": results[1]}
    checks.update(dict(zip(names, results[2:], strict=True)))
    return checks
