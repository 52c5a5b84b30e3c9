"""The real processes: going around the gateway, upstreams down and hung, request ids, rate limits, public routes."""

import json
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from deploy.run_local import present_services
from gateway.keys.admin import run_in_session
from gateway.keys.service import create_key
from shared.auth import Principal, Role, sign_principal
from shared.requestid import make_request_id
from tests.e2e.conftest import RATE_BURST, RATE_PER_SECOND, READ_TIMEOUT_SECONDS, Stack
from tests.support import TEST_SECRET

pytestmark = pytest.mark.e2e


def new_key(stack: Stack, role: str = "city") -> str:
    async def work(session: AsyncSession) -> str:
        key, _ = await create_key(session, role, label="e2e extra")
        return key

    assert stack.gateway_db is not None
    return run_in_session(stack.gateway_db.url, work)


def test_going_around_the_gateway_gets_nothing(stack: Stack) -> None:
    registry = stack.url("registry")
    city = Principal(Role.CITY)
    with httpx.Client(base_url=registry, timeout=10, trust_env=False) as direct:
        unsigned = direct.get("/districts")
        assert unsigned.status_code == 401
        assert unsigned.headers["content-type"] == "application/problem+json"
        # Claiming to be the city without a signature, or with a made-up one.
        claimed = direct.get(
            "/districts",
            headers={
                "X-Principal-Role": "city",
                "X-Principal-Timestamp": str(int(time.time())),
                "X-Principal-Signature": "0" * 64,
            },
        )
        assert claimed.status_code == 401
        forged = direct.get("/districts", headers=_signed("GET", "/districts", city, secret="not-the-secret"))
        assert forged.status_code == 401
        stale = direct.get("/districts", headers=_signed("GET", "/districts", city, now=time.time() - 3600))
        assert stale.status_code == 401
        # A valid signature for one request does not open another.
        replayed = direct.get("/audit", headers=_signed("GET", "/districts", city))
        assert replayed.status_code == 401
        elevated = _signed("GET", "/audit", Principal(Role.DISTRICT, "500103"))
        elevated["X-Principal-Role"] = "city"
        assert direct.get("/audit", headers=elevated).status_code == 401
        # The control: the same request signed with the internal secret is answered.
        assert direct.get("/districts", headers=_signed("GET", "/districts", city)).status_code == 200


def _signed(
    method: str, target: str, principal: Principal, *, secret: str = TEST_SECRET, now: float | None = None
) -> dict[str, str]:
    return sign_principal(secret, method, target, principal, audience="registry", request_id=make_request_id(), now=now)


def test_request_id_is_echoed_forwarded_and_logged(stack: Stack, city: httpx.Client) -> None:
    request_id = f"e2e-{uuid.uuid4().hex}"
    response = city.get("/api/v1/registry/districts", headers={"X-Request-ID": request_id})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id
    made = city.get("/api/v1/registry/districts")
    assert len(made.headers["x-request-id"]) == 32
    time.sleep(0.3)

    def lines(name: str) -> list[dict]:
        found = []
        for line in stack.log(name).splitlines():
            if request_id in line and line.startswith("{"):
                found.append(json.loads(line))
        return found

    gateway_lines, registry_lines = lines("gateway"), lines("registry")
    assert any(entry.get("route") == "/api/v1/registry/districts" and entry["status"] == 200 for entry in gateway_lines)
    assert any(entry.get("path") == "/districts" for entry in registry_lines)
    # Every line carries the caller's id beside the system's own, one id for the request in every process.
    assert all(entry["client_request_id"] == request_id for entry in gateway_lines + registry_lines)
    system_ids = {entry["request_id"] for entry in gateway_lines + registry_lines}
    assert len(system_ids) == 1 and re.fullmatch(r"[0-9a-f]{32}", system_ids.pop())
    # The key itself is never written to a log.
    assert stack.keys["city"] not in stack.log("gateway")


