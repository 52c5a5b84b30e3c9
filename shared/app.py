"""The application factory every service uses: lifespan-made engine, middleware, errors, health."""

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from shared import health
from shared.db import make_engine, make_sessionmaker
from shared.errors import PROBLEM_SCHEMA, install_error_handlers
from shared.logging import configure_logging
from shared.middleware import ServiceMiddleware
from shared.settings import ServiceSettings

LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    version: str,
    description: str,
    routers: Sequence[APIRouter],
    lifespan_hooks: Sequence[LifespanHook] = (),
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        engine = make_engine(settings.database_url, pool_size=settings.database_pool_size, echo=settings.database_echo)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        try:
            async with AsyncExitStack() as stack:
                for hook in lifespan_hooks:
                    await stack.enter_async_context(hook(app))
                yield
        finally:
            await engine.dispose()

    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan)
    app.state.settings = settings
    _document_problems(app)
    install_error_handlers(app)
    app.add_middleware(
        ServiceMiddleware,
        secret=settings.internal.secret,
        max_age_seconds=settings.internal.signature_max_age_seconds,
    )
    app.include_router(health.router)
    for router in routers:
        app.include_router(router)
    return app


def _document_problems(app: FastAPI) -> None:
    """The OpenAPI document says what the error handler does: every error is `application/problem+json`."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        invalid = {"description": "The request is invalid; `errors` names each field.", "content": problem}
        for item in document.get("paths", {}).values():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = invalid
                responses["default"] = {"description": "An error, as RFC 9457 problem details.", "content": problem}
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        schemas["Problem"] = PROBLEM_SCHEMA
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
