"""Award ledger figures (issue 4): award creation throughput under 16 concurrent writers on distinct subjects.

Two kinds of award, measured separately, each POST /awards over HTTP to the eligibility service as a uvicorn
process (signed principal, validation, the key's advisory lock, the standing read, the insert and its event, the
commit), 16 writers each with its own connection:
- recorded without a formula: awards of another city policy and of measures without a formula (each still reads
  its subject from the registry: an enterprise it does not hold, so the caller's district stands);
- computable (M01 on investment projects): each one also reads its project from the registry over HTTP (a uvicorn
  process on a scratch database, as in the eligibility bench) and runs the rules with their trace.
A third figure has the 16 writers contend for one subject with rising amounts: every award supersedes the last.

The exports (issue 19): GET /awards/export.csv and /export.xlsx of 100,000 awards, in seconds and as the growth of
the eligibility process's peak resident set during the request (VmHWM, reset before each through
/proc/<pid>/clear_refs). The 100,000 awards are written into the ledger with bulk INSERTs, not through the API (at
the rate above that would take minutes), after the throughput figures: M13 awards on distinct projects, each with a
calculation as the rules record it, one in a hundred named like a formula (neutralised on the way out). Their
ceiling is the bare app answering the same bytes to the same client: what moving the document alone costs.

Issue 4 names the throughput but sets no target. The ceiling of each figure, measured in the same run: the bare
app (`tests/bench/_ceiling.py`) in a uvicorn process with the same flags, answering the 201 the service answered,
to the same bodies posted by the same 16 writers.
"""

import asyncio
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from services.eligibility import SERVICE_DIR as ELIGIBILITY_DIR
from services.eligibility.awards.models import Award
from services.registry import SERVICE_DIR as REGISTRY_DIR
from services.registry.models import Enterprise, Project
from shared.reference import DISTRICTS
from shared.uscc import make_uscc
from tests.bench._ceiling import CeilingServer, ceiling_server
from tests.bench._report import figure
from tests.bench._services import service, signed_client
from tests.bench.eligibility import verified
from tests.bench.registry import peak_mib, reset_peak, service_process
from tests.support import CITY, TestDatabase

WRITERS = 16
RECORDED = 4_000
COMPUTABLE = 2_000
CONTENDED = 800
EXPORTED = 100_000
EXPORT_MEASURE = "M13"
OTHER_POLICY = "渝经信发〔2023〕12号"
# （一）10% × 12,345,678.95 = 1,234,567.895 → 1,234,567.90
INVESTMENT = Decimal("12345678.95")
M01_MAX = "1234567.90"


def _codes() -> list[str]:
    return [district.code for district in DISTRICTS]


async def fill_projects(url: str, count: int) -> None:
    """`count` investment projects, each of its own registered owner, written (and so verified) by the city."""
    codes = _codes()
    now = datetime.now(UTC)
    owners = [
        {
            "uscc": make_uscc(f"91{codes[index % len(codes)]}{index:09d}"),
            "name": f"基准业主{index}有限公司",
            "district_code": codes[index % len(codes)],
            "sector": "software_it",
            "established_on": date(2018, 3, 1),
            "spun_off_from_manufacturer": False,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for index in range(count)
    ]
    rows = [
        {
            "id": index + 1,
            "kind": "investment",
            "owner_uscc": owner["uscc"],
            "district_code": owner["district_code"],
            "name": f"基准项目{index}",
            "name_key": f"基准项目{index}",
            "year": 2025,
            "platform_domain": None,
            "verified_investment_yuan": INVESTMENT,
            "actual_spend_yuan": None,
            "special_major_approved": False,
            "created_at": now,
            **verified(now),
        }
        for index, owner in enumerate(owners)
    ]
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(Enterprise.__table__), owners)  # type: ignore[arg-type]
            await connection.execute(insert(Project.__table__), rows)  # type: ignore[arg-type]
            await connection.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('projects', 'id'), (SELECT max(id) FROM projects))"
            )
            await connection.exec_driver_sql("ANALYZE projects")
    finally:
        await engine.dispose()


