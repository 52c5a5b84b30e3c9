"""W3C trace context (shared/tracing.py): a caller's valid traceparent is continued, anything else starts a trace; a
service continues the gateway's trace for the request, logs its trace id and passes it on to the next service with a
span of its own; OpenTelemetry only where an OTLP endpoint is configured (exported spans: tests/e2e/test_signals.py)."""

import json
import os
import subprocess
import sys

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request

from shared.app import create_service_app
from shared.http import ServiceClient
from shared.settings import PROJECT_ROOT, ServiceSettings
from shared.tracing import (
    TraceContext,
    current_trace,
    edge_context,
    edge_sampler,
    from_headers,
    otlp_configured,
    outgoing_traceparent,
    parse_traceparent,
    reset_trace,
    set_trace,
)
from tests.support import CITY, TEST_SECRET, asgi_client

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
# Never connected to: these apps' routes do not touch the database.
UNUSED_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/unused"


def test_a_valid_traceparent_is_continued_as_a_new_span_of_its_trace() -> None:
    context = parse_traceparent(TRACEPARENT)
    assert context is not None
    assert (context.trace_id, context.sampled) == (TRACE_ID, True)
    assert len(context.span_id) == 16 and context.span_id != PARENT_ID
    unsampled = parse_traceparent(f"00-{TRACE_ID}-{PARENT_ID}-00")
    assert unsampled is not None and not unsampled.sampled
    # A later version is read by its first four fields, whatever follows them.
    future = parse_traceparent(f"01-{TRACE_ID}-{PARENT_ID}-01-what-comes-next")
    assert future is not None and future.trace_id == TRACE_ID


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        f"00-{TRACE_ID}-{PARENT_ID}",  # no flags
        f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",  # upper-case hex
        f"00-{'0' * 32}-{PARENT_ID}-01",  # the invalid trace id
        f"00-{TRACE_ID}-{'0' * 16}-01",  # the invalid parent id
        f"ff-{TRACE_ID}-{PARENT_ID}-01",  # the forbidden version
        f"00-{TRACE_ID}-{PARENT_ID}-01-extra",  # version 00 has exactly four fields
    ],
)
def test_anything_else_is_no_context(value: str | None) -> None:
    assert parse_traceparent(value) is None


def test_headers_give_the_callers_trace_or_a_new_one() -> None:
    continued = from_headers([(b"accept", b"*/*"), (b"traceparent", TRACEPARENT.encode())])
    assert continued.trace_id == TRACE_ID
    started = from_headers([(b"traceparent", b"not-a-traceparent")])
    fresh = from_headers([])
    assert len({started.trace_id, fresh.trace_id, TRACE_ID}) == 3
    assert all(len(context.trace_id) == 32 and not context.sampled for context in (started, fresh))


def test_an_outgoing_call_is_a_child_span_of_the_current_trace() -> None:
    context = TraceContext(TRACE_ID, PARENT_ID, sampled=True)
    token = set_trace(context)
    try:
        first, second = outgoing_traceparent(), outgoing_traceparent()
    finally:
        reset_trace(token)
    for value in (first, second):
        version, trace_id, span_id, flags = value.split("-")
        assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
        assert span_id not in (PARENT_ID, "0" * 16)
    assert first != second  # each call a span of its own
    assert current_trace() is None
    # Outside a request (a background job) each call starts a trace.
    alone = parse_traceparent(outgoing_traceparent())
    assert alone is not None and alone.trace_id != TRACE_ID


# ---- through a service: the middleware continues the trace, logs it, and the service client passes it on ----------

seen_upstream: list[dict[str, str | None]] = []
upstream = FastAPI()


@upstream.get("/thing")
async def thing(request: Request) -> dict[str, bool]:
    seen_upstream.append(
        {"traceparent": request.headers.get("traceparent"), "request_id": request.headers.get("x-request-id")}
    )
    return {"ok": True}


router = APIRouter()


@router.get("/traced")
async def traced() -> dict[str, str | None]:
    context = current_trace()
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=upstream), base_url="http://upstream")
    async with http:
        await ServiceClient(http, upstream="upstream", secret=TEST_SECRET).get("/thing")
    return {"trace_id": context.trace_id if context else None, "span_id": context.span_id if context else None}


def probe() -> FastAPI:
    settings = ServiceSettings(service_name="probe", database_url=UNUSED_DATABASE_URL, environment="test")
    return create_service_app(settings=settings, title="probe", version="0", description="", routers=[router])


