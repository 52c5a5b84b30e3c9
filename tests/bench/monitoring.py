"""Monitoring figures (issue 18) on PostgreSQL: the year's assessment, the map and their pictures over 200,000
enterprise-years.

The registry, the eligibility service and the monitoring service run as uvicorn processes with the flags of
`make run`, each on its scratch database; the monitoring service reads the registry's monitoring statistics (one
request per year from the baseline year 2023 to the year assessed) and the eligibility service's award summary over
HTTP. The ceiling of each figure, measured in the same run: the bare app (`tests/bench/_ceiling.py`) answering the
bytes the monitoring service answered, to the same requests from the same client.
"""

import asyncio
import random
import statistics
import time
from typing import Any

from services.eligibility import SERVICE_DIR as ELIGIBILITY_DIR
from services.monitoring import SERVICE_DIR as MONITORING_DIR
from services.registry import SERVICE_DIR as REGISTRY_DIR
from shared.reference import DISTRICTS, SECTORS
from shared.uscc import make_uscc
from tests.bench._ceiling import CeilingServer, ceiling_server
from tests.bench._report import figure
from tests.bench._services import service, signed_client
from tests.support import CITY, TestDatabase

ENTERPRISES = 50_000
YEARS = (2023, 2024, 2025, 2026)  # × 50,000 = 200,000 enterprise-years
ASSESSED = 2026
HEADER = (
    "uscc,name,district_code,sector,established_on,spun_off_from_manufacturer,year,revenue_yuan,employees,above_scale"
)
REPEATS = 7


def _csv(year: int, rng: random.Random) -> bytes:
    lines = [HEADER]
    for serial in range(ENTERPRISES):
        district = DISTRICTS[serial % len(DISTRICTS)].code
        sector = SECTORS[(serial // len(DISTRICTS)) % len(SECTORS)].code
        uscc = make_uscc(f"91{district}{serial:09d}")
        growth = 1 + (year - YEARS[0]) / 10
        revenue = f"{int(rng.randint(1_000_000, 90_000_000) * growth)}.{rng.randint(0, 99):02d}"
        above = "true" if rng.random() < 0.5 + (year - YEARS[0]) / 20 else "false"
        lines.append(
            f"{uscc},企业{serial},{district},{sector},2015-01-01,false,{year},{revenue},{rng.randint(5, 900)},{above}"
        )
    return ("\n".join(lines) + "\n").encode()


async def run() -> dict[str, Any]:
    databases = {
        "registry": TestDatabase("bench_registry", REGISTRY_DIR),
        "eligibility": TestDatabase("bench_eligibility", ELIGIBILITY_DIR),
        "monitoring": TestDatabase("bench_monitoring", MONITORING_DIR),
    }
    created: list[TestDatabase] = []
    try:
        for database in databases.values():
            await asyncio.to_thread(database.create)
            created.append(database)
        async with (
            service("registry", databases["registry"].url) as registry_url,
            service("eligibility", databases["eligibility"].url, registry_url=registry_url) as eligibility_url,
            service(
                "monitoring", databases["monitoring"].url, registry_url=registry_url, eligibility_url=eligibility_url
            ) as monitoring_url,
            ceiling_server() as ceiling,
        ):
            return await _measure(registry_url, monitoring_url, ceiling)
    finally:
        for database in created:
            await asyncio.to_thread(database.drop)


async def _timed(client: Any, path: str, params: dict[str, str] | None = None) -> tuple[list[float], Any]:
    samples: list[float] = []
    response = None
    for _ in range(REPEATS):
        started = time.perf_counter()
        response = await client.get(path, params=params)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text[:500]
    return samples, response


async def _measure(registry_url: str, monitoring_url: str, ceiling: CeilingServer) -> dict[str, Any]:
    rng = random.Random(20261201)
    async with (
        signed_client(registry_url, CITY) as registry_client,
        signed_client(monitoring_url, CITY) as client,
        signed_client(ceiling.url, CITY) as bare_client,
    ):
        for year in YEARS:
            response = await registry_client.post(
                "/enterprises/import", content=_csv(year, rng), headers={"content-type": "text/csv"}
            )
            assert response.status_code == 200 and not response.json()["rejected"], response.text[:500]

        paths: dict[str, tuple[str, dict[str, str] | None]] = {
            "assessment": (f"/assessments/{ASSESSED}", None),
            "map": (f"/map/{ASSESSED}", None),
            "workbook": (f"/assessments/{ASSESSED}/report.xlsx", None),
            "tile_map": (f"/map/{ASSESSED}/tiles.svg", {"indicator": "revenue_yuan"}),
        }
        measured: dict[str, list[float]] = {}
        ceilings: dict[str, list[float]] = {}
        sizes: dict[str, int] = {}
        for name, (path, params) in paths.items():
            measured[name], response = await _timed(client, path, params)
            sizes[name] = len(response.content)
            await ceiling.record(response)
            ceilings[name], _ = await _timed(bare_client, path, params)
        assessment = (await client.get(f"/assessments/{ASSESSED}")).json()
        computed = [t for t in assessment["targets"] if any(p["origin"] == "registry" for p in t["provenance"])]

        method = "bare uvicorn app answering the same bytes, same client"
        figures = [
            figure(
                f"monitoring.{name}_median",
                round(statistics.median(samples), 1),
                ceiling=round(statistics.median(ceilings[name]), 3),
                ceiling_method=method,
                notes=f"GET {paths[name][0]} over {ENTERPRISES * len(YEARS):,} enterprise-years, {REPEATS} requests; "
                f"max {max(samples):.0f} ms; {sizes[name]:,} bytes",
            )
            for name, samples in measured.items()
        ]
        return {
            "figures": figures,
            "detail": {
                "enterprise_years": ENTERPRISES * len(YEARS),
                "registry_reads_per_assessment": ASSESSED - YEARS[0] + 1,
                "targets": len(assessment["targets"]),
                "targets_computed_from_the_registry": len(computed),
                **{
                    name: {
                        "median_ms": round(statistics.median(samples), 1),
                        "max_ms": round(max(samples), 1),
                        "ceiling_median_ms": round(statistics.median(ceilings[name]), 3),
                        "bytes": sizes[name],
                    }
                    for name, samples in measured.items()
                },
            },
        }
