"""Registry figures (issue 2) on PostgreSQL: bulk import, district statistics, filtered pages; and the import's
peak memory (issue 19).

The registry runs as a uvicorn process with the flags of `make run`, on a scratch database; every request goes
over HTTP from a pooled httpx client, signed as the gateway would sign it for the city.

Ceilings, measured in the same run:
- imports: the same rows written by asyncpg COPY straight into the same (migrated, empty) schema in a second
  scratch database: no HTTP, no parsing, no validation, no reads, no audit, one transaction. For the second
  import (a new year for every enterprise) that is the COPY of the 100,000 yearly rows plus one set-based UPDATE
  bumping every enterprise's version (its ETag), the end state the import must reach;
- the import's peak memory: the growth of the registry process's peak resident set (VmHWM, reset before each
  import through /proc/<pid>/clear_refs) over its resident set before the import, the larger of the two imports.
  Its ceiling is the size of the CSV body itself, which any import that receives the body whole holds;
- district statistics and pages: the bare app (`tests/bench/_ceiling.py`) in a uvicorn process with the same
  flags, answering the bytes the registry answered to each request, asked by the same client the same way;
- the XLSX import (issue 14, last, so that the figures above see the enterprise-years they always saw): 100,000 rows
  of a third year in a workbook as Excel saves one (shared strings, date and number cells, 是/否), against the same
  COPY floor, in a registry process started for it; its peak memory is that process's peak resident set during the
  import, against the 256 MiB that issue 16 allows an import (its growth over the resident set before is in the
  notes).
"""

import asyncio
import io
import random
import statistics
import time
import zipfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from services.registry import SERVICE_DIR
from services.registry.enterprises.imports import XLSX_TYPE
from shared.reference import DISTRICTS, SECTORS
from shared.uscc import make_uscc
from tests.bench._ceiling import CeilingServer, ceiling_server
from tests.bench._report import figure
from tests.bench._services import FACTORIES, service_env, signed_client, start_uvicorn
from tests.support import CITY, TestDatabase, stop_process

ENTERPRISES = 100_000
STATS_REQUESTS = 7
PAGE_REQUESTS = 300
HEADER = (
    "uscc,name,district_code,sector,established_on,spun_off_from_manufacturer,year,revenue_yuan,employees,above_scale"
)
ESTABLISHED = date(2015, 1, 1)
ENTERPRISE_COLUMNS = (
    "uscc", "name", "district_code", "sector", "established_on", "spun_off_from_manufacturer", "version",
    "created_at", "updated_at",
)  # fmt: skip
# The same columns the import writes: the year's district and the city's verification (the city imports).
YEAR_COLUMNS = (
    "uscc", "year", "revenue_yuan", "employees", "above_scale", "top500_service", "updated_at", "district_code",
    "verification_status", "submitted_by", "submitted_at", "verified_by", "verified_at",
)  # fmt: skip

Row = tuple[str, str, str, str, int, str, int, bool]  # uscc, name, district, sector, year, revenue, employees, above


def _rows(year: int, rng: random.Random) -> list[Row]:
    rows: list[Row] = []
    for serial in range(ENTERPRISES):
        district = DISTRICTS[serial % len(DISTRICTS)].code
        sector = SECTORS[serial % len(SECTORS)].code
        uscc = make_uscc(f"91{district}{serial:09d}")
        revenue = f"{rng.randint(1_000_000, 90_000_000)}.{rng.randint(0, 99):02d}"
        above = rng.random() < 0.6
        rows.append((uscc, f"企业{serial}", district, sector, year, revenue, rng.randint(5, 900), above))
    return rows


# The parts of a workbook as Excel writes one (openpyxl writes its text inline, Excel in the shared strings, which a
# reader holds in memory whole): one sheet, the shared strings, a date style (built-in format 14).
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_WORKBOOK_PARTS = {
    "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_TYPE}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_TYPE}.worksheet+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{_TYPE}.styles+xml"/>'
    f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_TYPE}.sharedStrings+xml"/></Types>',
    "_rels/.rels": f'<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}"><Relationship Id="rId1" '
    f'Type="{_RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": f'<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}"><sheets>'
    '<sheet name="企业名单" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}">'
    f'<Relationship Id="rId1" Type="{_RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_RELATIONSHIPS}/styles" Target="styles.xml"/>'
    f'<Relationship Id="rId3" Type="{_RELATIONSHIPS}/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    "xl/styles.xml": f'<styleSheet xmlns="{_MAIN}"><fonts count="1"><font/></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
    '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
    '<cellXfs count="2"><xf/><xf numFmtId="14" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>',
}


