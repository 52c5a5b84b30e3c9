"""The streaming reverse proxy: `/api/v1/<service>/<path>` onto the service, with the caller's principal signed.

One aiohttp session per upstream (gateway/upstream.py, made in the lifespan) carries the proxied requests and the
gateway's own (readiness, OpenAPI documents). Response bodies are streamed, request bodies are read whole first (so
that a caller trickling one holds no upstream connection), hop-by-hop headers are dropped, `Forwarded` and
`X-Forwarded-For` are set (and `X-Forwarded-Prefix`, the `/api/v1/<service>` the service's paths are under for the
caller, which it puts in front of a problem's `instance`), no cookies are kept and timeouts are explicit. A bodiless
safe request is tried once more when no connection could be made; aiohttp itself sends an idempotent request (GET,
HEAD, OPTIONS, PUT, DELETE) once more when its connection closes before an answer. A POST or PATCH is never sent
twice.

Each upstream's circuit breaker (gateway/breaker.py) counts the exchanges that got no usable answer; while it is open
the upstream's routes answer a 503 at once (with Retry-After), before any body is read. Every request sent on carries
a `traceparent` of the gateway's own hop in the caller's trace (or a new one: shared.tracing), as a client span when
spans are exported. The services' operational paths (/healthz, /readyz, /metrics) and their own documents are not
served through the gateway: 404, nor are their internal feeds (/outbox/…, the notifications relay's).
"""

import asyncio
import time
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import quote, quote_from_bytes

import aiohttp
from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from yarl import URL

from gateway.access import ALL_METHODS, SAFE_METHODS, rule_for
from gateway.authn import KeyAuthenticator
from gateway.breaker import CircuitOpen, Outcome
from gateway.client import client_of, limited_unit
from gateway.fairness import BodyBudget, ConcurrencyCap, FailureBlocks
from gateway.metrics import GatewayMetrics
from gateway.middleware import CALLER_KEY, ROUTE_KEY
from gateway.openapi import SpecCache
from gateway.ratelimit import RateLimiter, retry_after_header
from gateway.settings import SERVICE_NAMES, GatewaySettings
from gateway.upstream import PoolExhausted, Upstream
from shared.auth import PRINCIPAL_HEADERS, Principal, Role, sign_principal
from shared.bodies import BodyTooLarge, ClientGone, body_chunks
from shared.errors import problem_response
from shared.logging import get_logger
from shared.requestid import CLIENT_REQUEST_ID_HEADER, REQUEST_ID_HEADER, current_client_request_id, current_request_id
from shared.server import server_settings
from shared.tracing import TRACEPARENT_HEADER, client_span

logger = get_logger("gateway.proxy")

API_PREFIX = "/api/v1"
# Where the service's paths are for the caller (shared.errors.caller_path): set by the gateway, never passed on.
FORWARDED_PREFIX_HEADER = "x-forwarded-prefix"
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Request headers the gateway never passes on: its own concerns, or ones it sets itself.
_REQUEST_DROP = frozenset(
    name.encode("latin-1")
    for name in HOP_BY_HOP
    | {
        "host",
        "authorization",
        "expect",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        FORWARDED_PREFIX_HEADER,
        REQUEST_ID_HEADER.lower(),
        CLIENT_REQUEST_ID_HEADER.lower(),
        # The gateway sends a traceparent of its own hop (below); a caller's tracestate is not carried on, as the
        # trace may be a new one and no service passes it further.
        TRACEPARENT_HEADER,
        "tracestate",
        *(name.lower() for name in PRINCIPAL_HEADERS),
    }
)
# Response headers the gateway does not pass back: hop-by-hop, the upstream's banner, date (the gateway sets
# its own) and request id.
_RESPONSE_DROP = frozenset(
    name.encode("latin-1") for name in HOP_BY_HOP | {"server", "date", REQUEST_ID_HEADER.lower()}
)
_CLIENT_REQUEST_ID = CLIENT_REQUEST_ID_HEADER.lower()
ANONYMOUS = Principal(Role.ANONYMOUS)
# A query is passed on as it came, but for bytes outside printable ASCII, which are percent-encoded (and signed so).
_QUERY_SAFE = "".join(chr(code) for code in range(0x21, 0x7F))


