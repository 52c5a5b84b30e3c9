"""Eligibility figures (issue 3): /calculate p50 in-process, a batch of 10,000, and screening 100,000 subjects.

`/calculate` and the batch are measured as issue 3 asks, in-process: the service's own handling time at its ASGI
interface (signed principal headers, middleware, validation, rules, JSON), no HTTP client. For context the same
two requests are also measured over HTTP, against the service as a uvicorn process.

The screening runs end to end over HTTP: the registry as a uvicorn process over a scratch database filled by bulk
insert, the eligibility service as a uvicorn process reading it with its pooled client, the bench asking it.

Ceilings, measured in the same run: the bare app (`tests/bench/_ceiling.py`) served the way the service is served,
answering the bytes the service answered to the same requests: in-process through the same direct ASGI call for
the in-process figures, in a uvicorn process with the same flags and the same HTTP client for the others.
"""

import asyncio
import json
import os
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

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
from shared.uscc import make_uscc
from tests.bench._ceiling import CeilingApp, CeilingServer, ceiling_server
from tests.bench._report import figure
from tests.bench._services import service, signed_client
from tests.support import ANONYMOUS, CITY, TEST_SECRET, TestDatabase, asgi_client

CALCULATE_REQUESTS = 2_000
BATCH_SIZE = 10_000
BATCH_REPEATS = 5
SCREENING_REPEATS = 3
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


def verified(now: datetime) -> dict[str, Any]:
    """The verification columns of a fact the city wrote: verified as written."""
    return {
        "verification_status": "verified",
        "submitted_by": "city",
        "submitted_at": now,
        "verified_by": "city",
        "verified_at": now,
        "verification_reason": None,
    }


def registry_rows(seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    districts = sorted(DISTRICT_CODES)
    sectors = sorted(SECTOR_CODES)
    now = datetime.now(UTC)
    city = verified(now)
    enterprises: list[dict[str, Any]] = []
    years: list[dict[str, Any]] = []
    usccs: list[str] = []
    for index in range(ENTERPRISES):
        district = districts[index % len(districts)]
        uscc = make_uscc(f"91{district}{index:09d}")
        usccs.append(uscc)
        established = date(2015 + index % 11, 1 + index % 12, 1)
        spun_off = rng.random() < 0.02
        enterprises.append(
            {
                "uscc": uscc,
                "name": f"重庆基准企业{index}有限公司",
                "district_code": district,
                "sector": rng.choice(sectors),
                "established_on": established,
                "spun_off_from_manufacturer": spun_off,
                "parent_uscc": make_uscc(f"91{district}{index + 500_000_000:09d}") if spun_off else None,
                "spun_off_on": established if spun_off else None,
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
                    "district_code": district,
                    "updated_at": now,
                    **city,
                }
            )
    projects: list[dict[str, Any]] = []
    for index in range(PROJECTS):
        kind = ("investment", "platform", "event")[index % 3]
        owner = rng.randrange(ENTERPRISES)
        projects.append(
            {
                "id": index + 1,
                "kind": kind,
                "owner_uscc": usccs[owner],
                # A project belongs to its owner's district.
                "district_code": districts[owner % len(districts)],
                "name": f"基准项目{index}",
                "year": YEAR,
                "platform_domain": rng.choice(PLATFORM_DOMAINS) if kind == "platform" else None,
                "verified_investment_yuan": _money(rng, 100_000, 80_000_000) if kind != "event" else None,
                "actual_spend_yuan": _money(rng, 10_000, 5_000_000) if kind == "event" else None,
                "special_major_approved": kind == "investment" and rng.random() < 0.01,
                "name_key": f"基准项目{index}",
                "created_at": now,
                **city,
            }
        )
    clusters = [
        {
            "id": index + 1,
            "name": f"基准集聚区{index}",
            "district_code": districts[index % len(districts)],
            "manager_uscc": usccs[rng.randrange(ENTERPRISES)],
            "belongs_to_kind": "district",
            "belongs_to_district": districts[index % len(districts)],
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
                **city,
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
            **city,
        }
        for index in range(BUILDINGS)
    ]
    building_years = [
        {
            "building_id": index + 1,
            "year": year,
            "revenue_yuan": _money(rng, 5_000_000, 50_000_000),
            "updated_at": now,
            **city,
        }
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
            for name in ("projects", "clusters", "buildings"):
                await connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                )
            await connection.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
    return time.perf_counter() - started


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


async def asgi_call(app: Any, path: str, body: bytes, principal_headers: dict[str, str]) -> tuple[int, bytes]:
    """One POST straight into the ASGI app (no HTTP client): the service's own handling time; status and body."""
    delivered = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(key.lower().encode(), value.encode()) for key, value in principal_headers.items()]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80), "state": {},
    }  # fmt: skip
    await app(scope, receive, send)
    return status, b"".join(chunks)


