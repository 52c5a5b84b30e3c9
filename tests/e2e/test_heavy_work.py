"""Heavy work is admitted by cost and runs off the event loop: floods of it leave the other callers served.

Attack tests (issue 19, "Cheap floods"): six anonymous batches of 10,000 calculations in flight made the city's
`GET /awards` take 7 s instead of 0.03 s, and eight concurrent screenings slowed a district's screening 35-fold.
Now each heavy request costs units (shared/admission.py): an anonymous caller's share holds one full-size batch, a
key holder's one screening of the whole registry, so the rest are told 429 (or 503) with `Retry-After` at once,
and what runs, runs in worker threads. Against the registry and the eligibility service as real processes on the
loopback, signed as the gateway signs (the gateway's own limits are not what is tested here). The margins are
generous: a plain read under 1 s while the flood runs, and the district's screening answered within 10 s.
"""

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.eligibility import SERVICE_DIR as ELIGIBILITY_DIR
from services.registry import SERVICE_DIR as REGISTRY_DIR
from shared.reference import DISTRICTS
from shared.uscc import make_uscc
from tests.support import ANONYMOUS, AUDITOR, CITY, PrincipalAuth, TestDatabase, district, uvicorn_process

pytestmark = pytest.mark.e2e

ENTERPRISES = 10_000
BATCH_ITEMS = 10_000
ATTACKERS = 6
SCREENERS = 8
READ_MARGIN_SECONDS = 1.0
DISTRICT_SCREENING_MARGIN_SECONDS = 10.0
OWN_DISTRICT = "500103"
HEADER = "uscc,name,district_code,sector,established_on,year,revenue_yuan,employees,above_scale"


def _registry_csv() -> bytes:
    lines = [HEADER]
    for serial in range(ENTERPRISES):
        code = DISTRICTS[serial % len(DISTRICTS)].code
        uscc = make_uscc(f"91{code}{serial:09d}")
        revenue = 10_000_000 + serial * 1_000
        lines.append(f"{uscc},攻击测试企业{serial},{code},software_it,2015-01-01,2025,{revenue}.00,50,true")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def services() -> Iterator[tuple[str, str]]:
    """(registry URL, eligibility URL): both as uvicorn processes on databases of their own, the registry holding
    ENTERPRISES enterprises with verified 2025 figures."""
    registry_db = TestDatabase("registry", REGISTRY_DIR)
    eligibility_db = TestDatabase("eligibility", ELIGIBILITY_DIR)
    registry_db.create()
    eligibility_db.create()
    try:
        registry_env = {
            "REGISTRY_DATABASE_URL": registry_db.url,
            "REGISTRY_ENVIRONMENT": "test",
            "REGISTRY_LOG_LEVEL": "WARNING",
        }
        with uvicorn_process("services.registry.main:create_app", registry_env) as (registry_url, _):
            with httpx.Client(base_url=registry_url, auth=PrincipalAuth(CITY), timeout=120) as client:
                seeded = client.post(
                    "/enterprises/import", content=_registry_csv(), headers={"content-type": "text/csv"}
                )
                assert seeded.status_code == 200 and seeded.json()["created"] == ENTERPRISES, seeded.text[:300]
            eligibility_env = {
                "ELIGIBILITY_DATABASE_URL": eligibility_db.url,
                "ELIGIBILITY_REGISTRY_URL": registry_url,
                "ELIGIBILITY_ENVIRONMENT": "test",
                "ELIGIBILITY_LOG_LEVEL": "WARNING",
            }
            with uvicorn_process("services.eligibility.main:create_app", eligibility_env) as (eligibility_url, _):
                yield registry_url, eligibility_url
    finally:
        registry_db.drop()
        eligibility_db.drop()


def _batch_body() -> bytes:
    items = [
        {"measure_id": "M13", "as_of": "2025-06-30", "facts": {"actual_spend_yuan": f"{(index + 1) * 1000}.00"}}
        for index in range(BATCH_ITEMS)
    ]
    return json.dumps(items).encode()


