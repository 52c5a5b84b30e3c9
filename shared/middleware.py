"""One pure-ASGI middleware for every service: request ids and the trace context, the signed request's verification,
access log and metrics, last-resort 500."""

import hashlib
import time
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, cast

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import SignedRequest, fresh_timestamp, verify_principal
from shared.bodies import BodyTooLarge, ClientGone, body_chunks
from shared.errors import (
    BadRequest,
    PayloadTooLarge,
    ProblemError,
    Unauthorized,
    last_resort_response,
    problem_response,
)
from shared.logging import get_logger
from shared.metrics import UNMATCHED_ROUTE, ServiceMetrics, reset_metrics, set_metrics
from shared.nonces import NonceStore
from shared.requestid import (
    CLIENT_REQUEST_ID_HEADER,
    acceptable,
    make_request_id,
    reset_request_id,
    set_request_id,
)
from shared.tracing import end_server_span, from_headers, reset_trace, set_trace, start_server_span

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

logger = get_logger("access")

# A replayed read within the window answers what the captured request could already read, and the gateway retries a
# bodiless read once with the same headers when its connection could not be used: only writes spend a nonce (and
# not the POSTs a service names as computations that write nothing, for the same reason).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CLIENT_REQUEST_ID = CLIENT_REQUEST_ID_HEADER.lower()


class ServiceMiddleware:
    """`audience` is this service's name, which the signature must name; a body is read (up to `body_limits` for
    its path, else `max_body_bytes`) and hashed before the app sees it, and replayed to the app from memory.
    `computations`: POST paths that only compute an answer from their body and write nothing (a replay is answered
    again, as a read would be), so they spend no nonce. `previous_secret`: during a rotation of the internal secret,
    the value being replaced, still accepted ("" outside a rotation). `metrics`: where each request is counted.
    `tracer`: when OpenTelemetry spans are exported (shared.tracing.configure_tracing), each request is a span."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: str,
        previous_secret: str = "",
        max_age_seconds: int,
        audience: str,
        nonces: NonceStore,
        max_body_bytes: int,
        body_limits: Mapping[str, int] | None = None,
        computations: Collection[str] = (),
        unsigned_paths: Collection[str] = ("/healthz", "/readyz", "/metrics"),
        metrics: ServiceMetrics | None = None,
        tracer: "Tracer | None" = None,
    ) -> None:
        self.app = app
        self.secret = secret
        self.previous_secret = previous_secret
        self.metrics = metrics
        self.tracer = tracer
        self.max_age_seconds = max_age_seconds
        self.audience = audience
        self.nonces = nonces
        self.max_body_bytes = max_body_bytes
        self.body_limits = dict(body_limits or {})
        self.computations = frozenset(computations)
        self.unsigned_paths = frozenset(unsigned_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Until a signature vouches for the gateway's id, the request has one made here.
        made_id = make_request_id()
        token = set_request_id(made_id)
        # The caller's trace (the gateway's, or another service's) continued: logged, and passed on by shared.http.
        trace = (
            from_headers(scope["headers"])
            if self.tracer is None
            else start_server_span(self.tracer, scope["headers"], scope["method"])
        )
        trace_token = set_trace(trace)
        metrics_token = set_metrics(self.metrics)
        started = time.perf_counter()
        holder: dict[str, object] = {"status": 500, "started": False, "response_id": made_id}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                holder["status"] = message["status"]
                holder["started"] = True
                message["headers"] = [
                    *[(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"],
                    (b"x-request-id", str(holder["response_id"]).encode()),
                ]
            await send(message)

        request = Request(scope)
        try:
            if scope["path"] not in self.unsigned_paths:
                headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
                try:
                    signed, receive = await self._verify(scope, receive, headers)
                except ClientGone:
                    holder["status"] = 499
                    return
                except ProblemError as exc:
                    response = problem_response(
                        request,
                        status=exc.status,
                        title=exc.title,
                        slug=exc.slug,
                        detail=exc.detail,
                        headers=exc.headers or None,
                    )
                    await response(scope, receive, send_with_id)
                    return
                system_id = acceptable(signed.request_id) or made_id
                client_id = acceptable(headers.get(_CLIENT_REQUEST_ID))
                set_request_id(system_id, client_id)  # undone with the first token, below
                # The caller sees its own id if it sent one (API.md), the operators find the system's.
                holder["response_id"] = client_id or system_id
                scope.setdefault("state", {})["principal"] = signed.principal
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # the last resort: never an HTML page or a bare 500
            if holder["started"]:
                logger.exception("response broken off", exc_info=exc)
            else:
                await last_resort_response(request, exc)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            status = cast(int, holder["status"])
            template = getattr(scope.get("route"), "path", None)
            route = template if isinstance(template, str) else UNMATCHED_ROUTE
            if self.metrics is not None:
                self.metrics.observe(scope["method"], route, status, elapsed)
            if trace.span is not None:
                end_server_span(trace, scope["method"], route, status)
            logger.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            reset_metrics(metrics_token)
            reset_trace(trace_token)
            reset_request_id(token)

    async def _verify(self, scope: Scope, receive: Receive, headers: dict[str, str]) -> tuple[SignedRequest, Receive]:
        """The verified signature and a `receive` that replays the body read to verify it."""
        fresh_timestamp(headers, self.max_age_seconds)  # before any body is read
        path: str = scope["path"]
        limit = self.body_limits.get(path, self.max_body_bytes)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise BadRequest("The Content-Length header is not a number.")
            if int(length) > limit:
                raise PayloadTooLarge(f"The request body is {int(length)} bytes; at most {limit} are accepted here.")
        chunks: list[bytes] = []
        digest = hashlib.sha256()
        try:
            async for chunk in body_chunks(receive, limit):
                digest.update(chunk)
                chunks.append(chunk)
        except BodyTooLarge:
            raise PayloadTooLarge(f"The request body is larger than the {limit} bytes accepted here.") from None
        query: bytes = scope["query_string"]
        target = path + (f"?{query.decode('latin-1')}" if query else "")
        signed = verify_principal(
            self.secret,
            self.max_age_seconds,
            scope["method"],
            target,
            headers,
            audience=self.audience,
            body_sha256=digest.hexdigest(),
            previous_secret=self.previous_secret,
        )
        spends_nonce = scope["method"] not in SAFE_METHODS and path not in self.computations
        if spends_nonce and not await self.nonces.accept(scope, signed.nonce, signed.timestamp):
            raise Unauthorized("This signed request was already used; every request is signed afresh by the gateway.")
        return signed, _replay(chunks, receive)


def _replay(chunks: list[bytes], receive: Receive) -> Receive:
    """The body as it arrived, piece by piece (each piece let go once handed on), then the connection's own events."""
    pieces = chunks or [b""]
    index = 0

    async def replayed() -> Message:
        nonlocal index
        if index < len(pieces):
            body, pieces[index] = pieces[index], b""
            index += 1
            return {"type": "http.request", "body": body, "more_body": index < len(pieces)}
        return await receive()

    return replayed