def signed_calls(path: str, body: bytes, count: int) -> list[dict[str, str]]:
    """`count` header sets signing an anonymous POST of `body` to `path`: a signature is accepted once (its nonce),
    so each call has its own, made before the clock starts."""
    return [
        sign_principal(
            TEST_SECRET, "POST", path, ANONYMOUS, audience="eligibility", body=body, request_id=uuid.uuid4().hex
        )
        for _ in range(count)
    ]


async def _timed_calls(app: Any, path: str, body: bytes, count: int) -> list[float]:
    samples = []
    for headers in signed_calls(path, body, count):
        started = time.perf_counter()
        status, _ = await asgi_call(app, path, body, headers)
        samples.append(time.perf_counter() - started)
        assert status == 200
    return samples


async def _timed_posts(client: Any, path: str, body: bytes, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.post(path, content=body, headers={"content-type": "application/json"})
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text[:300]
    return samples


def _calculate_body() -> bytes:
    body = {
        "measure_id": "M01",
        "as_of": AS_OF,
        "facts": {"verified_investment_yuan": "12345678.95", "special_major_approved": False},
    }
    return json.dumps(body).encode()


def _batch_body() -> bytes:
    items = [
        {"measure_id": "M13", "as_of": AS_OF, "facts": {"actual_spend_yuan": f"{(index + 1) * 1000}.00"}}
        for index in range(BATCH_SIZE)
    ]
    return json.dumps(items).encode()


async def in_process_figures(app: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """/calculate and the batch at the app's ASGI interface, beside the bare app called the same way."""
    bare = CeilingApp()
    raw = _calculate_body()
    [signed] = signed_calls("/calculate", raw, 1)
    status, answer = await asgi_call(app, "/calculate", raw, signed)
    assert status == 200
    bare.record("POST", "/calculate", 200, "application/json", answer)
    for headers in signed_calls("/calculate", raw, 300):
        await asgi_call(app, "/calculate", raw, headers)
        await asgi_call(bare, "/calculate", raw, headers)
    direct = await _timed_calls(app, "/calculate", raw, CALCULATE_REQUESTS)
    ceiling = await _timed_calls(bare, "/calculate", raw, CALCULATE_REQUESTS)
    async with asgi_client(app, ANONYMOUS) as client:
        via_client = await _timed_posts(client, "/calculate", raw, CALCULATE_REQUESTS)

    batch_raw = _batch_body()
    batch_direct = []
    batch_answer = b""
    for batch_signed in signed_calls("/calculate/batch", batch_raw, BATCH_REPEATS):
        started = time.perf_counter()
        status, batch_answer = await asgi_call(app, "/calculate/batch", batch_raw, batch_signed)
        batch_direct.append(time.perf_counter() - started)
        assert status == 200
    assert json.loads(batch_answer)["count"] == BATCH_SIZE
    bare.record("POST", "/calculate/batch", 200, "application/json", batch_answer)
    batch_ceiling = await _timed_calls(bare, "/calculate/batch", batch_raw, BATCH_REPEATS)

    p50_ms, ceiling_p50_ms = _ms(statistics.median(direct)), _ms(statistics.median(ceiling))
    batch_ms, batch_ceiling_ms = _ms(statistics.median(batch_direct)), _ms(statistics.median(batch_ceiling))
    detail = {
        "calculate_requests": CALCULATE_REQUESTS,
        "calculate_p50_ms": p50_ms,
        "calculate_p95_ms": _ms(statistics.quantiles(direct, n=20)[-1]),
        "calculate_via_in_process_httpx_client_p50_ms": _ms(statistics.median(via_client)),
        "calculate_ceiling_p50_ms": ceiling_p50_ms,
        "engine_only_p50_ms": _ms(engine_p50()),
        "batch_items": BATCH_SIZE,
        "batch_requests": BATCH_REPEATS,
        "batch_median_ms": batch_ms,
        "batch_ceiling_median_ms": batch_ceiling_ms,
        "batch_request_mb": round(len(batch_raw) / 1e6, 2),
        "batch_answer_mb": round(len(batch_answer) / 1e6, 1),
    }
    method = "bare ASGI app answering the same bytes, same direct ASGI call"
    figures = [
        figure(
            "eligibility.calculate_p50",
            p50_ms,
            ceiling=ceiling_p50_ms,
            ceiling_method=method,
            notes=f"POST /calculate (M01) at the app's ASGI interface, {CALCULATE_REQUESTS} requests; "
            f"rules engine alone {detail['engine_only_p50_ms']} ms, through an in-process httpx client "
            f"{detail['calculate_via_in_process_httpx_client_p50_ms']} ms",
        ),
        figure(
            "eligibility.batch_10000_median",
            batch_ms,
            ceiling=batch_ceiling_ms,
            ceiling_method=method,
            notes=f"POST /calculate/batch of {BATCH_SIZE:,} M13 items ({detail['batch_request_mb']} MB in, "
            f"{detail['batch_answer_mb']} MB out) at the app's ASGI interface, {BATCH_REPEATS} requests",
        ),
    ]
    return figures, detail


async def http_figures(url: str, ceiling: CeilingServer) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """/calculate, the batch and the screening over HTTP, beside the bare uvicorn app asked the same way."""
    raw, batch_raw = _calculate_body(), _batch_body()
    screening_request = {"as_of": AS_OF, "year": YEAR}
    async with (
        signed_client(url, ANONYMOUS) as public,
        signed_client(ceiling.url, ANONYMOUS) as bare_public,
        signed_client(url, CITY) as city,
        signed_client(ceiling.url, CITY) as bare_city,
    ):
        answer = await public.post("/calculate", content=raw, headers={"content-type": "application/json"})
        assert answer.status_code == 200, answer.text[:300]
        await ceiling.record(answer)
        await _timed_posts(public, "/calculate", raw, 300)
        await _timed_posts(bare_public, "/calculate", raw, 300)
        calculate = await _timed_posts(public, "/calculate", raw, CALCULATE_REQUESTS)
        calculate_bare = await _timed_posts(bare_public, "/calculate", raw, CALCULATE_REQUESTS)

        batch: list[float] = []
        for _ in range(BATCH_REPEATS):
            started = time.perf_counter()
            answer = await public.post("/calculate/batch", content=batch_raw, headers={"content-type": "application/json"})  # fmt: skip
            batch.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text[:300]
        await ceiling.record(answer)
        batch_bare = await _timed_posts(bare_public, "/calculate/batch", batch_raw, BATCH_REPEATS)

        screening: list[float] = []
        for _ in range(SCREENING_REPEATS):
            started = time.perf_counter()
            answer = await city.post("/screenings", json=screening_request)
            screening.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.text[:300]
        await ceiling.record(answer)
        screening_bare: list[float] = []
        for _ in range(SCREENING_REPEATS):
            started = time.perf_counter()
            bare_answer = await bare_city.post("/screenings", json=screening_request)
            screening_bare.append(time.perf_counter() - started)
            assert bare_answer.content == answer.content

    body = answer.json()
    read = body["subjects_read"]
    subjects = read["projects"] + read["clusters"] + read["buildings"] + read["enterprises"]
    median: dict[str, float] = {
        name: _ms(statistics.median(samples))
        for name, samples in (
            ("calculate", calculate),
            ("calculate_bare", calculate_bare),
            ("batch", batch),
            ("batch_bare", batch_bare),
            ("screening", screening),
            ("screening_bare", screening_bare),
        )
    }
    detail = {
        "calculate_over_http_p50_ms": median["calculate"],
        "calculate_over_http_ceiling_p50_ms": median["calculate_bare"],
        "batch_over_http_median_ms": median["batch"],
        "batch_over_http_ceiling_median_ms": median["batch_bare"],
        "screening_subjects": subjects,
        "screening_subjects_read": read,
        "screening_evaluations": body["evaluations"],
        "screening_eligible": body["totals"]["count"],
        "screening_amount_yuan": body["totals"]["amount_yuan"],
        "screening_requests": SCREENING_REPEATS,
        "screening_median_ms": median["screening"],
        "screening_best_ms": _ms(min(screening)),
        "screening_answer_mb": round(len(answer.content) / 1e6, 2),
        "screening_ceiling_median_ms": median["screening_bare"],
    }
    method = "bare uvicorn app answering the same bytes, same HTTP client"
    figures = [
        figure(
            "eligibility.screening_100000_median",
            median["screening"],
            ceiling=median["screening_bare"],
            ceiling_method=method,
            notes=f"POST /screenings to a uvicorn process reading {subjects:,} subjects from a registry process "
            f"({REGISTRY_WORKERS} worker) over HTTP, {body['evaluations']:,} evaluations, answer "
            f"{detail['screening_answer_mb']} MB; {SCREENING_REPEATS} requests, best {detail['screening_best_ms']:.0f} ms",
        ),
        figure(
            "eligibility.calculate_http_p50",
            median["calculate"],
            ceiling=median["calculate_bare"],
            ceiling_method=method,
            notes=f"the same POST /calculate to a uvicorn process, {CALCULATE_REQUESTS} sequential requests",
        ),
        figure(
            "eligibility.batch_10000_http_median",
            median["batch"],
            ceiling=median["batch_bare"],
            ceiling_method=method,
            notes=f"the same POST /calculate/batch to a uvicorn process, {BATCH_REPEATS} requests",
        ),
    ]
    return figures, detail


async def run() -> dict[str, Any]:
    registry_db = TestDatabase("bench_registry", REGISTRY_DIR)
    eligibility_db = TestDatabase("bench_eligibility", ELIGIBILITY_DIR)
    created: list[TestDatabase] = []
    try:
        for database in (registry_db, eligibility_db):
            # Creating and migrating run their own event loops, so they go to a thread.
            await asyncio.to_thread(database.create)
            created.append(database)
        fill_seconds = await fill_registry(registry_db.url)
        async with (
            service("registry", registry_db.url, workers=REGISTRY_WORKERS) as registry_url,
            service("eligibility", eligibility_db.url, registry_url=registry_url) as eligibility_url,
            ceiling_server() as ceiling,
        ):
            settings = EligibilitySettings(
                database_url=eligibility_db.url, environment="test", registry_url=registry_url, log_level="WARNING"
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                figures, detail = await in_process_figures(app)
            more_figures, more_detail = await http_figures(eligibility_url, ceiling)
        figures += more_figures
        detail.update(more_detail)
        detail.update(
            {
                "registry_fill_s": round(fill_seconds, 1),
                "registry_workers": REGISTRY_WORKERS,
            }
        )
        return {"figures": figures, "detail": detail}
    finally:
        for database in created:
            await asyncio.to_thread(database.drop)