def _xlsx(rows: Sequence[Row]) -> bytes:
    """The rows as Excel saves a workbook: a title row, the header, text in the shared strings, numbers and dates
    typed (a date is a serial number in a date style), 是/否 as text."""
    strings: dict[str, int] = {}

    def text(value: str) -> str:
        return f'<c t="s"><v>{strings.setdefault(value, len(strings))}</v></c>'

    established = f'<c s="1"><v>{(ESTABLISHED - date(1899, 12, 30)).days}</v></c>'
    lines = [f'<row r="1">{text("2026年生产性服务业企业名单")}</row>']
    lines.append(f'<row r="2">{"".join(text(name) for name in HEADER.split(","))}</row>')
    for number, (uscc, name, district, sector, year, revenue, employees, above) in enumerate(rows, start=3):
        cells = [text(uscc), text(name), text(district), text(sector), established, text("否")]
        cells += [f"<c><v>{year}</v></c>", f"<c><v>{revenue}</v></c>", f"<c><v>{employees}</v></c>"]
        cells.append(text("是" if above else "否"))
        lines.append(f'<row r="{number}">{"".join(cells)}</row>')
    sheet = f'<worksheet xmlns="{_MAIN}"><dimension ref="A1:J{len(rows) + 2}"/><sheetData>{"".join(lines)}'
    sheet += "</sheetData></worksheet>"
    shared = "".join(f"<si><t>{value}</t></si>" for value in strings)
    parts = {
        **_WORKBOOK_PARTS,
        "xl/worksheets/sheet1.xml": sheet,
        "xl/sharedStrings.xml": f'<sst xmlns="{_MAIN}" uniqueCount="{len(strings)}">{shared}</sst>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + content)
    return buffer.getvalue()


def _csv(rows: Sequence[Row]) -> bytes:
    lines = [HEADER]
    for uscc, name, district, sector, year, revenue, employees, above in rows:
        flag = "true" if above else "false"
        lines.append(
            f"{uscc},{name},{district},{sector},{ESTABLISHED.isoformat()},false,{year},{revenue},{employees},{flag}"
        )
    return ("\n".join(lines) + "\n").encode()


@asynccontextmanager
async def service_process(name: str, database_url: str, **settings: str) -> AsyncIterator[tuple[str, int]]:
    """The service `name` as a uvicorn process (as `service` makes it), with its process id, to read its memory."""
    process, url = await asyncio.to_thread(start_uvicorn, FACTORIES[name], service_env(name, database_url, **settings))
    try:
        yield url, process.pid
    finally:
        await asyncio.to_thread(stop_process, process)


def _status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def reset_peak(pid: int) -> float:
    """Reset the process's peak resident set to its current one (Linux: "5" to clear_refs); that size in MiB."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status_mib(pid, "VmRSS")


def peak_mib(pid: int) -> float:
    """The process's peak resident set since the last reset, in MiB."""
    return _status_mib(pid, "VmHWM")


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _connect(url: str) -> asyncpg.Connection:
    parts = make_url(url)
    return await asyncpg.connect(
        host=parts.host, port=parts.port or 5432, user=parts.username, password=parts.password, database=parts.database
    )


async def copy_floor(url: str, rows: Sequence[Row], *, new_enterprises: bool) -> float:
    """Seconds to write `rows` with COPY alone (and, for existing enterprises, one UPDATE of their versions)."""
    now = datetime.now(UTC)
    years = [
        (uscc, year, Decimal(revenue), employees, above, False, now, district, "verified", "city", now, "city", now)
        for uscc, _, district, _, year, revenue, employees, above in rows
    ]
    enterprises = [
        (uscc, name, district, sector, ESTABLISHED, False, 1, now, now) for uscc, name, district, sector, *_ in rows
    ]
    connection = await _connect(url)
    try:
        started = time.perf_counter()
        async with connection.transaction():
            if new_enterprises:
                await connection.copy_records_to_table("enterprises", records=enterprises, columns=ENTERPRISE_COLUMNS)
            else:
                await connection.execute("UPDATE enterprises SET version = version + 1, updated_at = $1", now)
            await connection.copy_records_to_table("enterprise_years", records=years, columns=YEAR_COLUMNS)
        return time.perf_counter() - started
    finally:
        await connection.close()


async def run() -> dict[str, Any]:
    database = TestDatabase("bench_registry", SERVICE_DIR)
    floor = TestDatabase("bench_registry_floor", SERVICE_DIR)
    created: list[TestDatabase] = []
    try:
        for each in (database, floor):
            # Creating and migrating run their own event loops, so they go to a thread.
            await asyncio.to_thread(each.create)
            created.append(each)
        async with service_process("registry", database.url) as (url, pid), ceiling_server() as ceiling:
            measured = await _measure(url, pid, floor.url, ceiling)
        # A process of its own, as after a start: one that has imported before keeps the memory it freed (CPython
        # returns little of it), so that its peak would be the earlier imports' rather than this one's.
        async with service_process("registry", database.url) as (url, pid), signed_client(url, CITY) as client:
            measured["figures"] += await _xlsx_import(client, pid, floor.url, measured["detail"])
        return measured
    finally:
        for each in created:
            await asyncio.to_thread(each.drop)


async def _measure(url: str, pid: int, floor_url: str, ceiling: CeilingServer) -> dict[str, Any]:
    rng = random.Random(20241119)
    detail: dict[str, Any] = {"server": "uvicorn process, flags of make run", "enterprises": ENTERPRISES}
    figures: list[dict[str, Any]] = []
    async with signed_client(url, CITY) as client, signed_client(ceiling.url, CITY) as bare:
        for year, new in ((2024, True), (2025, False)):
            rows = _rows(year, rng)
            body = _csv(rows)
            resident = reset_peak(pid)
            started = time.perf_counter()
            response = await client.post("/enterprises/import", content=body, headers={"content-type": "text/csv"})
            elapsed = time.perf_counter() - started
            peak = peak_mib(pid)
            assert response.status_code == 200, response.text[:500]
            report = response.json()
            assert not report["rejected"] and report["years_written"] == ENTERPRISES, response.text[:500]
            floor_seconds = await copy_floor(floor_url, rows, new_enterprises=new)
            rate, floor_rate = round(ENTERPRISES / elapsed), round(ENTERPRISES / floor_seconds)
            name = "import_create" if new else "import_new_year"
            detail[name] = {
                "rows": ENTERPRISES,
                "csv_mb": round(len(body) / 1e6, 1),
                "seconds": round(elapsed, 3),
                "rows_per_second": rate,
                "report": {key: report[key] for key in ("created", "updated", "unchanged", "years_written")},
                "copy_floor_seconds": round(floor_seconds, 3),
                "copy_floor_rows_per_second": floor_rate,
                "csv_mib": round(len(body) / 2**20, 1),
                "resident_before_mib": round(resident, 1),
                "peak_resident_mib": round(peak, 1),
                "peak_growth_mib": round(peak - resident, 1),
            }
            figures.append(
                figure(
                    f"registry.{name}",
                    rate,
                    ceiling=floor_rate,
                    ceiling_method="asyncpg COPY of the same rows into the same schema"
                    + ("" if new else " + one UPDATE of every enterprise's version"),
                    notes=f"{ENTERPRISES:,} CSV rows ({len(body) / 1e6:.1f} MB) in {elapsed:.2f} s over HTTP: "
                    + ("every enterprise created with its year" if new else "every enterprise updated, a new year"),
                )
            )

        memory = max((detail["import_create"], detail["import_new_year"]), key=lambda item: item["peak_growth_mib"])
        figures.append(
            figure(
                "registry.import_peak_memory",
                memory["peak_growth_mib"],
                ceiling=memory["csv_mib"],
                ceiling_method="the size of the CSV body the import receives",
                notes=f"peak RSS growth of the registry process during the import of {ENTERPRISES:,} rows, the larger "
                f"of the two imports (new {detail['import_create']['peak_growth_mib']} MiB, new year "
                f"{detail['import_new_year']['peak_growth_mib']} MiB); peak RSS {memory['peak_resident_mib']} MiB "
                "against the 512 MiB the compose file and manifests allow",
            )
        )

        stats_ms: list[float] = []
        stats: httpx.Response | None = None
        for _ in range(STATS_REQUESTS):
            started = time.perf_counter()
            stats = await client.get("/district-stats/2025")
            stats_ms.append((time.perf_counter() - started) * 1000)
            assert stats.status_code == 200
        assert stats is not None
        await ceiling.record(stats)
        bare_ms = []
        for _ in range(STATS_REQUESTS):
            started = time.perf_counter()
            answer = await bare.get("/district-stats/2025")
            bare_ms.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200 and answer.content == stats.content
        median, bare_median = round(statistics.median(stats_ms), 1), round(statistics.median(bare_ms), 2)
        detail["district_stats"] = {
            "enterprise_years": 2 * ENTERPRISES,
            "requests": STATS_REQUESTS,
            "median_ms": median,
            "max_ms": round(max(stats_ms), 1),
            "answer_bytes": len(stats.content),
            "ceiling_median_ms": bare_median,
        }
        figures.append(
            figure(
                "registry.district_stats_median",
                median,
                ceiling=bare_median,
                ceiling_method="bare uvicorn app answering the same bytes, same client",
                notes=f"GET /district-stats/2025, {STATS_REQUESTS} requests, max {max(stats_ms):.0f} ms",
            )
        )

        targets: list[tuple[str, dict[str, Any]]] = []
        for index in range(PAGE_REQUESTS):
            params: dict[str, Any] = {"limit": 50, "district_code": DISTRICTS[index % len(DISTRICTS)].code}
            if index % 3 == 1:
                params["sector"] = SECTORS[index % len(SECTORS)].code
            if index % 3 == 2:
                params["q"] = f"企业{rng.randint(1, 9)}"
            targets.append(("/enterprises", params))
        page_ms: list[float] = []
        answers: list[httpx.Response] = []
        for path, params in targets:
            started = time.perf_counter()
            response = await client.get(path, params=params)
            page_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
            answers.append(response)
        for response in answers:
            await ceiling.record(response)
        bare_ms = []
        for (path, params), expected in zip(targets, answers, strict=True):
            started = time.perf_counter()
            answer = await bare.get(path, params=params)
            bare_ms.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200 and answer.content == expected.content
        p95, bare_p95 = round(_percentile(page_ms, 0.95), 2), round(_percentile(bare_ms, 0.95), 2)
        detail["filtered_page_of_50"] = {
            "enterprises": ENTERPRISES,
            "requests": len(page_ms),
            "p50_ms": round(_percentile(page_ms, 0.5), 2),
            "p95_ms": p95,
            "mean_answer_bytes": round(statistics.fmean(len(item.content) for item in answers)),
            "ceiling_p50_ms": round(_percentile(bare_ms, 0.5), 2),
            "ceiling_p95_ms": bare_p95,
        }
        figures.append(
            figure(
                "registry.page_of_50_p95",
                p95,
                ceiling=bare_p95,
                ceiling_method="bare uvicorn app answering the same bytes, same client",
                notes=f"GET /enterprises?limit=50 by district, + sector or name filter; {len(page_ms)} requests, "
                f"p50 {detail['filtered_page_of_50']['p50_ms']} ms",
            )
        )
    return {"figures": figures, "detail": detail}


async def _xlsx_import(
    client: httpx.AsyncClient, pid: int, floor_url: str, detail: dict[str, Any]
) -> list[dict[str, Any]]:
    rows = _rows(2026, random.Random(20261201))
    body = await asyncio.to_thread(_xlsx, rows)
    resident = reset_peak(pid)
    started = time.perf_counter()
    response = await client.post("/enterprises/import", content=body, headers={"content-type": XLSX_TYPE})
    elapsed = time.perf_counter() - started
    peak = peak_mib(pid)
    assert response.status_code == 200, response.text[:500]
    report = response.json()
    assert not report["rejected"] and report["years_written"] == ENTERPRISES, response.text[:500]
    floor_seconds = await copy_floor(floor_url, rows, new_enterprises=False)
    rate, floor_rate = round(ENTERPRISES / elapsed), round(ENTERPRISES / floor_seconds)
    csv, create = detail["import_new_year"], detail["import_create"]
    detail["import_xlsx"] = {
        "rows": ENTERPRISES,
        "xlsx_mib": round(len(body) / 2**20, 1),
        "seconds": round(elapsed, 3),
        "rows_per_second": rate,
        "report": {key: report[key] for key in ("created", "updated", "unchanged", "years_written")},
        "copy_floor_seconds": round(floor_seconds, 3),
        "copy_floor_rows_per_second": floor_rate,
        "resident_before_mib": round(resident, 1),
        "peak_resident_mib": round(peak, 1),
        "peak_growth_mib": round(peak - resident, 1),
    }
    return [
        figure(
            "registry.import_xlsx",
            rate,
            ceiling=floor_rate,
            ceiling_method="asyncpg COPY of the same rows into the same schema + one UPDATE of every enterprise's "
            "version",
            notes=f"{ENTERPRISES:,} rows of XLSX ({len(body) / 2**20:.1f} MiB, shared strings, a title row) in "
            f"{elapsed:.2f} s over HTTP: every enterprise updated, a new year (the CSV of the same kind: "
            f"{csv['rows_per_second']:,} rows/s)",
        ),
        figure(
            "registry.import_xlsx_peak_memory",
            round(peak, 1),
            ceiling=256,
            ceiling_method="the 256 MiB issue 16 allows an import's process at its peak",
            notes=f"peak RSS of a registry process started for the XLSX import of {ENTERPRISES:,} rows: {resident:.0f} "
            f"MiB before it, growth {peak - resident:.1f} MiB (the body {len(body) / 2**20:.1f} MiB); the CSV import "
            f"creating them peaked at {create['peak_resident_mib']} MiB (growth {create['peak_growth_mib']} MiB)",
        ),
    ]