async def test_a_service_continues_the_trace_logs_it_and_passes_it_on(capsys: pytest.CaptureFixture[str]) -> None:
    seen_upstream.clear()
    app = probe()
    capsys.readouterr()
    async with asgi_client(app, CITY) as client:
        response = await client.get("/traced", headers={"traceparent": TRACEPARENT, "X-Request-ID": "a" * 32})
        without = await client.get("/traced")
    assert response.status_code == 200, response.text
    assert "traceparent" not in response.headers  # the caller learns nothing new
    served = response.json()
    assert served["trace_id"] == TRACE_ID and served["span_id"] != PARENT_ID
    (call, other) = seen_upstream
    version, trace_id, parent_id, flags = str(call["traceparent"]).split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
    assert parent_id not in (PARENT_ID, served["span_id"])  # the call's own span, a child of the service's
    assert call["request_id"] == "a" * 32
    # No traceparent from the caller: the service starts a trace and passes that one on.
    assert without.json()["trace_id"] not in (None, TRACE_ID)
    assert str(other["traceparent"]).split("-")[1] == without.json()["trace_id"]
    access = [line for line in map(json.loads, capsys.readouterr().out.splitlines()) if line["event"] == "request"]
    assert [(line["path"], line["trace_id"]) for line in access] == [
        ("/traced", TRACE_ID),
        ("/traced", without.json()["trace_id"]),
    ]
    assert access[0]["request_id"] == "a" * 32


@pytest.mark.parametrize(
    ("env", "configured"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_spans_are_exported_only_where_an_otlp_endpoint_is_configured(
    env: dict[str, str], configured: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert otlp_configured() is configured


def test_without_an_endpoint_a_service_loads_nothing_of_the_sdk() -> None:
    # In a process of its own: this one's modules are whatever earlier tests imported.
    probe = (
        "import sys; from services.registry.main import create_app; from services.registry.settings import "
        f"RegistrySettings; create_app(RegistrySettings(database_url={UNUSED_DATABASE_URL!r}, environment='test')); "
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk')))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.splitlines()[-1] == "[]"


def test_at_the_edge_without_spans_the_callers_trace_is_continued_unsampled() -> None:
    sampled = edge_context([(b"traceparent", TRACEPARENT.encode())])
    assert (sampled.trace_id, sampled.sampled) == (TRACE_ID, False)
    assert sampled.span_id != PARENT_ID
    unsampled = edge_context([(b"traceparent", f"00-{TRACE_ID}-{PARENT_ID}-00".encode())])
    assert (unsampled.trace_id, unsampled.sampled) == (TRACE_ID, False)
    fresh = edge_context([])
    assert fresh.trace_id != TRACE_ID and fresh.sampled is False


# TraceIdRatioBased samples a trace whose id's low 64 bits are below ratio × 2^64: these two lie at either end.
LOW_TRACE_ID, HIGH_TRACE_ID = "4bf92f3577b34da6" + "0" * 15 + "1", "4bf92f3577b34da6" + "f" * 16


def edge_spans(ratio: float, trace_id: str, flags: str, count: int) -> list[bool]:
    """Whether each of `count` requests of the caller's trace `trace_id` (sent with `flags`) is recorded at the
    edge under a parent-based ratio sampler; the gateway's own client span must follow its server span."""
    from opentelemetry import propagate
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio
    from opentelemetry.trace import SpanKind, set_span_in_context

    provider = TracerProvider(sampler=edge_sampler(ParentBasedTraceIdRatio(ratio)))
    tracer = provider.get_tracer("test")
    recorded = []
    for _ in range(count):
        caller = propagate.extract({"traceparent": f"00-{trace_id}-{PARENT_ID}-{flags}"})
        server = tracer.start_span("GET", context=caller, kind=SpanKind.SERVER)
        ids = server.get_span_context()
        assert f"{ids.trace_id:032x}" == trace_id  # the caller's trace, continued
        assert ids.trace_flags.sampled is server.is_recording()
        client = tracer.start_span("GET registry", context=set_span_in_context(server), kind=SpanKind.CLIENT)
        assert client.is_recording() is server.is_recording()
        recorded.append(server.is_recording())
    provider.shutdown()
    return recorded


@pytest.mark.parametrize("trace_id", [LOW_TRACE_ID, HIGH_TRACE_ID])
@pytest.mark.parametrize("flags", ["00", "01"])
def test_the_edge_sampler_never_takes_the_callers_flag(trace_id: str, flags: str) -> None:
    assert edge_spans(1.0, trace_id, flags, 20) == [True] * 20
    assert edge_spans(0.0, trace_id, flags, 20) == [False] * 20


def test_a_caller_cannot_choose_a_trace_id_the_ratio_sampler_always_takes() -> None:
    """At 1 %, a trace id with its low bits at 1 would be sampled every time if the caller's id decided: 400
    sampled requests (expected: 4; fewer than 40 but for a chance below 1e-20)."""
    assert sum(edge_spans(0.01, LOW_TRACE_ID, "01", 400)) < 40
