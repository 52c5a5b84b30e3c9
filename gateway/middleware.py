"""The gateway's outermost ASGI middleware: request ids, trace context, client identity, access log, metrics,
last-resort problem.

The gateway always makes the system's request id (what problems, logs and audit rows carry, and what the
services receive under the signature); a caller's acceptable `X-Request-ID` is kept beside it as the client's id
and echoed back on the response, as the API promises.
"""

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.client import CLIENT_KEY, ForwardedHeader, Network, identify
from gateway.metrics import GatewayMetrics
from shared.errors import last_resort_response
from shared.logging import get_logger
from shared.metrics import method_label
from shared.requestid import REQUEST_ID_HEADER, acceptable, make_request_id, reset_request_id, set_request_id
from shared.tracing import edge_context, end_server_span, reset_trace, set_trace, start_server_span

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

logger = get_logger("gateway.access")

# Set in the scope by the proxy (the upstream's route template) or read from Starlette's matched route.
ROUTE_KEY = "gateway.route"
# Set in the scope by the proxy: the caller's role and key id, for the access log (never the key itself).
CALLER_KEY = "gateway.caller"

_FORWARDED_PREFIX = b"x-forwarded-prefix"
_SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff")]


def route_label(scope: Scope) -> str:
    label = scope.get(ROUTE_KEY)
    if isinstance(label, str):
        return label
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class GatewayMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: GatewayMetrics,
        trusted_proxies: Sequence[Network] = (),
        forwarded_header: ForwardedHeader = "x-forwarded-for",
        tracer: "Tracer | None" = None,
    ) -> None:
        """`tracer`: when OpenTelemetry spans are exported (configured as the edge: shared.tracing), each request
        is a server span, sampled by the gateway's own sampler."""
        self.app = app
        self.tracer = tracer
        self.metrics = metrics
        self.trusted_proxies = tuple(trusted_proxies)
        self.forwarded_header = forwarded_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        candidate = None
        claimed_prefix = False
        for key, value in scope["headers"]:
            if key == b"x-request-id" and candidate is None:
                candidate = value.decode("latin-1")
            claimed_prefix = claimed_prefix or key == _FORWARDED_PREFIX
        if claimed_prefix:
            # Only the gateway says under which prefix a path is (gateway/proxy.py): a caller's would otherwise put
            # itself in front of the `instance` of the gateway's own problems (shared.errors.caller_path).
            scope["headers"] = [(key, value) for key, value in scope["headers"] if key != _FORWARDED_PREFIX]
        client_request_id = acceptable(candidate)
        request_id = make_request_id()
        echoed = (client_request_id or request_id).encode()
        token = set_request_id(request_id, client_request_id)
        # The caller's trace continued (or a new one), for the log lines and every request sent upstream; whether it
        # is sampled is the gateway's decision, never the caller's.
        trace = (
            edge_context(scope["headers"])
            if self.tracer is None
            else start_server_span(self.tracer, scope["headers"], method_label(scope["method"]))
        )
        trace_token = set_trace(trace)
        scope.setdefault("state", {})["request_id"] = request_id
        identity = scope[CLIENT_KEY] = identify(scope, self.trusted_proxies, self.forwarded_header)
        started = time.perf_counter()
        holder = {"status": 500, "started": False}
        self.metrics.in_flight.inc()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                holder["status"] = message["status"]
                holder["started"] = True
                message["headers"] = [
                    *[(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"],
                    (REQUEST_ID_HEADER.lower().encode(), echoed),
                    *_SECURITY_HEADERS,
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # the last resort: never an HTML page or a bare 500
            if holder["started"]:
                logger.warning("response broken off", error=type(exc).__name__, detail=str(exc)[:200])
                raise
            await last_resort_response(Request(scope), exc)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.in_flight.dec()
            route = route_label(scope)
            status = int(holder["status"])
            self.metrics.observe(scope["method"], route, status, elapsed)
            if trace.span is not None:
                end_server_span(trace, method_label(scope["method"]), route, status)
            caller = scope.get(CALLER_KEY)
            logger.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                caller=caller if isinstance(caller, str) else None,
                client=identity.address,
                peer=identity.peer,
                forwarded_for=identity.forwarded_for,
                request_id=request_id,
                client_request_id=client_request_id,
            )
            reset_trace(trace_token)
            reset_request_id(token)
