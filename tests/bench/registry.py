"""Registry figures on PostgreSQL: bulk import, district statistics, filtered pages."""

import asyncio
import random
import statistics
import time
from typing import Any

from services.registry import SERVICE_DIR
from services.registry.main import create_app
from services.registry.settings import RegistrySettings
from shared.reference import DISTRICTS, SECTORS
from shared.uscc import make_uscc
from tests.support import CITY, TestDatabase, asgi_client

ENTERPRISES = 100_000
HEADER = (
    "uscc,name,district_code,sector,established_on,spun_off_from_manufacturer,year,revenue_yuan,employees,above_scale"
)


def _csv(year: int, rng: random.Random) -> bytes:
    lines = [HEADER]
    for serial in range(ENTERPRISES):
        district = DISTRICTS[serial % len(DISTRICTS)].code
        sector = SECTORS[serial % len(SECTORS)].code
        uscc = make_uscc(f"91{district}{serial:09d}")
        revenue = f"{rng.randint(1_000_000, 90_000_000)}.{rng.randint(0, 99):02d}"
        above = "true" if rng.random() < 0.6 else "false"
        lines.append(
            f"{uscc},企业{serial},{district},{sector},2015-01-01,false,{year},{revenue},{rng.randint(5, 900)},{above}"
        )
    return ("\n".join(lines) + "\n").encode()


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run() -> dict[str, Any]:
    database = TestDatabase("bench_registry", SERVICE_DIR)
    if not database.postgres:
        return {"skipped": "PostgreSQL is not reachable"}
    # Creating and migrating run their own event loops, so they go to a thread.
    await asyncio.to_thread(database.create)
    try:
        return await _measure(database)
    finally:
        await asyncio.to_thread(database.drop)


async def _measure(database: TestDatabase) -> dict[str, Any]:
    rng = random.Random(20241119)
    app = create_app(RegistrySettings(database_url=database.url, environment="test", log_level="WARNING"))
    async with app.router.lifespan_context(app), asgi_client(app, CITY) as client:
        figures: dict[str, Any] = {}
        for year in (2024, 2025):
            body = _csv(year, rng)
            started = time.perf_counter()
            response = await client.post("/enterprises/import", content=body, headers={"content-type": "text/csv"})
            elapsed = time.perf_counter() - started
            assert response.status_code == 200 and not response.json()["rejected"], response.text[:500]
            figures[f"import_{year}"] = {
                "rows": ENTERPRISES,
                "seconds": round(elapsed, 3),
                "rows_per_second": round(ENTERPRISES / elapsed),
                "target_rows_per_second": 20_000,
                "kind": "created" if year == 2024 else "updated (new year for every enterprise)",
            }

        stats_ms = []
        for _ in range(7):
            started = time.perf_counter()
            response = await client.get("/district-stats/2025")
            stats_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        figures["district_stats"] = {
            "enterprise_years": 2 * ENTERPRISES,
            "median_ms": round(statistics.median(stats_ms), 1),
            "max_ms": round(max(stats_ms), 1),
            "target_ms": 300,
        }

        page_ms = []
        for index in range(300):
            params: dict[str, Any] = {"limit": 50, "district_code": DISTRICTS[index % len(DISTRICTS)].code}
            if index % 3 == 1:
                params["sector"] = SECTORS[index % len(SECTORS)].code
            if index % 3 == 2:
                params["q"] = f"企业{rng.randint(1, 9)}"
            started = time.perf_counter()
            response = await client.get("/enterprises", params=params)
            page_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        figures["filtered_page_of_50"] = {
            "enterprises": ENTERPRISES,
            "requests": len(page_ms),
            "p50_ms": round(_percentile(page_ms, 0.5), 2),
            "p95_ms": round(_percentile(page_ms, 0.95), 2),
            "target_p95_ms": 20,
        }
        return figures
