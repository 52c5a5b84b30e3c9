"""W3C Trace Context (`traceparent`) for every hop: the gateway takes a caller's valid trace or starts one, each
service continues it, and every call to another service carries it on with a span id of its own. Whether a trace is
sampled is decided at the gateway, never by the caller (`edge_context`, `configure_tracing(edge=True)`); the services
follow the gateway's decision.

The trace id is logged beside the request id (shared.logging), so one search finds a request's lines in every
service.

OpenTelemetry, optional by configuration: when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, `configure_tracing` sets up the SDK with an OTLP (http/protobuf)
exporter once per process, each service request is a server span (`start_server_span`) and each call to another
service a client span (`client_span`) with the same ids as the headers and the logs. Unset, nothing of the SDK is
imported and a request costs what it did.
"""

import os
import re
import secrets
from collections.abc import Iterable
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.sampling import Sampler
    from opentelemetry.trace import Span, Tracer

TRACEPARENT_HEADER = "traceparent"
# version 00: 2 hex version, 32 hex trace id, 16 hex parent (span) id, 2 hex flags; all-zero ids are invalid.
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_INVALID_TRACE_ID = "0" * 32
_INVALID_SPAN_ID = "0" * 16


@dataclass(frozen=True, slots=True)
class TraceContext:
    trace_id: str
    # This hop's own span: the parent id of every call it makes.
    span_id: str
    sampled: bool = False
    # The OpenTelemetry span of this hop, when spans are exported (its ids are the two above).
    span: "Span | None" = field(default=None, compare=False, repr=False)

    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def child(self) -> "TraceContext":
        """The context of one outgoing call: the same trace, a new span."""
        return TraceContext(self.trace_id, secrets.token_hex(8), self.sampled)


_current: ContextVar[TraceContext | None] = ContextVar("trace_context", default=None)


def parse_traceparent(value: str | None) -> TraceContext | None:
    """The caller's context, as a new span of its trace, or None if `value` is absent or not a valid traceparent
    (an unknown future version is read by its first four fields, as the specification asks)."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip()[:55])
    if match is None:
        return None
    version, trace_id, parent_id, flags = match.groups()
    if version == "ff" or trace_id == _INVALID_TRACE_ID or parent_id == _INVALID_SPAN_ID:
        return None
    if version == "00" and len(value.strip()) != 55:
        return None
    return TraceContext(trace_id, secrets.token_hex(8), bool(int(flags, 16) & 1))


def new_trace() -> TraceContext:
    # Sampled where spans are exported, so that the services the trace reaches record theirs too.
    return TraceContext(secrets.token_hex(16), secrets.token_hex(8), sampled=_tracer is not None)


def from_headers(headers: Iterable[tuple[bytes, bytes]]) -> TraceContext:
    """The context of a request with these (ASGI) headers: the caller's trace continued, or a new one."""
    for name, value in headers:
        if name.lower() == b"traceparent":
            return parse_traceparent(value.decode("latin-1")) or new_trace()
    return new_trace()


def edge_context(headers: Iterable[tuple[bytes, bytes]]) -> TraceContext:
    """`from_headers` at the gateway, where spans are not exported: the caller's trace id continued, its sampling
    decision not (an outside caller must neither force every service to record its requests nor hide them)."""
    context = from_headers(headers)
    return TraceContext(context.trace_id, context.span_id) if context.sampled else context


def current_trace() -> TraceContext | None:
    return _current.get()


def set_trace(context: TraceContext) -> Token[TraceContext | None]:
    return _current.set(context)


def reset_trace(token: Token[TraceContext | None]) -> None:
    _current.reset(token)


def outgoing_traceparent() -> str:
    """The `traceparent` of a call made now: a child of the request being served, or a new trace outside one."""
    context = current_trace()
    return (context.child() if context is not None else new_trace()).traceparent()


# ---- OpenTelemetry (optional) -------------------------------------------------------------------------------------

_tracer: "Tracer | None" = None


