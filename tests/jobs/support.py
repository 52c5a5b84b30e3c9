"""Import bodies and polling for the job tests."""

import asyncio
import time
from typing import Any

import httpx

from tests.registry.factories import new_uscc

HEADER = "uscc,name,district_code,sector,established_on,year,revenue_yuan,employees,above_scale"
CSV = {"content-type": "text/csv"}
ASYNC = {"content-type": "text/csv", "prefer": "respond-async"}


def import_csv(count: int, district_code: str = "500103", *, invalid: int = 0) -> bytes:
    """`count` valid rows (one enterprise and its 2024 figures each), then `invalid` rows with a bad check character."""
    lines = [HEADER]
    lines += [
        f"{new_uscc(district_code)},重庆作业测试有限公司{n},{district_code},modern_logistics,2018-03-01,2024,"
        f"{21000000 + n}.00,80,是"
        for n in range(count)
    ]
    lines += [f"91500103{n:09d}X,坏行,{district_code},modern_logistics,2018-03-01,,,," for n in range(invalid)]
    return ("\n".join(lines) + "\n").encode()


async def wait_for(
    client: httpx.AsyncClient, location: str, statuses: set[str], seconds: float = 60, seen: list[Any] | None = None
) -> dict[str, Any]:
    """Poll the job until its status is one of `statuses`; every progress seen is appended to `seen`."""
    deadline = time.monotonic() + seconds
    while True:
        response = await client.get(location)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if seen is not None and (not seen or seen[-1] != job["progress"]):
            seen.append(job["progress"])
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"the job is still {job['status']} after {seconds} s: {job}")
        await asyncio.sleep(0.02)