@dataclass(slots=True)
class GatewayState:
    settings: GatewaySettings
    # The deployed services, by name.
    upstreams: dict[str, Upstream]
    authenticator: KeyAuthenticator
    limiter: RateLimiter
    metrics: GatewayMetrics
    specs: SpecCache
    concurrency: ConcurrencyCap
    auth_failures: FailureBlocks
    bodies: BodyBudget


class _Refused(Exception):
    """A problem the proxy answers itself; `upstream_failed` when the upstream gave no usable answer (what its
    circuit breaker counts)."""

    def __init__(
        self,
        status: int,
        title: str,
        slug: str,
        detail: str,
        headers: dict[str, str] | None = None,
        *,
        upstream_failed: bool = False,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.slug, self.detail, self.headers = status, title, slug, detail, headers
        self.upstream_failed = upstream_failed


def _not_found(detail: str) -> _Refused:
    return _Refused(404, "Not Found", "not-found", detail)


def _body_limit(settings: GatewaySettings, path: str) -> int:
    return settings.max_import_body_bytes if path.rstrip("/").endswith("/import") else settings.max_body_bytes


# Set in the scope while a request holds one of its client's concurrent places (released by `proxy`).
_HELD_KEY = "gateway.held"
# Set in the scope while a request's body holds bytes of the process's body budget (released by `proxy`).
_BUDGET_KEY = "gateway.body_budget"
# Set in the scope by `_authenticate` for a caller with a valid key: whose concurrent places it uses.
_CLIENT_BUCKET_KEY = "gateway.client_bucket"


def _client_address(scope: Scope) -> str:
    """The unit the per-address limits count (gateway/client.py)."""
    return limited_unit(client_of(scope).address)


async def _authenticate(state: GatewayState, headers: dict[str, str], scope: Scope) -> Principal:
    """The caller's principal, after taking a token from its bucket; a presented key that is not valid is a 401."""
    settings = state.settings
    address = _client_address(scope)
    authorization = headers.get("authorization")
    if authorization is None:
        await _charge(
            state,
            f"ip:{address}",
            settings.anonymous_rate_limit_per_second,
            settings.anonymous_rate_limit_burst,
            "anonymous",
        )
        return ANONYMOUS
    blocked = state.auth_failures.remaining(address)
    if blocked > 0:
        state.metrics.rate_limited.labels("auth_failure").inc()
        raise _Refused(
            429,
            "Too Many Requests",
            "auth-failures",
            f"Too many failed authentications from this address; at most {settings.auth_failure_burst} at once and "
            f"{settings.auth_failure_per_second:g} per second. Retry after the time given.",
            {"Retry-After": retry_after_header(blocked)},
        )
    scheme, _, token = authorization.partition(" ")
    record = await state.authenticator.authenticate(token.strip()) if scheme.lower() == "bearer" else None
    if record is None:
        # Guessing keys costs the caller's address its anonymous tokens, and a token of its failure bucket; once
        # that is empty, the address's next keys are refused unseen (above) until a token is back.
        failure = await state.limiter.take(
            f"authfail:{address}", settings.auth_failure_per_second, settings.auth_failure_burst
        )
        if not failure.allowed or failure.remaining == 0:
            state.auth_failures.block(
                address, failure.retry_after if not failure.allowed else 1 / settings.auth_failure_per_second
            )
        await _charge(
            state,
            f"ip:{address}",
            settings.anonymous_rate_limit_per_second,
            settings.anonymous_rate_limit_burst,
            "anonymous",
        )
        detail = (
            "The API key is not valid or has been revoked."
            if scheme.lower() == "bearer"
            else "Send the API key as `Authorization: Bearer <key>`."
        )
        raise _Refused(
            401, "Unauthorized", "unauthorized", detail, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    await _charge(state, f"key:{record.key_id}", settings.rate_limit_per_second, settings.rate_limit_burst, "key")
    scope[CALLER_KEY] = f"{record.principal.label}/{record.key_id}"
    scope[_CLIENT_BUCKET_KEY] = f"key:{record.key_id}"
    return record.principal


def _hold(state: GatewayState, scope: Scope) -> None:
    """Take one of the client's concurrent places for the rest of the request (429 when none is free)."""
    client = scope.get(_CLIENT_BUCKET_KEY) or f"ip:{_client_address(scope)}"
    if not state.concurrency.try_acquire(client):
        state.metrics.rate_limited.labels("concurrency").inc()
        limit = state.settings.max_concurrent_per_client
        raise _Refused(
            429,
            "Too Many Requests",
            "too-many-concurrent",
            f"This client already has {limit} requests in flight, the most allowed at once; retry when one is done.",
            {"Retry-After": "1"},
        )
    scope[_HELD_KEY] = client


async def _charge(state: GatewayState, bucket: str, rate: float, burst: int, caller: str) -> None:
    decision = await state.limiter.take(bucket, rate, burst)
    if not decision.allowed:
        state.metrics.rate_limited.labels(caller).inc()
        raise _Refused(
            429,
            "Too Many Requests",
            "rate-limited",
            f"Too many requests; at most {burst} at once and {rate:g} per second. Retry after the time given.",
            {"Retry-After": retry_after_header(decision.retry_after)},
        )


def _upstream_headers(
    raw_headers: list[tuple[bytes, bytes]], scope: Scope, signed: dict[str, str], service: str
) -> list[tuple[str, str]]:
    """The headers to send on (names lower case, values as received, decoded as Latin-1 as HTTP headers are)."""
    connection_tokens: set[bytes] = set()
    host = b""
    for key, value in raw_headers:
        name = key.lower()
        if name == b"connection":
            connection_tokens.update(
                token.strip().lower().encode("latin-1") for token in value.decode("latin-1").split(",")
            )
        elif name == b"host":
            host = value
    out: list[tuple[str, str]] = []
    for key, value in raw_headers:
        name = key.lower()
        if name in _REQUEST_DROP or name in connection_tokens:
            continue
        try:
            # aiohttp writes header values as UTF-8: a value decoded otherwise would reach the service changed.
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise _Refused(
                400,
                "Bad Request",
                "bad-request",
                f"The value of the {name.decode('latin-1')!r} header is not UTF-8 text; it cannot be passed on.",
            ) from None
        out.append((name.decode("latin-1"), text))
    # The client as the gateway identified it (gateway/client.py): a chain the caller claimed is not passed on.
    identity = client_of(scope)
    address, scheme = identity.address, identity.scheme
    node = f'"[{address}]"' if ":" in address else address
    host_text = host.decode("latin-1")
    out.append(("forwarded", f"for={node};proto={scheme}" + (f';host="{host_text}"' if host else "")))
    out.append(("x-forwarded-for", address))
    out.append(("x-forwarded-proto", scheme))
    if host:
        out.append(("x-forwarded-host", host_text))
    out.append((FORWARDED_PREFIX_HEADER, f"{API_PREFIX}/{service}"))
    client_request_id = current_client_request_id()
    if client_request_id is not None:  # the caller's own id; the system's is among the signed headers
        out.append((_CLIENT_REQUEST_ID, client_request_id))
    out.extend((name.lower(), value) for name, value in signed.items())
    # Last, and as long as the one the client span gives it when the request is sent (the head's size is checked
    # before): a refused request makes no span.
    out.append((TRACEPARENT_HEADER, _TRACEPARENT_PLACEHOLDER))
    return out


_TRACEPARENT_PLACEHOLDER = f"00-{'0' * 32}-{'0' * 16}-00"


# What aiohttp adds to the head it sends: `host` and `content-length`, and the request line's framing (bytes).
_CLIENT_HEADERS, _CLIENT_HEAD_BYTES = 2, 512


def _check_fits_upstream(method: str, raw_target: bytes, headers: list[tuple[str, str]]) -> None:
    """A 431 here when the head the gateway would send is beyond the head limits every process applies (the same
    `HTTP_*` settings): the caller's head passed them, but the forwarding and signed headers added to it would not,
    and the service would refuse it with a 431 of its own and a closed connection."""
    limits = server_settings()
    size = (
        len(method)
        + len(raw_target)
        + _CLIENT_HEAD_BYTES
        + sum(len(name) + len(value.encode()) + 4 for name, value in headers)
    )
    if len(headers) + _CLIENT_HEADERS > limits.max_headers or size > limits.max_head_bytes:
        raise _Refused(
            431,
            "Request Header Fields Too Large",
            "request-header-fields-too-large",
            f"With the headers the gateway adds ({len(headers) + _CLIENT_HEADERS} headers, {size} bytes), the request "
            f"is beyond the {limits.max_headers} headers and {limits.max_head_bytes} bytes a service accepts: send "
            "fewer or shorter headers.",
        )


async def proxy(state: GatewayState, scope: Scope, receive: Receive, send: Send) -> None:
    try:
        await _proxy(state, scope, receive, send)
    except _Refused as refusal:
        response = problem_response(
            Request(scope),
            status=refusal.status,
            title=refusal.title,
            slug=refusal.slug,
            detail=refusal.detail,
            headers=refusal.headers,
        )
        await response(scope, receive, send)
    finally:
        held = scope.pop(_HELD_KEY, None)
        if held is not None:  # on every way out: answered, refused, failed, cancelled, the client gone
            state.concurrency.release(held)
        state.bodies.release(scope.pop(_BUDGET_KEY, 0))


# Each service's own OpenAPI document and its pages: the gateway serves one merged document (and its own /docs).
SERVICE_DOCUMENTS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
# Each service's operational paths: unsigned there (read by probes and Prometheus on the service's own port), so
# never reached through the gateway, whose own /healthz, /readyz and /metrics are the API's.
SERVICE_OPERATIONS = frozenset({"/healthz", "/readyz", "/metrics"})
# The system's own feeds below a service (the transactional outbox the notifications relay pulls, signed as a
# service): never reached through the gateway, for any key (gateway/access.py's first rule refuses them too).
SERVICE_INTERNAL = frozenset({"outbox"})


def _internal(sub_path: str) -> bool:
    """Whether a path below a service is one of its internal feeds, however it is spelled (`//outbox`, `/./outbox`,
    `/Outbox/`): the first segment that is not empty, `.` or `..` decides."""
    segments = [segment for segment in sub_path.split("/") if segment not in ("", ".", "..")]
    return bool(segments) and segments[0].lower() in SERVICE_INTERNAL


async def _proxy(state: GatewayState, scope: Scope, receive: Receive, send: Send) -> None:
    settings = state.settings
    method: str = scope["method"]
    rest = scope["path"][len(API_PREFIX) :].lstrip("/")
    service, _, below = rest.partition("/")
    sub_path = "/" + below
    if service not in SERVICE_NAMES:
        scope[ROUTE_KEY] = f"{API_PREFIX}/{{service}}"
        raise _not_found(
            f"No service named {service!r}; the API has " + ", ".join(f"{API_PREFIX}/{n}" for n in SERVICE_NAMES) + "."
        )
    if sub_path.rstrip("/") in SERVICE_DOCUMENTS:
        scope[ROUTE_KEY] = f"{API_PREFIX}/{service}/{{document}}"
        raise _not_found("The services' own documents are not served: the API's document is /openapi.json (/docs).")
    if sub_path.rstrip("/") in SERVICE_OPERATIONS:
        scope[ROUTE_KEY] = f"{API_PREFIX}/{service}/{{operation}}"
        raise _not_found(
            "The services' health, readiness and metrics are not served through the API: the gateway's own are "
            "/healthz, /readyz and /metrics."
        )
    if _internal(sub_path):
        scope[ROUTE_KEY] = f"{API_PREFIX}/{service}/{{internal}}"
        raise _not_found(
            "The services' internal feeds are not served through the API: subscribe to the events "
            "with /api/v1/notifications/subscriptions, or read them at /api/v1/notifications/events."
        )
    template = state.specs.template(service, sub_path)
    scope[ROUTE_KEY] = f"{API_PREFIX}/{service}{template or '/{path}'}"

    headers: dict[str, str] = {}
    for key, value in scope["headers"]:
        headers.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))

    if method not in ALL_METHODS:
        raise _method_not_allowed(state, service, sub_path, method, scope["path"])
    limit = _body_limit(settings, sub_path)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise _Refused(400, "Bad Request", "bad-request", "The Content-Length header is not a number.")
        if int(length) > limit:
            raise _Refused(
                413,
                "Content Too Large",
                "payload-too-large",
                f"The request body is {int(length)} bytes; at most {limit} are accepted here.",
            )

    principal = await _authenticate(state, headers, scope)
    rule = rule_for(service, method, sub_path)
    if rule is None:  # no rule covers a method in ALL_METHODS only if the table is incomplete
        raise _method_not_allowed(state, service, sub_path, method, scope["path"])
    if principal.role not in rule.roles:
        if principal.role is Role.ANONYMOUS:
            raise _Refused(
                401,
                "Unauthorized",
                "unauthorized",
                "An API key is required: send `Authorization: Bearer <key>`.",
                {"WWW-Authenticate": "Bearer"},
            )
        raise _Refused(403, "Forbidden", "forbidden", f"The {principal.role} role may not do this: {rule.why}.")
    _hold(state, scope)

    upstream = state.upstreams.get(service)
    if upstream is None:
        state.metrics.upstream_errors.labels(service, "not_deployed").inc()
        raise _Refused(
            503,
            "Service Unavailable",
            "service-unavailable",
            f"The {service} service is not deployed behind this gateway.",
        )
    if template is None:
        state.specs.warm(service)

    query: bytes = scope["query_string"]
    has_body = (length is not None and length != "0") or "transfer-encoding" in headers
    query_text = quote_from_bytes(query, safe=_QUERY_SAFE)
    target = sub_path + (f"?{query_text}" if query else "")
    raw_target = (quote(sub_path, safe="/:@!$&'()*+,;=-._~") + (f"?{query_text}" if query else "")).encode("ascii")

    body: bytes | None = None
    if has_body:
        # Refused before the body is read (and its bytes reserved) when the circuit would refuse it after.
        if (cooling := upstream.breaker.retry_after()) > 0:
            _circuit_refusal(state, service, CircuitOpen(cooling))
        # The bytes the body may take, reserved before any is read (a chunked body: as many as its limit allows).
        reserved = int(length) if length is not None else limit
        if not state.bodies.try_reserve(reserved):
            state.metrics.rate_limited.labels("body_budget").inc()
            raise _Refused(
                503,
                "Service Unavailable",
                "gateway-busy",
                "The gateway holds as many request bodies as it takes at once; nothing was sent on, retry shortly.",
                {"Retry-After": "2"},
            )
        scope[_BUDGET_KEY] = reserved
        try:
            async with asyncio.timeout(settings.body_timeout):
                body = b"".join([chunk async for chunk in body_chunks(receive, limit)])
        except TimeoutError:
            raise _Refused(
                408,
                "Request Timeout",
                "request-timeout",
                f"The request body did not arrive in full within {settings.body_timeout:g} seconds.",
                {"Connection": "close"},
            ) from None
        except BodyTooLarge:
            raise _Refused(
                413,
                "Content Too Large",
                "payload-too-large",
                f"The request body is larger than the {limit} bytes accepted here.",
            ) from None
        except ClientGone:
            logger.info("client went away before its body was read", upstream=service)
            return

    # Signed once the body is here: the signature covers its hash, the service meant and the system's request id.
    signed = sign_principal(
        settings.internal.secret,
        method,
        target,
        principal,
        audience=service,
        body=body or b"",
        request_id=current_request_id() or "",
    )
    upstream_headers = _upstream_headers(scope["headers"], scope, signed, service)
    _check_fits_upstream(method, raw_target, upstream_headers)
    # The target is appended to the service's origin as it came, never joined to it: a join would read a target
    # beginning with `//` as another host (and resolve `..`), sending the signed request wherever the caller chose.
    url = URL(str(upstream.origin) + raw_target.decode("ascii"), encoded=True)
    retryable = method in SAFE_METHODS and not has_body
    breaker = upstream.breaker
    try:
        ticket = breaker.admit()
    except CircuitOpen as refusal:
        _circuit_refusal(state, service, refusal)
    # Settled once: a success when the answer's head is here, a failure when none came, abandoned otherwise.
    outcome: Outcome | None = Outcome.ABANDONED
    try:
        with client_span(service, method, sub_path) as call:
            upstream_headers[-1] = (TRACEPARENT_HEADER, call.traceparent)
            async with upstream.connection_slot() as session:
                try:
                    response = await _exchange(state, service, session, method, url, upstream_headers, body, retryable)
                except _Refused as refusal:
                    if refusal.upstream_failed:
                        outcome = Outcome.FAILED
                    raise
                breaker.settle(ticket, Outcome.SUCCEEDED)
                outcome = None
                call.answered(response.status)
                try:
                    await _relay(state, service, response, send)
                finally:
                    response.release()
    except PoolExhausted:
        state.metrics.upstream_errors.labels(service, "pool_exhausted").inc()
        raise _Refused(
            503,
            "Service Unavailable",
            "upstream-busy",
            f"Every connection to the {service} service stayed busy for {settings.upstream_pool_timeout:g} "
            "seconds; try again shortly.",
            {"Retry-After": "1"},
        ) from None
    finally:
        if outcome is not None:
            breaker.settle(ticket, outcome)