def _assert_refused_properly(response: httpx.Response) -> None:
    assert response.status_code in (429, 503), response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) >= 1


async def _read_while(pending: list[asyncio.Task[Any]], client: httpx.AsyncClient, path: str) -> list[float]:
    """GET `path` again and again (a pause between) until every task is done; the latency of each."""
    latencies = []
    while not all(task.done() for task in pending):
        began = time.perf_counter()
        response = await client.get(path)
        latencies.append(time.perf_counter() - began)
        assert response.status_code == 200, response.text[:300]
        await asyncio.sleep(0.1)
    return latencies


async def test_six_anonymous_batches_of_ten_thousand_leave_the_citys_reads_fast(services) -> None:
    _, url = services
    body = _batch_body()
    headers = {"content-type": "application/json"}
    async with (
        httpx.AsyncClient(base_url=url, auth=PrincipalAuth(CITY), timeout=30) as city,
        httpx.AsyncClient(base_url=url, auth=PrincipalAuth(ANONYMOUS), timeout=120) as flood,
    ):
        assert (await city.get("/awards")).status_code == 200  # warm
        attack = [
            asyncio.create_task(flood.post("/calculate/batch", content=body, headers=headers)) for _ in range(ATTACKERS)
        ]
        await asyncio.sleep(0.2)  # the bodies are in, the first batch under way
        awards = await _read_while(attack, city, "/awards")
        answers = await asyncio.gather(*attack)
    done = [answer for answer in answers if answer.status_code == 200]
    assert done, [answer.status_code for answer in answers]
    assert done[0].json()["count"] == BATCH_ITEMS
    refused = [answer for answer in answers if answer.status_code != 200]
    assert refused, "every batch of the flood was admitted at once"
    for answer in refused:
        _assert_refused_properly(answer)
    assert awards, "the flood ended before the city could read"
    assert max(awards) < READ_MARGIN_SECONDS, [round(x, 3) for x in awards]


async def test_eight_screenings_of_the_whole_registry_leave_a_district_and_the_reads_served(services) -> None:
    _, url = services
    body = {"as_of": "2025-06-30", "year": 2025}
    principals = [CITY, AUDITOR] * (SCREENERS // 2)
    clients = [httpx.AsyncClient(base_url=url, auth=PrincipalAuth(p), timeout=120) for p in principals]
    try:
        async with (
            httpx.AsyncClient(base_url=url, auth=PrincipalAuth(CITY), timeout=30) as reader,
            httpx.AsyncClient(base_url=url, auth=PrincipalAuth(district(OWN_DISTRICT)), timeout=60) as own,
        ):
            assert (await reader.get("/measures")).status_code == 200  # warm
            attack = [asyncio.create_task(client.post("/screenings", json=body)) for client in clients]
            await asyncio.sleep(0.2)  # the screenings admitted are reading the registry
            began = time.perf_counter()
            district_screening = asyncio.create_task(own.post("/screenings", json=body))
            reads = await _read_while([*attack, district_screening], reader, "/measures")
            answer = await district_screening
            district_seconds = time.perf_counter() - began
            answers = await asyncio.gather(*attack)
    finally:
        for client in clients:
            await client.aclose()
    statuses = [item.status_code for item in answers]
    assert statuses.count(200) >= 1, statuses
    assert statuses.count(200) < SCREENERS, "every screening of the flood was admitted at once"
    for item in answers:
        if item.status_code != 200:
            _assert_refused_properly(item)
    if answer.status_code == 200:
        screened = answer.json()
        assert screened["district_code"] == OWN_DISTRICT and screened["subjects_read"]["enterprises"] > 0
    else:
        _assert_refused_properly(answer)
    assert district_seconds < DISTRICT_SCREENING_MARGIN_SECONDS, (answer.status_code, district_seconds)
    assert reads, "the flood ended before anyone could read"
    assert max(reads) < READ_MARGIN_SECONDS, [round(x, 3) for x in reads]