async def fill_awards(url: str, count: int) -> None:
    """`count` standing M13 awards of this policy on distinct projects, by bulk INSERT (see the module's docstring)."""
    codes = _codes()
    now = datetime.now(UTC)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            policy_id = (
                await connection.exec_driver_sql(
                    "SELECT id FROM policies WHERE document_number = '渝发改规范〔2024〕7号'"
                )
            ).scalar_one()
            for start in range(0, count, 5_000):
                rows = []
                for index in range(start, min(count, start + 5_000)):
                    district = codes[index % len(codes)]
                    amount = Decimal(100_000 + index % 5_000_000).quantize(Decimal("0.01"))
                    name = f'=HYPERLINK("http://x/?{index}")' if index % 100 == 0 else f"基准导出项目{index}"
                    owner = make_uscc(f"91{district}{index:09d}")
                    rows.append(
                        {
                            "policy_id": policy_id,
                            "policy": "渝发改规范〔2024〕7号",
                            "measure_id": EXPORT_MEASURE,
                            "subject_type": "project",
                            "subject_id": f"EXPORT-{index}",
                            "subject_name": name,
                            "recipient_kind": "enterprise",
                            "recipient": owner,
                            "year": None,
                            "stacking_key": f"project:EXPORT-{index}",
                            "district_code": district,
                            "amount_yuan": amount,
                            "payable_yuan": amount,
                            "status": "proposed",
                            "is_standing": True,
                            "calculation": {
                                "measure_id": EXPORT_MEASURE,
                                "eligible": True,
                                "amount_yuan": f"{amount}",
                                "trace": [
                                    {
                                        "step": "actual_spend_yuan",
                                        "value": f"{amount * 10}",
                                        "citation": "第（十三）条",
                                    },
                                    {"step": "rate", "value": "0.10", "citation": "第（十三）条"},
                                    {"step": "amount_yuan", "value": f"{amount}", "citation": "第（十三）条"},
                                ],
                            },
                            "created_at": now,
                            "created_by": "city",
                            "updated_at": now,
                        }
                    )
                await connection.execute(insert(Award.__table__), rows)  # type: ignore[arg-type]
            await connection.exec_driver_sql("ANALYZE awards")
    finally:
        await engine.dispose()


