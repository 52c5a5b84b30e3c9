"""Eligibility figures: /calculate p50 in-process, a batch of 10,000, and screening 100,000 registry subjects.

`calculate_p50_ms` and `batch_median_s` are the service's own handling time, measured at its ASGI interface
(signed principal headers, middleware, validation, rules, JSON); the `_via_httpx_client` figures add an in-process
httpx client's encoding and decoding on top.

The screening runs end to end: the registry as a uvicorn process on a free port over a scratch database filled
by bulk insert, the eligibility app reading it over HTTP with its pooled client.
"""

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import create_async_engine

from services.eligibility import SERVICE_DIR as ELIGIBILITY_DIR
from services.eligibility.main import create_app
from services.eligibility.parameters.definitions import load_parameter_set
from services.eligibility.rules.engine import evaluate, parse_facts
from services.eligibility.settings import EligibilitySettings
from services.registry import SERVICE_DIR as REGISTRY_DIR
from services.registry.models import (
    Building,
    BuildingYear,
    Cluster,
    ClusterEvaluation,
    Enterprise,
    EnterpriseYear,
    Project,
)
from shared.auth import sign_principal
from shared.reference import DISTRICT_CODES, SECTOR_CODES
from shared.reference import PLATFORM_DOMAINS as DOMAINS
from shared.settings import PROJECT_ROOT
from shared.uscc import make_uscc
from tests.support import ANONYMOUS, CITY, TEST_SECRET, TestDatabase, asgi_client, free_port

