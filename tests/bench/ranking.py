"""Ranking figures (issue 5) on PostgreSQL: a run over the 38 districts from 200,000 enterprise-years, sensitivity.

The three services run as uvicorn processes with the flags of `make run`, each on its scratch database, and read
each other over HTTP (ranking → registry district statistics, ranking → eligibility M06 parameter and awards); the
bench asks the ranking service over HTTP. The ceiling of each figure, measured in the same run: the bare app
(`tests/bench/_ceiling.py`) in a uvicorn process with the same flags, answering the bytes the ranking service
answered, to the same requests from the same client.
"""

import asyncio
import random
import statistics
import time
from typing import Any

from services.eligibility import SERVICE_DIR as ELIGIBILITY_DIR
from services.ranking import SERVICE_DIR as RANKING_DIR
from services.registry import SERVICE_DIR as REGISTRY_DIR
from shared.reference import DISTRICTS, SECTORS
from shared.uscc import make_uscc
from tests.bench._ceiling import CeilingServer, ceiling_server
from tests.bench._report import figure
from tests.bench._services import service, signed_client
from tests.support import CITY, TestDatabase

ENTERPRISES = 100_000  # × 2 years = 200,000 enterprise-years
YEAR = 2025
HEADER = (
    "uscc,name,district_code,sector,established_on,spun_off_from_manufacturer,year,revenue_yuan,employees,above_scale"
)
REPEATS = 7


def _csv(year: int, rng: random.Random) -> bytes:
    lines = [HEADER]
    for serial in range(ENTERPRISES):
        district = DISTRICTS[serial % len(DISTRICTS)].code
        sector = SECTORS[serial % len(SECTORS)].code
        uscc = make_uscc(f"91{district}{serial:09d}")
        # Districts differ in size and growth so that the ranking has something to rank.
        scale = 1 + (serial % len(DISTRICTS)) / 50
        revenue = f"{int(rng.randint(1_000_000, 90_000_000) * (scale if year == YEAR else 1))}.{rng.randint(0, 99):02d}"
        above = "true" if rng.random() < 0.55 + (serial % len(DISTRICTS)) / 200 else "false"
        lines.append(
            f"{uscc},企业{serial},{district},{sector},2015-01-01,false,{year},{revenue},{rng.randint(5, 900)},{above}"
        )
    return ("\n".join(lines) + "\n").encode()


async def run() -> dict[str, Any]:
    databases = {
        "registry": TestDatabase("bench_registry", REGISTRY_DIR),
        "eligibility": TestDatabase("bench_eligibility", ELIGIBILITY_DIR),
        "ranking": TestDatabase("bench_ranking", RANKING_DIR),
    }
    created: list[TestDatabase] = []
    try:
        for database in databases.values():
            # Creating and migrating run their own event loops, so they go to a thread.
            await asyncio.to_thread(database.create)
            created.append(database)
        async with (
            service("registry", databases["registry"].url) as registry_url,
            service("eligibility", databases["eligibility"].url, registry_url=registry_url) as eligibility_url,
            service(
                "ranking", databases["ranking"].url, registry_url=registry_url, eligibility_url=eligibility_url
            ) as ranking_url,
            ceiling_server() as ceiling,
        ):
            return await _measure(registry_url, ranking_url, ceiling)
    finally:
        for database in created:
            await asyncio.to_thread(database.drop)


def _ms(samples: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(samples), 1), "max_ms": round(max(samples), 1)}


async def _replay(client: Any, requests: list[tuple[str, str, dict[str, Any]]]) -> list[float]:
    """Milliseconds each of `requests` (method, URL, keyword arguments) takes against the bare app."""
    samples = []
    for method, url, arguments in requests:
        started = time.perf_counter()
        response = await client.request(method, url, **arguments)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 201)
    return samples


async def _measure(registry_url: str, ranking_url: str, ceiling: CeilingServer) -> dict[str, Any]:
    rng = random.Random(20241119)
    async with (
        signed_client(registry_url, CITY) as registry_client,
        signed_client(ranking_url, CITY) as client,
        signed_client(ceiling.url, CITY) as bare_client,
    ):
        for year in (YEAR - 1, YEAR):
            response = await registry_client.post(
                "/enterprises/import", content=_csv(year, rng), headers={"content-type": "text/csv"}
            )
            assert response.status_code == 200 and not response.json()["rejected"], response.text[:500]

        run_ms: list[float] = []
        run: dict[str, Any] = {}
        run_request = {"year": YEAR, "as_of": "2026-03-31"}
        for _ in range(REPEATS):
            started = time.perf_counter()
            response = await client.post("/runs", json=run_request)
            run_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 201, response.text[:500]
            run = response.json()
        assert run["total_award_yuan"] == "40000000.00"
        await ceiling.record(response)

        sensitivity_ms: list[float] = []
        fragile = 0
        sensitivity_requests: list[tuple[str, str, dict[str, Any]]] = []
        for seed in range(REPEATS):
            params = {"draws": 10_000, "seed": seed}
            started = time.perf_counter()
            response = await client.get(f"/runs/{run['run_id']}/sensitivity", params=params)
            sensitivity_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text[:500]
            fragile = sum(entry["fragile"] for entry in response.json()["districts"])
            await ceiling.record(response)
            sensitivity_requests.append(("GET", f"/runs/{run['run_id']}/sensitivity", {"params": params}))

        largest_ms: list[float] = []
        for seed in range(3):
            started = time.perf_counter()
            response = await client.get(f"/runs/{run['run_id']}/sensitivity", params={"draws": 100_000, "seed": seed})
            largest_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200

        run_ceiling_ms = await _replay(bare_client, [("POST", "/runs", {"json": run_request})] * REPEATS)
        sensitivity_ceiling_ms = await _replay(bare_client, sensitivity_requests)

        method = "bare uvicorn app answering the same bytes, same client"
        figures = [
            figure(
                "ranking.run_median",
                round(statistics.median(run_ms), 1),
                ceiling=round(statistics.median(run_ceiling_ms), 3),
                ceiling_method=method,
                notes=f"POST /runs for {YEAR}, {REPEATS} requests: registry district statistics + eligibility M06 "
                f"and awards over HTTP, compute, store; max {max(run_ms):.0f} ms",
            ),
            figure(
                "ranking.sensitivity_10000_median",
                round(statistics.median(sensitivity_ms), 1),
                ceiling=round(statistics.median(sensitivity_ceiling_ms), 3),
                ceiling_method=method,
                notes=f"GET /runs/{{id}}/sensitivity?draws=10000, {REPEATS} seeds; max {max(sensitivity_ms):.0f} ms; "
                f"100,000 draws: median {statistics.median(largest_ms):.0f} ms",
            ),
        ]
        return {
            "figures": figures,
            "detail": {
                "run_end_to_end": {
                    "enterprise_years": 2 * ENTERPRISES,
                    "districts": len(run["rows"]),
                    "requests": REPEATS,
                    **_ms(run_ms),
                    "ceiling_median_ms": round(statistics.median(run_ceiling_ms), 3),
                    "path": "POST /runs → registry /district-stats + eligibility award table → compute → stored",
                },
                "sensitivity_10000_draws": {
                    "requests": REPEATS,
                    **_ms(sensitivity_ms),
                    "ceiling_median_ms": round(statistics.median(sensitivity_ceiling_ms), 3),
                    "fragile": fragile,
                },
                "sensitivity_100000_draws": {"requests": len(largest_ms), **_ms(largest_ms)},
            },
        }
