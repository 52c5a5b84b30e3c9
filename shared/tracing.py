"""W3C Trace Context (`traceparent`) for every hop: the gateway takes a caller's valid trace or starts one, each
service continues it, and every call to another service carries it on with a span id of its own.

The trace id is logged beside the request id (shared.logging), so one search finds a request's lines in every
service; an OpenTelemetry collector, when one is configured, sees the same ids.
"""

import re
import secrets
from collections.abc import Iterable
from contextvars import ContextVar, Token
from dataclasses import dataclass

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
    return TraceContext(secrets.token_hex(16), secrets.token_hex(8))


def from_headers(headers: Iterable[tuple[bytes, bytes]]) -> TraceContext:
    """The context of a request with these (ASGI) headers: the caller's trace continued, or a new one."""
    for name, value in headers:
        if name.lower() == b"traceparent":
            return parse_traceparent(value.decode("latin-1")) or new_trace()
    return new_trace()


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
