"""Ranking figures on PostgreSQL: a run over the 38 districts from 200,000 enterprise-years, and sensitivity."""

import asyncio
import random
import statistics
import time
from typing import Any

import httpx

from services.eligibility import SERVICE_DIR as ELIGIBILITY_DIR
from services.eligibility.main import create_app as create_eligibility_app
from services.eligibility.settings import EligibilitySettings
from services.ranking import SERVICE_DIR as RANKING_DIR
from services.ranking.main import create_app as create_ranking_app
from services.ranking.settings import RankingSettings
from services.registry import SERVICE_DIR as REGISTRY_DIR
from services.registry.main import create_app as create_registry_app
from services.registry.settings import RegistrySettings
from shared.reference import DISTRICTS, SECTORS
from shared.uscc import make_uscc
from tests.support import CITY, TestDatabase, asgi_client

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
    if not databases["registry"].postgres:
        return {"skipped": "PostgreSQL is not reachable"}
    created: list[TestDatabase] = []
    try:
        for database in databases.values():
            # Creating and migrating run their own event loops, so they go to a thread.
            await asyncio.to_thread(database.create)
            created.append(database)
        return await _measure(databases)
    finally:
        for database in created:
            await asyncio.to_thread(database.drop)


def _ms(samples: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(samples), 1), "max_ms": round(max(samples), 1)}


async def _measure(databases: dict[str, TestDatabase]) -> dict[str, Any]:
    rng = random.Random(20241119)
    registry = create_registry_app(
        RegistrySettings(database_url=databases["registry"].url, environment="test", log_level="WARNING")
    )
    eligibility = create_eligibility_app(
        EligibilitySettings(database_url=databases["eligibility"].url, environment="test", log_level="WARNING")
    )
    eligibility.state.registry_transport = httpx.ASGITransport(app=registry)
    ranking = create_ranking_app(
        RankingSettings(database_url=databases["ranking"].url, environment="test", log_level="WARNING")
    )
    ranking.state.registry_transport = httpx.ASGITransport(app=registry)
    ranking.state.eligibility_transport = httpx.ASGITransport(app=eligibility)
    async with (
        registry.router.lifespan_context(registry),
        eligibility.router.lifespan_context(eligibility),
        ranking.router.lifespan_context(ranking),
        asgi_client(registry, CITY) as registry_client,
        asgi_client(ranking, CITY) as client,
    ):
        for year in (YEAR - 1, YEAR):
            response = await registry_client.post(
                "/enterprises/import", content=_csv(year, rng), headers={"content-type": "text/csv"}
            )
            assert response.status_code == 200 and not response.json()["rejected"], response.text[:500]

        run_ms: list[float] = []
        run: dict[str, Any] = {}
        for _ in range(REPEATS):
            started = time.perf_counter()
            response = await client.post("/runs", json={"year": YEAR, "as_of": "2026-03-31"})
            run_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 201, response.text[:500]
            run = response.json()
        assert run["total_award_yuan"] == "40000000.00"

        sensitivity_ms: list[float] = []
        fragile = 0
        for seed in range(REPEATS):
            started = time.perf_counter()
            response = await client.get(f"/runs/{run['run_id']}/sensitivity", params={"draws": 10_000, "seed": seed})
            sensitivity_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text[:500]
            fragile = sum(entry["fragile"] for entry in response.json()["districts"])

        largest_ms: list[float] = []
        for seed in range(3):
            started = time.perf_counter()
            response = await client.get(f"/runs/{run['run_id']}/sensitivity", params={"draws": 100_000, "seed": seed})
            largest_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200

        return {
            "run_end_to_end": {
                "enterprise_years": 2 * ENTERPRISES,
                "districts": len(run["rows"]),
                "requests": REPEATS,
                **_ms(run_ms),
                "target_ms": 1000,
                "path": "POST /runs → registry /district-stats + eligibility award table → compute → stored",
            },
            "sensitivity_10000_draws": {
                "requests": REPEATS,
                **_ms(sensitivity_ms),
                "target_ms": 2000,
                "fragile": fragile,
            },
            "sensitivity_100000_draws": {"requests": len(largest_ms), **_ms(largest_ms)},
        }
