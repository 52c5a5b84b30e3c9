"""An import of many invalid rows does not stop the registry: others are served while it is validated.

Attack test (issue 19, "Imports parsed before they are bounded"): 100,000 invalid rows used to keep the event loop
busy for the whole validation, so that `GET /districts` waited as long. Parsing and validation now run in a worker
thread. The margin is generous: a read under 1 s while the import runs (it takes a few seconds here).
"""

import asyncio
import json
import time

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