def otlp_configured() -> bool:
    """Whether spans are to be exported: the standard OTLP endpoint variables, unless OTEL_SDK_DISABLED=true."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def configure_tracing(service: str, *, edge: bool = False) -> "Tracer | None":
    """The process's tracer, set up on the first call when OTLP is configured (else None). The exporter and the
    sampler read the standard OTEL_* variables themselves (endpoint, headers, timeout; OTEL_TRACES_SAMPLER and
    OTEL_TRACES_SAMPLER_ARG, parent-based by default); spans leave in batches, flushed at exit.

    `edge`: the process is the system's front door (the gateway), so its sampler decides for a caller's trace as
    for a new one: the caller's trace id is continued, its sampled flag is not taken (`EdgeSampler`). The services
    behind it, parent-based, then follow the gateway's decision."""
    global _tracer
    if _tracer is not None or not otlp_configured():
        return _tracer
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    if edge:
        provider.sampler = edge_sampler(provider.sampler)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _tracer = provider.get_tracer("cq-producer-services")
    return _tracer


def edge_sampler(configured: "Sampler") -> "Sampler":
    from opentelemetry.sdk.trace.sampling import Sampler, SamplingResult
    from opentelemetry.trace import get_current_span

    class EdgeSampler(Sampler):
        """The configured sampler, asked as if a remote parent (the caller) were absent: with the default
        parent-based samplers its root sampler decides. Not on the caller's trace id, though: the ratio samplers
        decide from a trace id's low bits, which the caller chose, so it could force every request to be traced
        (or hide its own); they are asked with a random id instead (the span keeps the caller's). A local parent
        (the gateway's own server span, for its client spans) is kept, so a trace is recorded whole or not at all."""

        def should_sample(self, parent_context: Any, trace_id: int, *args: Any, **kwargs: Any) -> SamplingResult:
            if get_current_span(parent_context).get_span_context().is_remote:
                return configured.should_sample(None, secrets.randbits(128) | 1, *args, **kwargs)
            return configured.should_sample(parent_context, trace_id, *args, **kwargs)

        def get_description(self) -> str:
            return f"EdgeSampler{{{configured.get_description()}}}"

    return EdgeSampler()


def _context_of(span: "Span") -> TraceContext:
    ids = span.get_span_context()
    return TraceContext(f"{ids.trace_id:032x}", f"{ids.span_id:016x}", ids.trace_flags.sampled, span)


def start_server_span(tracer: "Tracer", headers: Iterable[tuple[bytes, bytes]], method: str) -> TraceContext:
    """The context of a request with these (ASGI) headers as a server span of the caller's trace (or of a new one);
    the caller ends it with `end_server_span`."""
    from opentelemetry import propagate
    from opentelemetry.trace import SpanKind

    carrier = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in headers}
    span = tracer.start_span(method, context=propagate.extract(carrier), kind=SpanKind.SERVER)
    return _context_of(span)


def end_server_span(context: TraceContext, method: str, route: str, status: int) -> None:
    span = context.span
    if span is None:
        return
    from opentelemetry.trace import StatusCode

    span.update_name(f"{method} {route}")
    span.set_attribute("http.request.method", method)
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(StatusCode.ERROR)
    span.end()


class OutgoingCall:
    """One call to another service, as a context manager around it: the `traceparent` to send, and (when spans are
    exported) its client span, ended on the way out (an error status if the call raised). A class rather than a
    generator: it is entered on every proxied request, and this costs a fraction of a microsecond."""

    __slots__ = ("span", "traceparent")

    def __init__(self, traceparent: str, span: "Span | None" = None) -> None:
        self.traceparent = traceparent
        self.span = span

    def answered(self, status: int) -> None:
        if self.span is not None:
            self.span.set_attribute("http.response.status_code", status)

    def __enter__(self) -> "OutgoingCall":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: object) -> None:
        span = self.span
        if span is None:
            return
        if kind is not None:
            from opentelemetry.trace import StatusCode

            span.set_status(StatusCode.ERROR)
        span.end()


def client_span(upstream: str, method: str, path: str) -> OutgoingCall:
    """A call made now to `upstream` (`with client_span(...) as call:`): a client span of the current request's span
    when spans are exported (its id is the traceparent's parent id), else a plain child context
    (`outgoing_traceparent`)."""
    current = current_trace()
    if _tracer is None or current is None or current.span is None:
        return OutgoingCall(outgoing_traceparent())
    from opentelemetry.trace import SpanKind, set_span_in_context

    attributes: dict[str, Any] = {"http.request.method": method, "server.address": upstream, "url.path": path}
    span = _tracer.start_span(
        f"{method} {upstream}", context=set_span_in_context(current.span), kind=SpanKind.CLIENT, attributes=attributes
    )
    return OutgoingCall(_context_of(span).traceparent(), span)
