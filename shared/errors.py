"""Domain errors and the one handler that renders every error as RFC 9457 problem+json."""

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.requestid import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger("shared.errors")


class ProblemError(Exception):
    """A domain error that knows its HTTP status; `slug` becomes the problem `type`."""

    status: int = 500
    title: str = "Internal Server Error"
    slug: str = "internal-error"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = headers or {}
        self.extensions = extensions


class BadRequest(ProblemError):
    status, title, slug = 400, "Bad Request", "bad-request"


class Unauthorized(ProblemError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(ProblemError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(ProblemError):
    status, title, slug = 404, "Not Found", "not-found"


class Conflict(ProblemError):
    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(ProblemError):
    status, title, slug = 412, "Precondition Failed", "precondition-failed"


class PayloadTooLarge(ProblemError):
    status, title, slug = 413, "Content Too Large", "payload-too-large"


class UnsupportedMediaType(ProblemError):
    status, title, slug = 415, "Unsupported Media Type", "unsupported-media-type"


class InvalidInput(ProblemError):
    status, title, slug = 422, "Unprocessable Content", "invalid-input"


class ServiceUnavailable(ProblemError):
    status, title, slug = 503, "Service Unavailable", "service-unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    """The database refused or lost the connection (down, restarting, shutting down): nothing was committed."""

    slug = "database-unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The database is not reachable right now; nothing was written. Retry shortly.",
            headers={"Retry-After": "5"},
        )


# SQLSTATE classes of a lost or refused connection: 08 (connection exception), 57P (the server shutting down,
# crashed, or still starting up) and 53300 (too_many_connections: the server's or the role's connection limit, the
# connection budget of docs/operations.md, is spent).
_CONNECTION_SQLSTATES = ("08", "57P", "53300")


def database_away(exc: BaseException) -> bool:
    """Whether `exc` is the database being unreachable (rather than refusing what was asked of it); a pool whose every
    connection stayed busy for `database_pool_timeout` counts: the caller should come back, as for a lost server."""
    if isinstance(exc, DatabaseUnavailable | OperationalError | InterfaceError | PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or ""
    return bool(exc.connection_invalidated) or str(sqlstate).startswith(_CONNECTION_SQLSTATES)


class FieldError(BaseModel):
    """One invalid field of a request: where it is and what is wrong with it."""

    loc: list[str | int] = Field(
        description="The path to the field: `body`, `query`, `header` or `path`, then names and indexes.",
        examples=[["body", "facts", "verified_investment_yuan"]],
    )
    msg: str = Field(description="What is wrong, in words meant for the caller.")


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is answered (`application/problem+json`).

    Problems of some types carry more fields; those types have schemas of their own that extend this one."""

    type: str = Field(
        description="The kind of problem, a path under `/problems/`; stable, for programs to branch on.",
        examples=["/problems/not-found"],
    )
    title: str = Field(description="The kind of problem in words; the same for every problem of its type.")
    status: int = Field(description="The HTTP status of the response.", examples=[404])
    detail: str = Field(description="What went wrong with this request, and how to put it right.")
    instance: str = Field(
        description="The path the caller called (through the gateway, `/api/v1/<service>/…`).",
        examples=["/api/v1/registry/enterprises/91500103MA5U7XXXXH"],
    )
    request_id: str | None = Field(description="The request's id, as `X-Request-ID`; quote it when reporting.")
    errors: list[FieldError] | None = Field(
        default=None, description="For invalid input: each field that is wrong, with why."
    )


def problem_components() -> dict[str, dict[str, Any]]:
    """The OpenAPI component schemas of `Problem` and what it refers to, by name."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions: dict[str, dict[str, Any]] = schema.pop("$defs", {})
    return {**definitions, "Problem": schema}


def field_error(loc: Sequence[str | int], msg: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg}


def problem_response(
    request: Request,
    *,
    status: int,
    title: str,
    slug: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": caller_path(request),
        "request_id": current_request_id(),
    }
    if errors is not None:
        body["errors"] = errors
    if extensions:
        body.update(extensions)
    return SafeJSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


# The gateway names the prefix it maps onto the service; anything else in the header is not a path of ours.
_FORWARDED_PREFIX = re.compile(r"/api/v1/[a-z][a-z0-9-]{0,30}")


def caller_path(request: Request) -> str:
    """The path the caller called: behind the gateway, its `/api/v1/<service>` prefix and the service's path."""
    prefix = request.headers.get("x-forwarded-prefix", "")
    path = request.url.path
    return prefix + path if _FORWARDED_PREFIX.fullmatch(prefix) else path


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on the request's path (Starlette's 405 names only the first
    route's, when GET and POST of one path are two routes), asked of the routes as routing itself would."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]


def safe_json(content: Any) -> bytes:
    """`content` as compact JSON in UTF-8 (as JSONResponse writes it), or with ASCII escapes when a string holds an
    unpaired surrogate a caller sent, which UTF-8 cannot carry."""
    try:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


class SafeJSONResponse(JSONResponse):
    """JSON that can always be sent (see safe_json)."""

    def render(self, content: Any) -> bytes:
        return safe_json(content)


_STATUS_SLUGS = {
    400: ("Bad Request", "bad-request"),
    401: ("Unauthorized", "unauthorized"),
    403: ("Forbidden", "forbidden"),
    404: ("Not Found", "not-found"),
    405: ("Method Not Allowed", "method-not-allowed"),
    406: ("Not Acceptable", "not-acceptable"),
    413: ("Content Too Large", "payload-too-large"),
    415: ("Unsupported Media Type", "unsupported-media-type"),
}


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(value: str) -> str:
    """`value` with what PostgreSQL text and JSON cannot hold (NUL, unpaired surrogates) replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", value)


def clean_message(msg: str) -> str:
    """Pydantic prefixes our validators' messages with "Value error, "; the caller needs only the message."""
    return storable_text(msg.removeprefix("Value error, "))


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Only loc and msg: pydantic's `input`/`ctx` may hold values that are not JSON (Decimal, bytes).
    return [
        {
            "loc": [storable_text(part) if isinstance(part, str) else part for part in err.get("loc", ())],
            "msg": clean_message(str(err.get("msg", ""))),
        }
        for err in exc.errors()
    ]


def render_problem(request: Request, exc: ProblemError) -> JSONResponse:
    return problem_response(
        request,
        status=exc.status,
        title=exc.title,
        slug=exc.slug,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extensions=exc.extensions,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return render_problem(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            return problem_response(
                request,
                status=400,
                title="Bad Request",
                slug="malformed-json",
                detail="The request body is not valid JSON.",
                errors=errors,
            )
        return problem_response(
            request,
            status=422,
            title="Unprocessable Content",
            slug="invalid-input",
            detail="The request is invalid: see `errors` for each field.",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title, slug = _STATUS_SLUGS.get(exc.status_code, ("Error", "http-error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No resource at {caller_path(request)}."
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
            detail = f"Method {request.method} is not allowed on {caller_path(request)}; it answers {headers['Allow']}."
        return problem_response(request, status=exc.status_code, title=title, slug=slug, detail=detail, headers=headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # Checks in code come first; this is the database refusing a write that raced with another one.
        logger.warning("integrity error", exc_info=exc)
        return problem_response(
            request,
            status=409,
            title="Conflict",
            slug="conflict",
            detail="The write conflicts with data written at the same time; nothing was written. Retry the request.",
        )

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # Validation comes first; this is the database refusing a value no validator caught.
        logger.warning("data error", exc_info=exc)
        return problem_response(
            request,
            status=422,
            title="Unprocessable Content",
            slug="invalid-input",
            detail="A value could not be stored as sent (for example a NUL character); nothing was written.",
        )

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        # Integrity and data errors have their own handlers; of the rest, a lost database is a 503, others a bug.
        if not database_away(exc):
            raise exc
        logger.error("database unavailable", exc_info=exc)
        return render_problem(request, DatabaseUnavailable())

    # Anything else reaches last_resort_response, in shared.middleware.ServiceMiddleware: a 500 problem.


def last_resort_response(request: Request, exc: Exception) -> JSONResponse:
    """The answer to an exception no handler took (raised in middleware, or re-raised): never an HTML page or a bare
    500. The database being away is still a 503; a problem raised outside the routes is still that problem."""
    if database_away(exc):
        logger.error("database unavailable", exc_info=exc)
        problem: ProblemError = exc if isinstance(exc, DatabaseUnavailable) else DatabaseUnavailable()
    elif isinstance(exc, ProblemError):
        problem = exc
    else:
        logger.error("unhandled error", exc_info=exc)
        problem = ProblemError("An unexpected error occurred; quote the request id when reporting it.")
    return render_problem(request, problem)
