"""One pure-ASGI middleware for every service: request id, principal verification, access log, last-resort 500."""

import time
from collections.abc import Collection

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import verify_principal
from shared.errors import ProblemError, last_resort_response, problem_response
from shared.logging import get_logger
from shared.requestid import REQUEST_ID_HEADER, accept_or_make, reset_request_id, set_request_id

logger = get_logger("access")


class ServiceMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: str,
        max_age_seconds: int,
        unsigned_paths: Collection[str] = ("/healthz", "/readyz"),
    ) -> None:
        self.app = app
        self.secret = secret
        self.max_age_seconds = max_age_seconds
        self.unsigned_paths = frozenset(unsigned_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        request_id = accept_or_make(headers.get(REQUEST_ID_HEADER.lower()))
        token = set_request_id(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                message.setdefault("headers", [])
                message["headers"] = [
                    *[(k, v) for k, v in message["headers"] if k.lower() != b"x-request-id"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        request = Request(scope)
        try:
            if scope["path"] not in self.unsigned_paths:
                target = scope["path"] + (
                    f"?{scope['query_string'].decode('latin-1')}" if scope["query_string"] else ""
                )
                try:
                    principal = verify_principal(self.secret, self.max_age_seconds, scope["method"], target, headers)
                except ProblemError as exc:
                    response = problem_response(
                        request, status=exc.status, title=exc.title, slug=exc.slug, detail=exc.detail
                    )
                    await response(scope, receive, send_with_id)
                    return
                scope.setdefault("state", {})["principal"] = principal
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # the last resort: never an HTML page or a bare 500
            if status_holder["started"]:
                logger.exception("response broken off", exc_info=exc)
            else:
                await last_resort_response(request, exc)(scope, receive, send_with_id)
        finally:
            logger.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status_holder["status"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            reset_request_id(token)
