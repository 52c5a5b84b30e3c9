"""The application factory every service uses: lifespan-made engine, middleware, errors, health, metrics."""

import gc
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.pool import Pool

from shared import health
from shared.admission import Admission, HeavyWorkSettings
from shared.clock import Clock
from shared.db import make_engine, make_read_sessionmaker, make_sessionmaker
from shared.errors import install_error_handlers
from shared.logging import configure_logging
from shared.metrics import JobsView, ServiceMetrics, check_metrics_reader
from shared.middleware import ServiceMiddleware
from shared.nonces import NonceStore
from shared.openapi import finish_document
from shared.settings import ServiceSettings
from shared.tracing import configure_tracing

LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]

# FastAPI's native telemetry stays off: with it, a request looks up the global providers (the check cost the gateway
# about a tenth of its own time per request). When spans are exported, ServiceMiddleware makes them (shared.tracing).
TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

# Allocations between two collections of the youngest generation (Python's default is 700).
GC_YOUNGEST_THRESHOLD = 10_000


def tune_garbage_collector() -> None:
    """A request allocates thousands of short-lived objects that reference counting frees anyway; with the default
    threshold the cyclic collector runs every few hundred allocations, mid-request, and promotes what is still in
    use to older generations that cost more to scan. Collecting the youngest generation less often leaves it the
    few real cycles to find."""
    youngest, middle, oldest = gc.get_threshold()
    gc.set_threshold(max(GC_YOUNGEST_THRESHOLD, youngest), middle, oldest)


def create_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    version: str,
    description: str,
    routers: Sequence[APIRouter],
    lifespan_hooks: Sequence[LifespanHook] = (),
    reads_without_transaction: bool = False,
    body_limits: Mapping[str, int] | None = None,
    computations: Sequence[str] = (),
    tags: Sequence[Mapping[str, str]] = (),
) -> FastAPI:
    """`reads_without_transaction`: GET and HEAD never write in this service, so they may skip BEGIN and COMMIT
    (see shared.db.make_read_sessionmaker). `body_limits`: paths whose bodies may be larger (or must be smaller)
    than `settings.max_body_bytes`. `computations`: POST paths that write nothing (see ServiceMiddleware). `tags`:
    the routers' tags, each `{"name", "description"}`, as the document declares them."""
    # Here, not in the lifespan: uvicorn calls the factory before it logs that it started, so its lines are JSON too.
    configure_logging(settings.service_name, settings.log_level)

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
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.read_sessionmaker = make_read_sessionmaker(engine) if reads_without_transaction else None
        try:
            async with AsyncExitStack() as stack:
                for hook in lifespan_hooks:
                    await stack.enter_async_context(hook(app))
                yield
        finally:
            await engine.dispose()

    # No slash redirects: behind the gateway a 307 would carry the service's own address in its Location.
    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        redirect_slashes=False,
        telemetry=TELEMETRY_OFF,
        # One schema per model, whether read or written: no `Thing-Input`/`Thing-Output` pairs in generated clients.
        separate_input_output_schemas=False,
        openapi_tags=[dict(tag) for tag in tags] or None,
    )
    app.state.settings = settings
    app.state.clock = Clock(settings.today)
    app.state.metrics = metrics = _service_metrics(app, settings)
    _finish_document(app)
    install_error_handlers(app)
    app.add_middleware(
        ServiceMiddleware,
        secret=settings.internal.secret,
        previous_secret=settings.internal.previous_secret,
        max_age_seconds=settings.internal.signature_max_age_seconds,
        audience=settings.service_name,
        nonces=NonceStore(settings.internal.signature_max_age_seconds),
        max_body_bytes=settings.max_body_bytes,
        body_limits=body_limits,
        computations=computations,
        metrics=metrics,
        tracer=configure_tracing(settings.service_name),
    )
    app.include_router(health.router)

    # Unsigned (ServiceMiddleware), read with METRICS_TOKEN instead; not in the API's document.
    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        check_metrics_reader(settings, request.headers.get("authorization"))
        return Response(metrics.render(), media_type=metrics.content_type)

    for router in routers:
        app.include_router(router)
    return app


def _service_metrics(app: FastAPI, settings: ServiceSettings) -> ServiceMetrics:
    """The app's metrics; its pool and its admission are read from `app.state` when scraped (both made later)."""

    def pool() -> Pool | None:
        engine = getattr(app.state, "engine", None)
        return None if engine is None else engine.pool

    def jobs() -> JobsView | None:
        # Made on the first heavy request (shared.admission.admission_of); until then, nothing ran.
        admission: Admission | None = getattr(app.state, "admission", None)
        if admission is None:
            heavy: HeavyWorkSettings | None = getattr(settings, "heavy", None)  # every service's settings have one
            return None if heavy is None else JobsView(heavy.process_units, 0, 0, 0, 0)
        return JobsView(
            admission.settings.process_units,
            admission.running,
            admission.admitted,
            admission.refused_caller,
            admission.refused_process,
        )

    return ServiceMetrics(
        pool=pool, max_connections=settings.database_pool_size + settings.database_max_overflow, jobs=jobs
    )


def _finish_document(app: FastAPI) -> None:
    """The OpenAPI document says what the error handler and the middleware do (shared.openapi.finish_document)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish_document(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
