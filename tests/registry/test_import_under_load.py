"""An import of many invalid rows does not stop the registry: others are served while it is validated.

Attack test (issue 19, "Imports parsed before they are bounded"): 100,000 invalid rows used to keep the event loop
busy for the whole validation, so that `GET /districts` waited as long. Parsing and validation now run in a worker
thread. The margin is generous: a read under 1 s while the import runs (it takes a few seconds here).
"""

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.support import CITY, PrincipalAuth

pytestmark = pytest.mark.e2e
ROWS = 100_000


async def test_reads_are_served_while_a_large_invalid_import_is_validated(registry_process):
    url, _ = registry_process
    rows = [{"uscc": f"not-a-code-{index}", "name": "x", "district_code": "500103"} for index in range(ROWS)]
    body = json.dumps(rows).encode()
    auth = PrincipalAuth(CITY)
    async with (
        httpx.AsyncClient(base_url=url, auth=auth, timeout=120) as importer,
        httpx.AsyncClient(base_url=url, auth=auth, timeout=30) as reader,
    ):
        started = time.perf_counter()
        upload = asyncio.create_task(
            importer.post("/enterprises/import", content=body, headers={"content-type": "application/json"})
        )
        await asyncio.sleep(0.5)  # the body is in, the validation under way
        latencies = []
        while not upload.done():
            began = time.perf_counter()
            response = await reader.get("/districts")
            latencies.append(time.perf_counter() - began)
            assert response.status_code == 200
            await asyncio.sleep(0.2)
        answer = await upload
        elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["rows"] == ROWS and len(answer.json()["rejected"]) == ROWS
    assert latencies, f"the import ended before any read was made ({elapsed:.1f} s)"
    assert max(latencies) < 1.0, ([round(x, 2) for x in latencies], elapsed)


def _reset_peak(pid: int) -> None:
    """The peak starts again from the present size, so that earlier tests' peaks do not count."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _peak_resident_mib(pid: int) -> float:
    """The process's peak resident set (Linux's VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


async def test_a_body_of_millions_of_empty_rows_is_stopped_at_the_limit_in_bounded_memory(registry_process):
    # Attack test (issue 19): 60 MB of `[{},{},…]` (20 million rows) was parsed whole before the 200,000-row limit
    # was said, taking the registry to 1.6 GB. Counted while parsed, it stops at the row after the limit; the
    # process may grow by what 200,000 refused rows and the body cost (~190 MB measured), not by the body's rows.
    url, process = registry_process
    body = b"[" + b",".join([b"{}"] * 20_000_000) + b"]"
    _reset_peak(process.pid)
    before = _peak_resident_mib(process.pid)
    auth = PrincipalAuth(CITY)
    async with (
        httpx.AsyncClient(base_url=url, auth=auth, timeout=120) as importer,
        httpx.AsyncClient(base_url=url, auth=auth, timeout=30) as reader,
    ):
        upload = asyncio.create_task(
            importer.post("/enterprises/import", content=body, headers={"content-type": "application/json"})
        )
        latencies = []
        while not upload.done():
            began = time.perf_counter()
            assert (await reader.get("/districts")).status_code == 200
            latencies.append(time.perf_counter() - began)
            await asyncio.sleep(0.1)
        answer = await upload
    assert answer.status_code == 422, answer.text[:300]
    assert answer.json()["errors"] == [{"loc": ["body", 200001], "msg": "more than 200000 rows"}]
    assert _peak_resident_mib(process.pid) - before < 600
    assert max(latencies, default=0) < 1.0, [round(x, 2) for x in latencies]