def test_rate_limit_per_key_through_redis(stack: Stack) -> None:
    key = new_key(stack)
    with stack.client(key) as client:

        def call(_: int) -> httpx.Response:
            return client.get("/api/v1/registry/sectors")

        with ThreadPoolExecutor(max_workers=8) as pool:
            started = time.monotonic()
            responses = list(pool.map(call, range(150)))
            elapsed = time.monotonic() - started
    statuses = [r.status_code for r in responses]
    # The burst, plus what refilled meanwhile, and not more.
    assert RATE_BURST <= statuses.count(200) <= RATE_BURST + RATE_PER_SECOND * elapsed + 1
    limited = [r for r in responses if r.status_code == 429]
    assert limited, f"150 requests in {elapsed:.2f} s should exceed a burst of {RATE_BURST}"
    assert set(statuses) <= {200, 429}
    assert all(int(r.headers["retry-after"]) >= 1 for r in limited)
    assert limited[0].headers["content-type"] == "application/problem+json"
    # Another key is not affected.
    with stack.client(stack.keys["auditor"]) as other:
        assert other.get("/api/v1/registry/sectors").status_code == 200


def test_upstream_down_gives_503_and_recovers(stack: Stack, city: httpx.Client) -> None:
    stack.stop("registry")
    try:
        started = time.monotonic()
        down = city.get("/api/v1/registry/districts")
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        assert "registry" in down.json()["detail"]
        assert time.monotonic() - started < 3
        # The gateway stays ready (it can serve every other service) and reports the registry down, once its
        # background probe (GATEWAY_UPSTREAM_PROBE_INTERVAL) has seen it.
        ready = wait_for_readiness(city, lambda body: body["checks"]["registry"].startswith("unreachable"))
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["database"] == "ok"
    finally:
        stack.start("registry")
    assert city.get("/api/v1/registry/districts").status_code == 200
    ready = wait_for_readiness(city, lambda body: body["status"] == "ready")
    assert ready.status_code == 200 and ready.json()["checks"]["registry"] == "ok"


def wait_for_readiness(client: httpx.Client, condition: Callable[[dict[str, Any]], bool]) -> httpx.Response:
    """The gateway's /readyz once `condition` holds of its body (its probes run every few seconds), or the last."""
    deadline = time.monotonic() + 20
    while True:
        ready = client.get("/readyz")
        if condition(ready.json()) or time.monotonic() > deadline:
            return ready
        time.sleep(0.2)


def test_hung_upstream_gives_504_within_the_timeout_and_recovers(stack: Stack, city: httpx.Client) -> None:
    stack.pause("registry")
    try:
        started = time.monotonic()
        hung = city.get("/api/v1/registry/districts")
        elapsed = time.monotonic() - started
        assert hung.status_code == 504
        assert hung.json()["type"] == "/problems/upstream-timeout"
        assert READ_TIMEOUT_SECONDS - 0.1 < elapsed < READ_TIMEOUT_SECONDS + 2
        # The gateway itself stays responsive meanwhile.
        assert city.get("/healthz").status_code == 200
    finally:
        stack.resume("registry")
    assert city.get("/api/v1/registry/districts").status_code == 200


def test_public_routes_need_no_key_and_the_rest_do(stack: Stack) -> None:
    with stack.client() as anonymous:
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/readyz").status_code == 200
        assert anonymous.get("/openapi.json").status_code == 200
        assert anonymous.get("/docs").status_code == 200
        assert anonymous.get("/api/v1/registry/districts").status_code == 401
        if "eligibility" in present_services():
            measures = anonymous.get("/api/v1/eligibility/measures")
            assert measures.status_code == 200, measures.text
            assert measures.headers["content-type"].startswith("application/json")
        metrics = anonymous.get("/metrics").text
        assert 'route="/api/v1/registry/districts"' in metrics


def test_cors_preflight_from_an_allowed_origin(stack: Stack) -> None:
    with stack.client() as anonymous:
        preflight = anonymous.options(
            "/api/v1/registry/enterprises",
            headers={"Origin": "https://screens.cq.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://screens.cq.example"
