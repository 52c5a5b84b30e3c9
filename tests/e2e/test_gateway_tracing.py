"""The gateway decides trace sampling (security M5, ops H1): real gateway, eligibility and registry processes
exporting to an in-test OTLP receiver, every process with the same ratio sampler."""

import threading
import time
from typing import Any

import pytest

from tests.e2e.test_signals import Collector, upstream_reads
from tests.stack import launch_stack

pytestmark = pytest.mark.e2e

SERVER, CLIENT = 2, 3  # OTLP's SPAN_KIND_SERVER and SPAN_KIND_CLIENT
# With a ratio of 0.5 the sampler takes a trace whose id's low 64 bits are below 2^63: one of each.
SAMPLED_TRACE = "5d1c7a04e9b3f2a6" + "0" * 15 + "1"
DROPPED_TRACE = "5d1c7a04e9b3f2a6" + "f" * 16
CALLER_SPAN = "00f067aa0ba902b7"
SCREENING = {"as_of": "2025-06-30", "year": 2025}


def test_the_gateway_samples_the_callers_trace_by_its_own_rule_and_every_hop_follows(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    collector = Collector()
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.5",
    }

    def spans_of(trace_id: str) -> list[tuple[str, Any]]:
        with collector.lock:
            return [(service, span) for service, span in collector.spans if span.trace_id.hex() == trace_id]

    try:
        with (
            launch_stack(tmp_path_factory.mktemp("gateway-otel"), env, services=["registry", "eligibility"]) as stack,
            stack.client(stack.keys["city"]) as city,
        ):
            # A caller asking for sampling (-01) on a trace the gateway's sampler does not take: nothing recorded.
            dropped = city.post(
                "/api/v1/eligibility/screenings",
                json=SCREENING,
                headers={"traceparent": f"00-{DROPPED_TRACE}-{CALLER_SPAN}-01"},
            )
            assert dropped.status_code == 200, dropped.text
            reads_before = upstream_reads(stack, "eligibility", "registry")
            # A caller that sent its trace unsampled (-00) on one the sampler takes: recorded at every hop.
            sampled = city.post(
                "/api/v1/eligibility/screenings",
                json=SCREENING,
                headers={"traceparent": f"00-{SAMPLED_TRACE}-{CALLER_SPAN}-00"},
            )
            assert sampled.status_code == 200, sampled.text
            reads = upstream_reads(stack, "eligibility", "registry") - reads_before
            assert reads >= 1
            expected = 2 + 1 + 2 * reads  # the gateway's server and client span, eligibility's, the reads
            deadline = time.monotonic() + 20
            while len(ours := spans_of(SAMPLED_TRACE)) < expected and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)  # what the dropped request would have exported had left by now (batches of 0.1 s)
            ours = spans_of(SAMPLED_TRACE)
            assert spans_of(DROPPED_TRACE) == []
    finally:
        collector.shutdown()
        collector.server_close()
        thread.join()

    assert len(ours) == expected, [(service, span.name) for service, span in ours]
    (gateway,) = [span for service, span in ours if service == "gateway" and span.kind == SERVER]
    # By the route template, once the gateway has eligibility's document (fetched at its start).
    assert gateway.name in ("POST /api/v1/eligibility/screenings", "POST /api/v1/eligibility/{path}")
    assert gateway.parent_span_id.hex() == CALLER_SPAN  # the caller's trace continued, its span the parent
    (call,) = [span for service, span in ours if service == "gateway" and span.kind == CLIENT]
    assert call.name == "POST eligibility" and call.parent_span_id == gateway.span_id
    (screening,) = [span for service, span in ours if service == "eligibility" and span.kind == SERVER]
    assert screening.name == "POST /screenings" and screening.parent_span_id == call.span_id
    calls = [span for service, span in ours if service == "eligibility" and span.kind == CLIENT]
    registry = [span for service, span in ours if service == "registry"]
    assert len(calls) == len(registry) == reads
    assert {span.parent_span_id for span in calls} == {screening.span_id}
    assert sorted(span.parent_span_id for span in registry) == sorted(span.span_id for span in calls)
