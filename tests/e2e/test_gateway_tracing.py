"""The gateway decides trace sampling (security M5, ops H1): real gateway, eligibility and registry processes
exporting to an in-test OTLP receiver, every process with the same sampler. The caller's flag never decides: a
caller asking for sampling is not recorded where the sampler says no, and one that sent its trace unsampled is
recorded at every hop where it says yes (that a ratio sampler cannot be steered by the trace id the caller picks
is shown in tests/test_tracing.py)."""

import threading
import time
from typing import Any

import pytest

from tests.e2e.test_signals import Collector, upstream_reads
from tests.stack import launch_stack

pytestmark = pytest.mark.e2e

SERVER, CLIENT = 2, 3  # OTLP's SPAN_KIND_SERVER and SPAN_KIND_CLIENT
TRACE = "5d1c7a04e9b3f2a6" + "0" * 15 + "1"
CALLER_SPAN = "00f067aa0ba902b7"
SCREENING = {"as_of": "2025-06-30", "year": 2025}


def screening_spans(tmp_path_factory: pytest.TempPathFactory, sampler: str, flags: str) -> tuple[list[Any], int]:
    """The spans of one screening sent with the caller's trace TRACE and `flags`, under `sampler` everywhere, and how
    many reads of the registry it made."""
    collector = Collector()
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_TRACES_SAMPLER": sampler,
    }

    def ours() -> list[tuple[str, Any]]:
        with collector.lock:
            return [(service, span) for service, span in collector.spans if span.trace_id.hex() == TRACE]

    try:
        with (
            launch_stack(tmp_path_factory.mktemp("gateway-otel"), env, services=["registry", "eligibility"]) as stack,
            stack.client(stack.keys["city"]) as city,
        ):
            reads_before = upstream_reads(stack, "eligibility", "registry")
            response = city.post(
                "/api/v1/eligibility/screenings",
                json=SCREENING,
                headers={"traceparent": f"00-{TRACE}-{CALLER_SPAN}-{flags}"},
            )
            assert response.status_code == 200, response.text
            reads = int(upstream_reads(stack, "eligibility", "registry") - reads_before)
            assert reads >= 1
            expected = 2 + 1 + 2 * reads if sampler.endswith("always_on") else 0
            deadline = time.monotonic() + 20
            while len(ours()) < expected and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)  # anything more (or, unsampled, anything at all) had left by now: batches of 0.1 s
            return ours(), reads
    finally:
        collector.shutdown()
        collector.server_close()
        thread.join()


def test_a_caller_asking_for_sampling_is_not_recorded_where_the_gateway_says_no(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    spans, _ = screening_spans(tmp_path_factory, "parentbased_always_off", "01")
    assert spans == []


def test_a_caller_sending_its_trace_unsampled_is_recorded_at_every_hop_where_the_gateway_says_yes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    ours, reads = screening_spans(tmp_path_factory, "parentbased_always_on", "00")
    assert len(ours) == 2 + 1 + 2 * reads, [(service, span.name) for service, span in ours]
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