def _method_not_allowed(state: GatewayState, service: str, sub_path: str, method: str, path: str) -> _Refused:
    """A 405 for a method the gateway never passes on: `Allow` names the methods the service's document has for the
    path (no `Allow` while that document is not here: the gateway does not guess)."""
    allowed = state.specs.allowed_methods(service, sub_path)
    if allowed is None:
        state.specs.warm(service)
        return _Refused(405, "Method Not Allowed", "method-not-allowed", f"Method {method} is not allowed on {path}.")
    answered = ", ".join(allowed)
    return _Refused(
        405,
        "Method Not Allowed",
        "method-not-allowed",
        f"Method {method} is not allowed on {path}; it answers {answered or 'no method'}.",
        {"Allow": answered},
    )


def _circuit_refusal(state: GatewayState, service: str, refusal: CircuitOpen) -> NoReturn:
    state.metrics.upstream_errors.labels(service, "circuit_open").inc()
    raise _Refused(
        503,
        "Service Unavailable",
        "upstream-unavailable",
        f"The {service} service failed repeatedly and is given time to recover; it is tried again shortly.",
        {"Retry-After": refusal.retry_after_header},
    ) from None


async def _exchange(
    state: GatewayState,
    service: str,
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    headers: list[tuple[str, str]],
    body: bytes | None,
    retryable: bool,
) -> aiohttp.ClientResponse:
    """Send the request and wait for the answer's head (its failures answered as problems); a `retryable` request is
    tried a second time when no connection could be made."""
    settings = state.settings
    retried = not retryable
    started = time.perf_counter()
    while True:
        try:
            response = await session.request(method, url, headers=headers, data=body, allow_redirects=False)
        except aiohttp.ConnectionTimeoutError:
            state.metrics.upstream_errors.labels(service, "connect_timeout").inc()
            raise _Refused(
                503,
                "Service Unavailable",
                "upstream-unavailable",
                f"The {service} service did not accept a connection within {settings.upstream_connect_timeout:g} "
                "seconds.",
                upstream_failed=True,
            ) from None
        except aiohttp.ServerTimeoutError as exc:
            state.metrics.upstream_errors.labels(service, "timeout").inc()
            logger.warning("upstream timeout", upstream=service, error=type(exc).__name__)
            detail = f"The {service} service sent no answer for {settings.upstream_read_timeout:g} seconds."
            raise _Refused(504, "Gateway Timeout", "upstream-timeout", detail, upstream_failed=True) from None
        except aiohttp.ClientConnectorError as exc:  # refused or unreachable: a bodiless read tries once more
            if not retried:
                retried = True
                await asyncio.sleep(0.05)
                continue
            _unreachable(state, service, "unreachable", exc)
        except aiohttp.ClientConnectionError as exc:
            # Closed or reset before an answer (a read has been sent once more by aiohttp already; a write never is:
            # gateway/upstream.py, WriteNotResent).
            _unreachable(state, service, "broken", exc)
        except aiohttp.ClientError as exc:  # an answer that is not valid HTTP
            state.metrics.upstream_errors.labels(service, "error").inc()
            logger.warning("upstream error", upstream=service, error=type(exc).__name__)
            raise _Refused(
                502, "Bad Gateway", "bad-gateway", f"The {service} service gave no usable answer.", upstream_failed=True
            ) from None
        state.metrics.upstream_latency.labels(service).observe(time.perf_counter() - started)
        return response


