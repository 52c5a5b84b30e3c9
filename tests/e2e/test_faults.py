"""Faults with real processes, on a PostgreSQL server of the tests' own (tests/pgcluster.py): the database stopped
under traffic and brought back, crashed in the middle of an atomic import, and the registry slow while eligibility
screens it. Each time the caller gets a clear problem, nothing half-written is left, and the stack recovers by
itself, with no process restarted. The services' own 503s here never open the gateway's circuit breakers (those
count only upstreams that give no answer). (A service stopped or hung behind the gateway: tests/e2e/test_stack.py
and tests/e2e/test_readiness.py.)"""

import asyncio
import itertools
import random
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.seed_demo import seed
from shared.uscc import ALPHABET, make_uscc
from tests.pgcluster import PostgresCluster
from tests.stack import Stack, launch_stack

pytestmark = pytest.mark.e2e

REGISTRY = "/api/v1/registry"
ELIGIBILITY = "/api/v1/eligibility"
# Eligibility gives up on a silent registry after this long (one retry), well before the gateway would.
REGISTRY_TIMEOUT_SECONDS = 1.5
IMPORT_ROWS = 40_000
_rng = random.Random(8)
_serial = itertools.count(1)


def new_uscc(district: str = "500103") -> str:
    return make_uscc("91" + district + "".join(_rng.choice(ALPHABET) for _ in range(9)))


