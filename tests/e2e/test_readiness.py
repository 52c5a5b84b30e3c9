"""Readiness that cannot cascade, with real processes: a gateway stays ready with an upstream stopped (it reports it,
and serves the other services), and a hung upstream is cut off by its circuit breaker: after the first requests
time out, its routes answer a 503 at once while the registry's keep answering."""

import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.gateway.helpers import RawServer
from tests.stack import Stack, launch_stack
from tests.support import uvicorn_process

pytestmark = pytest.mark.e2e

PROBE_INTERVAL_SECONDS = 0.2
READ_TIMEOUT_SECONDS = 2.0
FAILURE_THRESHOLD = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        "GATEWAY_UPSTREAM_PROBE_INTERVAL": str(PROBE_INTERVAL_SECONDS),
        "GATEWAY_PROBE_TIMEOUT": "0.5",
        "GATEWAY_KEY_CACHE_SECONDS": "0",
        "GATEWAY_RATE_LIMIT_PER_SECOND": "10000",
        "GATEWAY_RATE_LIMIT_BURST": "10000",
    }
    logs = tmp_path_factory.mktemp("readiness-logs")
    with launch_stack(logs, env, services=("registry", "ranking")) as result:
        yield result


def wait_for(
    client: httpx.Client, condition: str, check: Callable[[httpx.Response], bool], timeout: float = 10.0
) -> httpx.Response:
    """/readyz polled until `check(response)` holds; every answer on the way must be a 200."""
    deadline = time.monotonic() + timeout
    while True:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        if check(ready):
            return ready
        assert time.monotonic() < deadline, f"/readyz never showed {condition}: {ready.text}"
        time.sleep(0.05)


def test_the_gateway_stays_ready_with_ranking_stopped(stack: Stack) -> None:
    with stack.client(stack.keys["city"]) as city:
        wait_for(city, "everything ready", lambda ready: ready.json()["status"] == "ready")
        stack.stop("ranking")
        try:
            ready = wait_for(city, "ranking down", lambda ready: ready.json()["checks"]["ranking"] != "ok").json()
            assert ready["status"] == "degraded"
            assert ready["checks"]["ranking"].startswith("unreachable")
            assert ready["checks"]["registry"] == "ok" and ready["checks"]["database"] == "ok"
            down = city.get("/api/v1/ranking/methodologies")
            assert down.status_code == 503
            assert down.json()["type"] == "/problems/upstream-unavailable"
            assert city.get("/api/v1/registry/districts").status_code == 200
            metrics = city.get("/metrics").text
            assert 'gateway_upstream_up{upstream="ranking"} 0.0' in metrics
            assert 'gateway_upstream_up{upstream="registry"} 1.0' in metrics
        finally:
            stack.start("ranking")
        wait_for(city, "ranking back", lambda ready: ready.json()["status"] == "ready")
        assert city.get("/api/v1/ranking/methodologies").status_code == 200


@pytest.fixture
def hung() -> Iterator[RawServer]:
    """A server whose connections are accepted (by the kernel) and never answered."""
    server = RawServer("hang").start()
    yield server
    server.stop()


def test_a_hung_upstream_is_cut_off_by_its_circuit_while_the_registry_is_served(stack: Stack, hung: RawServer) -> None:
    env = {
        **stack.env,
        "GATEWAY_RANKING_URL": hung.url,
        "GATEWAY_UPSTREAM_READ_TIMEOUT": str(READ_TIMEOUT_SECONDS),
        "GATEWAY_CIRCUIT_FAILURE_THRESHOLD": str(FAILURE_THRESHOLD),
        "GATEWAY_CIRCUIT_COOL_DOWN_SECONDS": "60",
    }
    headers = {"Authorization": f"Bearer {stack.keys['city']}"}
    with (
        uvicorn_process("gateway.main:create_app", env) as (gateway, _),
        httpx.Client(base_url=gateway, headers=headers, timeout=30, trust_env=False) as client,
    ):
        # The first requests wait for the read timeout, all at once; the registry is served meanwhile.
        timed_out: list[tuple[int, float]] = []

        def hang_once() -> None:
            started = time.monotonic()
            answer = client.get("/api/v1/ranking/methodologies")
            timed_out.append((answer.status_code, time.monotonic() - started))

        waiting = [threading.Thread(target=hang_once) for _ in range(FAILURE_THRESHOLD)]
        for thread in waiting:
            thread.start()
        time.sleep(0.2)
        while any(thread.is_alive() for thread in waiting):
            started = time.monotonic()
            assert client.get("/api/v1/registry/districts").status_code == 200
            assert time.monotonic() - started < 1.0
            time.sleep(0.05)
        for thread in waiting:
            thread.join()
        assert [status for status, _ in timed_out] == [504] * FAILURE_THRESHOLD
        assert all(elapsed >= READ_TIMEOUT_SECONDS - 0.1 for _, elapsed in timed_out)

        # Open now: ranking's routes are refused at once, the registry's still answer.
        for _ in range(5):
            started = time.monotonic()
            refused = client.get("/api/v1/ranking/methodologies")
            assert time.monotonic() - started < 1.0
            assert refused.status_code == 503
            assert refused.json()["type"] == "/problems/upstream-unavailable"
            assert int(refused.headers["retry-after"]) >= 1
            assert client.get("/api/v1/registry/districts").status_code == 200
        ready = wait_for(client, "ranking probed", lambda ready: ready.json()["checks"]["ranking"] != "ok").json()
        assert ready["status"] == "degraded"
        assert ready["circuits"] == {"registry": "closed", "ranking": "open"}
        assert ready["checks"]["ranking"] == "unreachable: TimeoutError"
        metrics = client.get("/metrics").text
        assert 'gateway_upstream_circuit_state{upstream="ranking"} 2.0' in metrics
        assert 'gateway_upstream_circuit_transitions_total{state="open",upstream="ranking"} 1.0' in metrics
        assert 'gateway_upstream_errors_total{kind="circuit_open",upstream="ranking"} 5.0' in metrics