CALCULATE_REQUESTS = 2_000
BATCH_SIZE = 10_000
ENTERPRISES = 90_000
PROJECTS = 8_000
CLUSTERS = 1_000
BUILDINGS = 1_000
YEAR = 2025
# Registry processes behind the port (uvicorn --workers); BENCH_REGISTRY_WORKERS overrides.
REGISTRY_WORKERS = int(os.environ.get("BENCH_REGISTRY_WORKERS", "1"))
AS_OF = "2025-06-30"
PLATFORM_DOMAINS = tuple(DOMAINS)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def registry_rows(seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    districts = sorted(DISTRICT_CODES)
    sectors = sorted(SECTOR_CODES)
    now = datetime.now(UTC)
    enterprises: list[dict[str, Any]] = []
    years: list[dict[str, Any]] = []
    usccs: list[str] = []
    for index in range(ENTERPRISES):
        district = districts[index % len(districts)]
        uscc = make_uscc(f"91{district}{index:09d}")
        usccs.append(uscc)
        enterprises.append(
            {
                "uscc": uscc,
                "name": f"重庆基准企业{index}有限公司",
                "district_code": district,
                "sector": rng.choice(sectors),
                "established_on": date(2015 + index % 10, 1 + index % 12, 1),
                "spun_off_from_manufacturer": rng.random() < 0.02,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        for year, listed in ((YEAR - 1, rng.random() < 0.0005), (YEAR, rng.random() < 0.002)):
            years.append(
                {
                    "uscc": uscc,
                    "year": year,
                    "revenue_yuan": _money(rng, 1_000_000, 60_000_000),
                    "employees": rng.randrange(10, 2_000),
                    "above_scale": rng.random() < 0.6,
                    "top500_service": listed,
                    "updated_at": now,
                }
            )
    projects: list[dict[str, Any]] = []
    for index in range(PROJECTS):
        kind = ("investment", "platform", "event")[index % 3]
        projects.append(
            {
                "id": index + 1,
                "kind": kind,
                "owner_uscc": usccs[rng.randrange(ENTERPRISES)],
                "district_code": districts[index % len(districts)],
                "name": f"基准项目{index}",
                "year": YEAR,
                "platform_domain": rng.choice(PLATFORM_DOMAINS) if kind == "platform" else None,
                "verified_investment_yuan": _money(rng, 100_000, 80_000_000) if kind != "event" else None,
                "actual_spend_yuan": _money(rng, 10_000, 5_000_000) if kind == "event" else None,
                "special_major_approved": kind == "investment" and rng.random() < 0.01,
                "created_at": now,
            }
        )
    clusters = [
        {
            "id": index + 1,
            "name": f"基准集聚区{index}",
            "district_code": districts[index % len(districts)],
            "manager_uscc": usccs[rng.randrange(ENTERPRISES)],
            "created_at": now,
        }
        for index in range(CLUSTERS)
    ]
    evaluations = []
    for index in range(CLUSTERS):
        grade = rng.choice("ABCD")
        evaluations.append(
            {
                "cluster_id": index + 1,
                "year": YEAR,
                "grade": grade,
                "score": Decimal(rng.randrange(5_000, 10_000)) / 100,
                "tier": rng.randrange(1, 5) if grade == "A" else None,
                "updated_at": now,
            }
        )
    buildings = [
        {
            "id": index + 1,
            "name": f"基准楼宇{index}",
            "district_code": districts[index % len(districts)],
            "stars": rng.randrange(1, 6),
            "operator_uscc": usccs[rng.randrange(ENTERPRISES)],
            "created_at": now,
        }
        for index in range(BUILDINGS)
    ]
    building_years = [
        {"building_id": index + 1, "year": year, "revenue_yuan": _money(rng, 5_000_000, 50_000_000), "updated_at": now}
        for index in range(BUILDINGS)
        for year in (YEAR - 1, YEAR)
    ]
    return {
        "enterprises": enterprises,
        "enterprise_years": years,
        "projects": projects,
        "clusters": clusters,
        "cluster_evaluations": evaluations,
        "buildings": buildings,
        "building_years": building_years,
    }


async def fill_registry(url: str) -> float:
    rows = registry_rows()
    tables = {
        "enterprises": _table(Enterprise),
        "enterprise_years": _table(EnterpriseYear),
        "projects": _table(Project),
        "clusters": _table(Cluster),
        "cluster_evaluations": _table(ClusterEvaluation),
        "buildings": _table(Building),
        "building_years": _table(BuildingYear),
    }
    started = time.perf_counter()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            for name, table in tables.items():
                batch = rows[name]
                for start in range(0, len(batch), 2_000):
                    await connection.execute(insert(table), batch[start : start + 2_000])
            if connection.dialect.name == "postgresql":
                for name in ("projects", "clusters", "buildings"):
                    await connection.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                    )
                await connection.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
    return time.perf_counter() - started


def start_registry(url: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "REGISTRY_DATABASE_URL": url, "REGISTRY_ENVIRONMENT": "test", "REGISTRY_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "services.registry.main:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log",
         "--log-level", "warning"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("the registry did not start")


def engine_p50() -> float:
    parameters = load_parameter_set()
    facts = parse_facts("M01", {"verified_investment_yuan": "12345678.95", "special_major_approved": False})
    as_of = date(2025, 6, 30)
    samples = []
    for _ in range(5_000):
        started = time.perf_counter()
        evaluate("M01", as_of, facts, parameters)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def asgi_call(app: Any, path: str, body: bytes, principal_headers: dict[str, str]) -> tuple[int, int]:
    """One POST straight into the ASGI app (no HTTP client): the service's own handling time."""
    delivered = False
    result = {"status": 0, "bytes": 0}

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            result["status"] = message["status"]
        elif message["type"] == "http.response.body":
            result["bytes"] += len(message.get("body", b""))

    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(key.lower().encode(), value.encode()) for key, value in principal_headers.items()]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80), "state": {},
    }  # fmt: skip
    await app(scope, receive, send)
    return result["status"], result["bytes"]


