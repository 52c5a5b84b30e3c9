"""Signals across the real processes: a request id and a W3C traceparent sent to the gateway are in the log lines of
every process the request reached (gateway → eligibility → registry for a screening), each service's /metrics counts
what it did, every line of every process's log is JSON, and with an OTLP endpoint configured every service exports
its spans in the caller's trace."""

import gzip
import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Stack
from tests.stack import launch_stack

pytestmark = pytest.mark.e2e


def log_lines(stack: Stack, name: str) -> list[dict[str, object]]:
    # A line ends at "\n" only: a logged path may hold U+0085 or U+2028, which JSON leaves unescaped and
    # str.splitlines() would take for line breaks (the fuzzing of the same stack sends such paths).
    return [json.loads(line) for line in stack.log(name).split("\n") if line.strip()]


def requests_of(stack: Stack, name: str, client_request_id: str) -> list[dict[str, object]]:
    return [
        line
        for line in log_lines(stack, name)
        if line.get("event") == "request" and line.get("client_request_id") == client_request_id
    ]


def lines_for(stack: Stack, name: str, client_request_id: str, count: int) -> list[dict[str, object]]:
    """The access lines of `name` for the request, once there are `count` (or what there is after 10 s): a process
    writes its line as its answer ends, which the one it answered may have read a moment before."""
    deadline = time.monotonic() + 10
    while len(lines := requests_of(stack, name, client_request_id)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return lines


def upstream_reads(stack: Stack, name: str, upstream: str) -> float:
    """How many reads of `upstream` the process `name` has made, from its own /metrics (no token in tests)."""
    response = httpx.get(f"{stack.url(name)}/metrics", timeout=10, trust_env=False)
    assert response.status_code == 200, response.text
    return sum(
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "service_upstream_requests_total" and sample.labels["upstream"] == upstream
    )


def test_a_request_id_and_a_trace_reach_the_registrys_lines_for_the_screening_they_caused(
    stack: Stack, city: httpx.Client
) -> None:
    client_request_id = f"signals-{uuid.uuid4().hex[:12]}"
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    reads_before = upstream_reads(stack, "eligibility", "registry")

    response = city.post(
        "/api/v1/eligibility/screenings",
        json={"as_of": "2025-06-30", "year": 2025},
        headers={"X-Request-ID": client_request_id, "traceparent": f"00-{trace_id}-{parent_id}-01"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == client_request_id
    assert "traceparent" not in response.headers

    (gateway,) = lines_for(stack, "gateway", client_request_id, 1)
    system_id = gateway["request_id"]
    assert isinstance(system_id, str) and system_id != client_request_id
    assert gateway["trace_id"] == trace_id

    (screening,) = lines_for(stack, "eligibility", client_request_id, 1)
    assert (screening["method"], screening["path"], screening["status"]) == ("POST", "/screenings", 200)
    assert (screening["request_id"], screening["trace_id"]) == (system_id, trace_id)

    reads = upstream_reads(stack, "eligibility", "registry") - reads_before
    assert reads >= 1  # a screening reads the registry's lists
    registry = lines_for(stack, "registry", client_request_id, int(reads))
    assert len(registry) == reads
    assert {(line["request_id"], line["trace_id"], line["method"]) for line in registry} == {
        (system_id, trace_id, "GET")
    }


def test_every_line_of_every_process_is_json_naming_its_component(stack: Stack) -> None:
    for name in stack.processes:
        lines = log_lines(stack, name)  # a line that is not JSON fails here
        assert lines and {line["service"] for line in lines} == {name}
        assert any(str(line["event"]).startswith("Started server process") for line in lines)


def test_every_component_serves_its_metrics(stack: Stack) -> None:
    for name, process in stack.processes.items():
        response = httpx.get(f"{process.url}/metrics", timeout=10, trust_env=False)
        assert response.status_code == 200, (name, response.text)
        families = {family.name for family in text_string_to_metric_families(response.text)}
        expected = "gateway_requests" if name == "gateway" else "service_requests"
        assert expected in families, name


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver: keeps every span posted to /v1/traces, with its process's service name."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CollectorHandler)
        self.spans: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _CollectorHandler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest.FromString(body)
        with self.server.lock:
            for resource_spans in export.resource_spans:
                attributes = {item.key: item.value.string_value for item in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    self.server.spans.extend((attributes["service.name"], span) for span in scope_spans.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # no access lines on the test's output
        pass


def test_with_an_otlp_endpoint_every_hop_exports_its_spans_in_the_callers_trace(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    collector = Collector()
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    try:
        with (
            launch_stack(tmp_path_factory.mktemp("otel-logs"), env) as otel_stack,
            otel_stack.client(otel_stack.keys["city"]) as city,
        ):
            response = city.post(
                "/api/v1/eligibility/screenings",
                json={"as_of": "2025-06-30", "year": 2025},
                headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
            )
            assert response.status_code == 200, response.text
            reads = upstream_reads(otel_stack, "eligibility", "registry")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with collector.lock:
                    ours = [(service, span) for service, span in collector.spans if span.trace_id.hex() == trace_id]
                # The gateway's server and client spans, eligibility's screening and one client and one server span per
                # registry read; the screening's own span ends with its answer, so it may come in a later batch.
                if len(ours) >= 3 + 2 * reads:
                    break
                time.sleep(0.2)
    finally:
        collector.shutdown()
        collector.server_close()
        thread.join()
    server_kind, client_kind = 2, 3  # OTLP's SPAN_KIND_SERVER and SPAN_KIND_CLIENT
    (screening,) = [span for service, span in ours if service == "eligibility" and span.kind == server_kind]
    assert screening.name == "POST /screenings" and screening.parent_span_id.hex() not in ("", parent_id)
    (gateway_call,) = [span for service, span in ours if service == "gateway" and span.kind == client_kind]
    assert screening.parent_span_id == gateway_call.span_id  # the gateway's hop is in the tree
    calls = [span for service, span in ours if service == "eligibility" and span.kind == client_kind]
    registry = [span for service, span in ours if service == "registry"]
    assert len(calls) == len(registry) == reads >= 1
    assert {call.parent_span_id for call in calls} == {screening.span_id}
    assert all(call.name == "GET registry" for call in calls)
    # Each of the registry's server spans is the child of one of eligibility's calls.
    assert sorted(span.parent_span_id for span in registry) == sorted(call.span_id for call in calls)
    assert all(span.kind == server_kind and span.name.startswith("GET /") for span in registry)