def enterprise(name: str, district: str = "500103") -> dict[str, Any]:
    return {
        "uscc": new_uscc(district),
        "name": name,
        "district_code": district,
        "sector": "software_it",
        "established_on": "2019-05-01",
        "spun_off_from_manufacturer": False,
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    server = PostgresCluster()
    server.create()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def stack(cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        "GATEWAY_UPSTREAM_READ_TIMEOUT": "30",
        "GATEWAY_RATE_LIMIT_PER_SECOND": "10000",
        "GATEWAY_RATE_LIMIT_BURST": "10000",
        "ELIGIBILITY_REGISTRY_TIMEOUT_SECONDS": str(REGISTRY_TIMEOUT_SECONDS),
        "ELIGIBILITY_REGISTRY_RETRIES": "1",
        # The atomic import below is answered at once (a large body would otherwise be a job: tests/jobs).
        "REGISTRY_IMPORT_ASYNC_THRESHOLD_BYTES": "0",
    }
    with launch_stack(tmp_path_factory.mktemp("fault-logs"), env, admin_url=cluster.admin_url) as result:
        seed(result.gateway, result.keys["city"], enterprise_count=120)
        yield result


@pytest.fixture
def city(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(stack.keys["city"]) as client:
        yield client


def registry_query(stack: Stack, sql: str, *args: Any) -> Any:
    """One value from the registry's database, read directly."""
    url = stack.databases["registry"].url.replace("postgresql+asyncpg://", "postgresql://")

    async def fetch() -> Any:
        connection = await asyncpg.connect(url)
        try:
            return await connection.fetchval(sql, *args)
        finally:
            await connection.close()

    return asyncio.run(fetch())


def assert_database_problem(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 503 and problem["request_id"]
    assert "database" in problem["detail"].lower(), problem


def wait_until_answering(client: httpx.Client, path: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get(path).status_code == 200:
            return
        time.sleep(0.2)
    raise AssertionError(f"{path} did not recover within {timeout} s")


def test_postgres_stopped_under_traffic(stack: Stack, cluster: PostgresCluster, city: httpx.Client) -> None:
    """Reads and writes keep coming while PostgreSQL stops for two seconds and starts again."""
    answers: list[tuple[str, httpx.Response, dict[str, Any] | None]] = []
    done = threading.Event()

    def traffic() -> None:
        with stack.client(stack.keys["city"]) as client:
            while not done.is_set():
                answers.append(("read", client.get(f"{REGISTRY}/enterprises?limit=20"), None))
                body = enterprise(f"故障演练企业{next(_serial)}有限公司")
                answers.append(("write", client.post(f"{REGISTRY}/enterprises", json=body), body))
                time.sleep(0.01)

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        time.sleep(1.0)
        cluster.stop("fast")
        time.sleep(2.0)
        cluster.start()
        restarted_at = len(answers)
        time.sleep(4.0)
    finally:
        done.set()
        worker.join(timeout=60)

    refused = [response for _, response, _ in answers if response.status_code == 503]
    assert refused, "no request met the stopped database"
    for kind, response, _ in answers:
        allowed = {200, 503} if kind == "read" else {201, 503}
        assert response.status_code in allowed, (kind, response.status_code, response.text)
    for response in refused:
        assert_database_problem(response)
    # Recovered without a restart: the last requests, well after the database came back, all succeeded.
    tail = answers[restarted_at:][-20:]
    assert len(tail) == 20 and all(response.status_code in (200, 201) for _, response, _ in tail)

    # No partial writes: every 201 is there, and every enterprise there has the audit entry written with it.
    created = [body["uscc"] for kind, response, body in answers if kind == "write" and response.status_code == 201]
    stored = registry_query(stack, "SELECT count(*) FROM enterprises WHERE uscc = ANY($1::text[])", created)
    assert stored == len(created)
    unaudited = registry_query(
        stack,
        "SELECT count(*) FROM enterprises e WHERE NOT EXISTS "
        "(SELECT 1 FROM audit_log a WHERE a.entity_type = 'enterprise' AND a.entity_id = e.uscc "
        "AND a.action IN ('create', 'import'))",
    )
    assert unaudited == 0
    # The registry answered each 503 itself, at once: the gateway's circuit for it never opened.
    metrics = city.get("/metrics").text
    assert 'gateway_upstream_circuit_state{upstream="registry"} 0.0' in metrics
    assert 'gateway_upstream_circuit_transitions_total{state="open",upstream="registry"}' not in metrics


def test_a_crash_in_the_middle_of_an_atomic_import_writes_nothing(
    stack: Stack, cluster: PostgresCluster, city: httpx.Client
) -> None:
    marker = f"断电导入{uuid.uuid4().hex[:6]}"
    rows = [
        {
            **enterprise(f"{marker}企业{index}有限公司"),
            "year": 2025,
            "revenue_yuan": "12000000.00",
            "employees": 40,
            "above_scale": False,
        }
        for index in range(IMPORT_ROWS)
    ]
    key = str(uuid.uuid4())
    path = f"{REGISTRY}/enterprises/import?atomic=true"
    answer: list[httpx.Response] = []

    def send() -> None:
        with stack.client(stack.keys["city"]) as client:
            answer.append(client.post(path, json=rows, headers={"Idempotency-Key": key}, timeout=120))

    sender = threading.Thread(target=send)
    sender.start()
    # Crash PostgreSQL once the import is writing (its COPY or UPDATE is running), not before.
    registry_db = stack.databases["registry"].name
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not answer:
        writing = asyncio.run(_writing(cluster, registry_db))
        if writing:
            break
        time.sleep(0.02)
    assert not answer, f"the import ended before it could be interrupted: {answer[0].text[:400]}"
    cluster.stop("immediate")
    sender.join(timeout=120)
    cluster.start()

    assert_database_problem(answer[0])
    wait_until_answering(city, f"{REGISTRY}/enterprises?limit=1")
    like = f"{marker}%"
    assert registry_query(stack, "SELECT count(*) FROM enterprises WHERE name LIKE $1", like) == 0
    assert registry_query(stack, "SELECT count(*) FROM audit_log WHERE after->>'name' LIKE $1", like) == 0

    # The same request again, with the same key: a failed attempt left no record, so this one does the work.
    retried = city.post(path, json=rows, headers={"Idempotency-Key": key}, timeout=120)
    assert retried.status_code == 200, retried.text
    assert retried.json()["created"] == IMPORT_ROWS and not retried.json()["rejected"]
    assert registry_query(stack, "SELECT count(*) FROM enterprises WHERE name LIKE $1", like) == IMPORT_ROWS


async def _writing(cluster: PostgresCluster, database: str) -> bool:
    connection = await asyncpg.connect(cluster.admin_url)
    try:
        found = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'active' "
            "AND (query ILIKE 'COPY%' OR query ILIKE 'UPDATE%' OR query ILIKE 'INSERT%')",
            database,
        )
        return bool(found)
    finally:
        await connection.close()


def _screen_while_paused(stack: Stack, city: httpx.Client, paused_for: float) -> tuple[httpx.Response, float]:
    """A screening of the whole registry sent while the registry process is stopped for `paused_for` seconds,
    and how long the answer took."""
    stack.pause("registry")
    timer = threading.Timer(paused_for, stack.resume, args=("registry",))
    timer.start()
    try:
        started = time.monotonic()
        response = city.post(f"{ELIGIBILITY}/screenings", json={"as_of": "2025-06-30", "year": 2025})
        return response, time.monotonic() - started
    finally:
        timer.join()
        stack.resume("registry")


def test_a_registry_slower_than_the_timeout_gives_a_clear_problem_and_recovers(
    stack: Stack, city: httpx.Client
) -> None:
    paused_for = 3 * REGISTRY_TIMEOUT_SECONDS + 2
    response, waited = _screen_while_paused(stack, city, paused_for)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert "registry" in problem["detail"] and problem["upstream"] == "registry", problem
    # Eligibility gave up after its timeout and one retry, not when the registry came back.
    assert waited < paused_for

    again = city.post(f"{ELIGIBILITY}/screenings", json={"as_of": "2025-06-30", "year": 2025})
    assert again.status_code == 200, again.text
    assert again.json()["totals"]["count"] > 0


def test_a_registry_slow_within_the_timeout_only_makes_screening_slower(stack: Stack, city: httpx.Client) -> None:
    baseline = city.post(f"{ELIGIBILITY}/screenings", json={"as_of": "2025-06-30", "year": 2025})
    assert baseline.status_code == 200, baseline.text
    slow, _ = _screen_while_paused(stack, city, paused_for=REGISTRY_TIMEOUT_SECONDS / 2)
    assert slow.status_code == 200, slow.text
    assert slow.json()["totals"] == baseline.json()["totals"]