def _unreachable(state: GatewayState, service: str, kind: str, error: Exception) -> NoReturn:
    state.metrics.upstream_errors.labels(service, kind).inc()
    logger.warning("upstream unreachable", upstream=service, error=type(error).__name__)
    raise _Refused(
        503,
        "Service Unavailable",
        "upstream-unavailable",
        f"The {service} service is not reachable; try again shortly.",
        upstream_failed=True,
    ) from None


# Response headers naming a path of the service, which the caller reaches under the service's prefix.
_PATH_HEADERS = frozenset({b"location", b"content-location"})


def _caller_location(value: bytes, service: str) -> bytes:
    """A path the service named (`/enterprises/…`) as the caller reaches it (`/api/v1/registry/enterprises/…`), as
    a reverse proxy rewrites a redirect; an absolute URL, a `//host` one, or a path already under the prefix as it
    was."""
    prefix = f"{API_PREFIX}/{service}".encode()
    if not value.startswith(b"/") or value.startswith(b"//") or value == prefix or value.startswith(prefix + b"/"):
        return value
    return prefix + value


async def _relay(state: GatewayState, service: str, response: aiohttp.ClientResponse, send: Send) -> None:
    """The answer to the caller: its status, its headers less the hop-by-hop ones (and the paths they name under the
    service's prefix), its body as it arrives."""
    connection_tokens = {
        token.strip().lower().encode("latin-1")
        for name, value in response.raw_headers
        if name.lower() == b"connection"
        for token in value.decode("latin-1").split(",")
        if token.strip()
    }
    headers = [
        (key, _caller_location(value, service) if name in _PATH_HEADERS else value)
        for key, value in response.raw_headers
        if (name := key.lower()) not in _RESPONSE_DROP and name not in connection_tokens
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    try:
        async for chunk in response.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except (aiohttp.ClientError, TimeoutError):
        state.metrics.upstream_errors.labels(service, "broken_response").inc()
        raise
    await send({"type": "http.response.body", "body": b"", "more_body": False})