async def concurrent_posts(
    url: str, bodies: list[dict[str, Any]], accept: Callable[[int], bool], keep: list[httpx.Response] | None = None
) -> dict[str, Any]:
    """POST every body to `url`, WRITERS at a time (each writer its own client, taking the next body when free).

    `keep` receives the first 201 answer (for the ceiling to answer it)."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def writer() -> None:
        async with signed_client(url, CITY) as client:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                response = await client.post("/awards", json=body)
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                assert accept(response.status_code), response.text[:500]
                if keep is not None and not keep and response.status_code == 201:
                    keep.append(response)

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "awards": len(bodies),
        "writers": WRITERS,
        "seconds": round(elapsed, 3),
        "awards_per_second": round(len(bodies) / elapsed),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2),
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
    }


def recorded_bodies() -> list[dict[str, Any]]:
    """Distinct subjects: enterprises under another policy, and （八）finance support (no formula) for districts."""
    codes = _codes()
    bodies: list[dict[str, Any]] = []
    for index in range(RECORDED):
        code = codes[index % len(codes)]
        if index % 2:
            bodies.append(
                {
                    "policy": OTHER_POLICY,
                    "measure_id": "第五条",
                    "subject_type": "enterprise",
                    "subject_id": make_uscc(f"92{code}{index:09d}"),
                    "recipient_kind": "enterprise",
                    "amount_yuan": f"{100_000 + index}.00",
                    "district_code": code,
                }
            )
        else:
            bodies.append(
                {
                    "measure_id": "M08",
                    "subject_type": "enterprise",
                    "subject_id": make_uscc(f"93{code}{index:09d}"),
                    "amount_yuan": f"{50_000 + index}.00",
                    "district_code": code,
                }
            )
    return bodies


async def run() -> dict[str, Any]:
    registry_db = TestDatabase("bench_registry", REGISTRY_DIR)
    eligibility_db = TestDatabase("bench_eligibility", ELIGIBILITY_DIR)
    created: list[TestDatabase] = []
    try:
        for database in (registry_db, eligibility_db):
            # Creating and migrating run their own event loops, so they go to a thread.
            await asyncio.to_thread(database.create)
            created.append(database)
        await fill_projects(registry_db.url, COMPUTABLE)
        async with (
            service("registry", registry_db.url) as registry_url,
            service_process(
                "eligibility", eligibility_db.url, registry_url=registry_url, database_pool_size=str(WRITERS)
            ) as (url, pid),
            ceiling_server() as ceiling,
        ):
            result = await _measure(url, ceiling)
            await fill_awards(eligibility_db.url, EXPORTED)
            exported, detail = await _exports(url, pid, ceiling)
            result["figures"] += exported
            result["detail"]["exports"] = detail
        return result
    finally:
        for database in created:
            await asyncio.to_thread(database.drop)


async def _measure(url: str, ceiling: CeilingServer) -> dict[str, Any]:
    async with signed_client(url, CITY) as client:
        policy = {
            "document_number": OTHER_POLICY,
            "title": "基准政策",
            "issuer": "重庆市",
            "effective_from": "2023-06-01",
        }
        assert (await client.post("/policies", json=policy)).status_code == 201
    # Warm up the pools and the code paths, on subjects the figures do not use.
    await concurrent_posts(
        url,
        [{**body, "subject_id": make_uscc(f"94{body['district_code']}{i:09d}")} for i, body in enumerate(recorded_bodies()[:200])],
        lambda status: status == 201,
    )  # fmt: skip
    recorded_answer: list[httpx.Response] = []
    recorded = await concurrent_posts(url, recorded_bodies(), lambda status: status == 201, recorded_answer)
    computable_bodies = [
        {"measure_id": "M01", "subject_type": "project", "subject_id": str(i + 1), "amount_yuan": M01_MAX}
        for i in range(COMPUTABLE)
    ]
    computable_answer: list[httpx.Response] = []
    computable = await concurrent_posts(url, computable_bodies, lambda status: status == 201, computable_answer)
    # One subject, rising amounts sent 16 at a time: a higher award supersedes, one overtaken is refused.
    contended = await concurrent_posts(
        url,
        [other_policy_district(f"{1_000_000 + index}.00") for index in range(CONTENDED)],
        lambda status: status in (201, 409),
    )
    # The ceilings: the same bodies and writers against the bare app answering the service's 201.
    await ceiling.record(recorded_answer[0], whole_path=True)
    recorded_ceiling = await concurrent_posts(ceiling.url, recorded_bodies(), lambda status: status == 201)
    await ceiling.record(computable_answer[0], whole_path=True)
    computable_ceiling = await concurrent_posts(ceiling.url, computable_bodies, lambda status: status == 201)
    method = "bare uvicorn app answering the same 201 body to the same 16 writers"
    figures = [
        figure(
            "awards.create_recorded",
            recorded["awards_per_second"],
            ceiling=recorded_ceiling["awards_per_second"],
            ceiling_method=method,
            notes=f"{RECORDED:,} POST /awards (another policy's awards and M08) over HTTP, "
            f"p50 {recorded['p50_ms']} ms, p95 {recorded['p95_ms']} ms",
        ),
        figure(
            "awards.create_computable",
            computable["awards_per_second"],
            ceiling=computable_ceiling["awards_per_second"],
            ceiling_method=method,
            notes=f"{COMPUTABLE:,} POST /awards of M01 over HTTP, each checked on the registry (a uvicorn process) "
            f"with its trace, p50 {computable['p50_ms']} ms, p95 {computable['p95_ms']} ms",
        ),
    ]
    return {
        "figures": figures,
        "detail": {
            "server": "eligibility and registry as uvicorn processes, flags of make run",
            "recorded_without_formula": {**recorded, "ceiling": recorded_ceiling},
            "computable_with_registry_check": {**computable, "ceiling": computable_ceiling},
            "one_subject_contended": contended,
        },
    }


async def _exports(url: str, pid: int, ceiling: CeilingServer) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each export of the EXPORTED awards once, timed and with the process's peak memory; then the bare app."""
    figures: list[dict[str, Any]] = []
    detail: dict[str, Any] = {"awards": EXPORTED, "seeded": "bulk INSERT, not through the API"}
    params = {"measure_id": EXPORT_MEASURE}
    async with signed_client(url, CITY) as client, signed_client(ceiling.url, CITY) as bare:
        for kind in ("csv", "xlsx"):
            resident = reset_peak(pid)
            started = time.perf_counter()
            response = await client.get(f"/awards/export.{kind}", params=params)
            seconds = time.perf_counter() - started
            peak = peak_mib(pid)
            assert response.status_code == 200, response.text[:500]
            await ceiling.record(response)
            began = time.perf_counter()
            moved = await bare.get(f"/awards/export.{kind}", params=params)
            bare_seconds = time.perf_counter() - began
            assert moved.status_code == 200 and moved.content == response.content
            growth = round(peak - resident, 1)
            detail[kind] = {
                "seconds": round(seconds, 2),
                "bytes": len(response.content),
                "resident_before_mib": round(resident, 1),
                "peak_resident_mib": round(peak, 1),
                "peak_growth_mib": growth,
                "ceiling_seconds": round(bare_seconds, 3),
            }
            notes = f"GET /awards/export.{kind} of {EXPORTED:,} awards ({len(response.content) / 1e6:.1f} MB) over HTTP"
            figures.append(
                figure(
                    f"awards.export_{kind}_seconds",
                    round(seconds, 2),
                    ceiling=round(bare_seconds, 3),
                    ceiling_method="bare uvicorn app answering the same bytes, same client",
                    notes=notes,
                )
            )
            figures.append(
                figure(
                    f"awards.export_{kind}_peak_memory",
                    growth,
                    ceiling=round(len(response.content) / 2**20, 1),
                    ceiling_method="the size of the document itself",
                    notes=f"{notes}: peak RSS growth of the eligibility process; peak RSS {peak:.0f} MiB against "
                    "the 512 MiB the compose file and manifests allow",
                )
            )
    return figures, detail


def other_policy_district(amount: str) -> dict[str, Any]:
    return {
        "policy": OTHER_POLICY,
        "measure_id": "第九条",
        "subject_type": "district",
        "subject_id": "500103",
        "year": 2025,
        "amount_yuan": amount,
    }