async def calculate_figures(app: Any) -> dict[str, Any]:
    body = {
        "measure_id": "M01",
        "as_of": AS_OF,
        "facts": {"verified_investment_yuan": "12345678.95", "special_major_approved": False},
    }
    raw = json.dumps(body).encode()
    signed = sign_principal(TEST_SECRET, "POST", "/calculate", ANONYMOUS)
    for _ in range(300):
        await asgi_call(app, "/calculate", raw, signed)
    direct = []
    for _ in range(CALCULATE_REQUESTS):
        started = time.perf_counter()
        status, _ = await asgi_call(app, "/calculate", raw, signed)
        direct.append(time.perf_counter() - started)
        assert status == 200
    client = asgi_client(app, ANONYMOUS)
    via_client = []
    for _ in range(CALCULATE_REQUESTS):
        started = time.perf_counter()
        response = await client.post("/calculate", json=body)
        via_client.append(time.perf_counter() - started)
        assert response.status_code == 200
    items = [
        {"measure_id": "M13", "as_of": AS_OF, "facts": {"actual_spend_yuan": f"{(index + 1) * 1000}.00"}}
        for index in range(BATCH_SIZE)
    ]
    batch_raw = json.dumps(items).encode()
    batch_signed = sign_principal(TEST_SECRET, "POST", "/calculate/batch", ANONYMOUS)
    batch_direct, batch_client = [], []
    answer_bytes = 0
    for _ in range(5):
        started = time.perf_counter()
        status, answer_bytes = await asgi_call(app, "/calculate/batch", batch_raw, batch_signed)
        batch_direct.append(time.perf_counter() - started)
        assert status == 200
        started = time.perf_counter()
        response = await client.post("/calculate/batch", json=items)
        assert response.status_code == 200 and response.json()["count"] == BATCH_SIZE
        batch_client.append(time.perf_counter() - started)
    return {
        "calculate_requests": CALCULATE_REQUESTS,
        "calculate_p50_ms": _ms(statistics.median(direct)),
        "calculate_p95_ms": _ms(statistics.quantiles(direct, n=20)[-1]),
        "calculate_target_p50_ms": 0.5,
        "calculate_via_httpx_client_p50_ms": _ms(statistics.median(via_client)),
        "engine_only_p50_ms": _ms(engine_p50()),
        "batch_items": BATCH_SIZE,
        "batch_median_s": round(statistics.median(batch_direct), 3),
        "batch_target_s": 0.5,
        "batch_via_httpx_client_median_s": round(statistics.median(batch_client), 3),
        "batch_answer_mb": round(answer_bytes / 1e6, 1),
    }


async def run() -> dict[str, Any]:
    registry_db = TestDatabase("bench_registry", REGISTRY_DIR)
    eligibility_db = TestDatabase("bench_eligibility", ELIGIBILITY_DIR)
    await asyncio.to_thread(registry_db.create)
    await asyncio.to_thread(eligibility_db.create)
    process: subprocess.Popen[bytes] | None = None
    try:
        fill_seconds = await fill_registry(registry_db.url)
        process, registry_url = await asyncio.to_thread(start_registry, registry_db.url, REGISTRY_WORKERS)
        settings = EligibilitySettings(
            database_url=eligibility_db.url, environment="test", registry_url=registry_url, log_level="WARNING"
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            figures = await calculate_figures(app)
            client = asgi_client(app, CITY)
            screening_times = []
            body: dict[str, Any] = {}
            for _ in range(3):
                started = time.perf_counter()
                response = await client.post("/screenings", json={"as_of": AS_OF, "year": YEAR})
                body = response.json()
                screening_times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            read = body["subjects_read"]
            figures.update(
                {
                    "screening_subjects": read["projects"] + read["clusters"] + read["buildings"] + read["enterprises"],
                    "screening_subjects_read": read,
                    "screening_evaluations": body["evaluations"],
                    "screening_eligible": body["totals"]["count"],
                    "screening_amount_yuan": body["totals"]["amount_yuan"],
                    "screening_median_s": round(statistics.median(screening_times), 3),
                    "screening_best_s": round(min(screening_times), 3),
                    "screening_target_s": 5.0,
                    "registry_fill_s": round(fill_seconds, 1),
                    "registry_workers": REGISTRY_WORKERS,
                    "database": "postgresql" if registry_db.postgres else "sqlite",
                }
            )
        return figures
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
        await asyncio.to_thread(registry_db.drop)
        await asyncio.to_thread(eligibility_db.drop)
