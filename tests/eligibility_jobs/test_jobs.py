"""POST /screenings and GET /awards/export.csv|.xlsx as jobs (`Prefer: respond-async`), run by the service's real
procrastinate worker: 202 and the job, its progress and result equal to the synchronous answer, refusals before
anything is written, and a district's jobs its own."""

import asyncio
import io
from typing import Any

import httpx
from fastapi import FastAPI
from openpyxl import load_workbook  # type: ignore[import-untyped]

from shared.clock import Clock
from tests.eligibility.awards_support import TODAY, other_policy, propose, register_other_policy
from tests.eligibility.scenario import enterprise, project, seed
from tests.eligibility_jobs.support import rows
from tests.support import AUDITOR, CITY, district

ASYNC = {"Prefer": "respond-async"}
BODY = {"as_of": "2025-06-30", "year": 2025}
YUZHONG, YUBEI = district("500103"), district("500112")


async def finished(client: httpx.AsyncClient, location: str, within: float = 30.0) -> dict[str, Any]:
    """Poll the job at `location` until it has finished."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await client.get(location)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in ("succeeded", "failed", "cancelled") or asyncio.get_running_loop().time() > deadline:
            return job
        await asyncio.sleep(0.1)


def accepted(response: httpx.Response, kind: str) -> str:
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["kind"], job["status"], job["result_url"]) == (kind, "queued", None)
    assert response.headers["location"] == f"/jobs/{job['id']}"
    assert response.headers["preference-applied"] == "respond-async"
    return str(response.headers["location"])


async def nothing_written(app: FastAPI) -> None:
    assert await rows(app, "jobs") == 0
    assert await rows(app, "procrastinate_jobs") == 0


async def test_a_screening_job_answers_what_the_synchronous_screening_answers(
    client_for: Any, registry: httpx.AsyncClient, worker: Any
) -> None:
    await seed(registry)
    city = client_for(CITY)
    location = accepted(await city.post("/screenings", json=BODY, headers=ASYNC), "screening")
    async with worker():
        job = await finished(city, location)
    assert job["status"] == "succeeded", job
    assert job["progress"] == {"done": 1, "total": 1} and job["errors"] == []
    assert job["result_url"] == f"{location}/result"
    assert job["started_at"] is not None and job["finished_at"] is not None
    result = await city.get(job["result_url"])
    assert result.status_code == 200 and result.headers["content-type"].startswith("application/json")
    synchronous = await city.post("/screenings", json=BODY)
    assert synchronous.status_code == 200
    assert result.json() == synchronous.json()
    assert result.json()["totals"]["count"] == 9  # the scenario's, worked out by hand in tests/eligibility


async def test_a_district_s_screening_job_is_its_own(client_for: Any, registry: httpx.AsyncClient, worker: Any) -> None:
    await seed(registry)
    yuzhong, yubei = client_for(YUZHONG), client_for(YUBEI)
    location = accepted(await yuzhong.post("/screenings", json=BODY, headers=ASYNC), "screening")
    async with worker():
        job = await finished(yuzhong, location)
    assert job["status"] == "succeeded", job
    result = (await yuzhong.get(f"{location}/result")).json()
    assert result == (await yuzhong.post("/screenings", json=BODY)).json()
    assert result["district_code"] == "500103"
    assert {e["district_code"] for e in result["eligible"]} == {"500103"}
    # Another district sees nothing of it (a 404: the id tells nothing of its owner); the city and auditor read it.
    for path in (location, f"{location}/result"):
        assert (await yubei.get(path)).status_code == 404
    assert (await yubei.delete(location)).status_code == 404
    assert (await client_for(CITY).get(location)).json()["status"] == "succeeded"
    assert (await client_for(AUDITOR).get(f"{location}/result")).json() == result


async def test_a_bad_screening_request_is_refused_before_a_job_is_written(
    eligibility_app: FastAPI, client_for: Any
) -> None:
    city = client_for(CITY)
    invalid = await city.post("/screenings", json={**BODY, "year": 1999}, headers=ASYNC)
    assert invalid.status_code == 422 and invalid.headers["content-type"].startswith("application/problem+json")
    assert any(error["loc"][-1] == "year" for error in invalid.json()["errors"])
    other = await client_for(YUZHONG).post("/screenings", json={**BODY, "district_code": "500112"}, headers=ASYNC)
    assert other.status_code == 403 and other.headers["content-type"].startswith("application/problem+json")
    await nothing_written(eligibility_app)


async def test_a_queued_job_cancelled_never_runs(eligibility_app: FastAPI, client_for: Any, worker: Any) -> None:
    city = client_for(CITY)
    location = accepted(await city.post("/screenings", json=BODY, headers=ASYNC), "screening")
    cancelled = await city.delete(location)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    async with worker():
        await asyncio.sleep(1.0)
    job = (await city.get(location)).json()
    assert (job["status"], job["started_at"], job["result_url"]) == ("cancelled", None, None)
    assert (await city.get(f"{location}/result")).status_code == 409
    assert (await city.delete(location)).status_code == 200  # answered as it is


async def _ledger(city: httpx.AsyncClient, registry: httpx.AsyncClient, clock: Clock) -> None:
    """Four awards under another policy: three to 渝中区's projects, one to 渝北区's."""
    clock.hold(TODAY)
    await register_other_policy(city)
    for district_code, amount in (
        ("500103", "1000.00"),
        ("500103", "2000.50"),
        ("500103", "3000.00"),
        ("500112", "4000.00"),
    ):
        owner = await enterprise(registry, district_code, sector="software_it", spun_off=False)
        p = await project(
            registry, kind="investment", owner_uscc=owner, district_code=district_code, year=2025,
            verified_investment_yuan="1000000.00",
        )  # fmt: skip
        await propose(city, other_policy("project", p, amount))


async def test_an_export_job_gives_the_synchronous_file(
    client_for: Any, registry: httpx.AsyncClient, clock: Clock, worker: Any
) -> None:
    city = client_for(CITY)
    await _ledger(city, registry, clock)
    yuzhong = client_for(YUZHONG)
    csv_job = accepted(await yuzhong.get("/awards/export.csv", headers=ASYNC), "awards-export-csv")
    xlsx_job = accepted(
        await city.get("/awards/export.xlsx", params={"district_code": "500112"}, headers=ASYNC), "awards-export-xlsx"
    )
    async with worker():
        assert (await finished(yuzhong, csv_job))["status"] == "succeeded"
        assert (await finished(city, xlsx_job))["status"] == "succeeded"

    csv_file = await yuzhong.get(f"{csv_job}/result")
    synchronous = await yuzhong.get("/awards/export.csv")
    assert csv_file.status_code == 200
    assert csv_file.content == synchronous.content
    assert csv_file.headers["content-type"] == synchronous.headers["content-type"]
    assert csv_file.headers["content-disposition"] == synchronous.headers["content-disposition"]
    assert csv_file.content.decode("utf-8-sig").count("\r\n") == 1 + 3  # the header and 渝中区's three awards

    xlsx_file = await city.get(f"{xlsx_job}/result")
    synchronous = await city.get("/awards/export.xlsx", params={"district_code": "500112"})
    assert xlsx_file.headers["content-type"] == synchronous.headers["content-type"]
    assert xlsx_file.headers["content-disposition"] == synchronous.headers["content-disposition"]
    made, expected = (load_workbook(io.BytesIO(body.content), read_only=True) for body in (xlsx_file, synchronous))
    assert _values(made["awards"]) == _values(expected["awards"])
    assert len(_values(made["awards"])) == 2 + 1 + 1  # title, header, 渝北区's one award, totals
    # The selection sheet: the same filters; only the time it was generated differs.
    assert _values(made["selection"])[1:] == _values(expected["selection"])[1:]


def _values(sheet: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


async def test_a_bad_export_request_is_refused_before_a_job_is_written(
    eligibility_app: FastAPI, client_for: Any, registry: httpx.AsyncClient, clock: Clock
) -> None:
    city = client_for(CITY)
    await _ledger(city, registry, clock)
    bad_policy = await city.get("/awards/export.csv", params={"policy": "not a number"}, headers=ASYNC)
    assert bad_policy.status_code == 422
    other = await client_for(YUBEI).get("/awards/export.xlsx", params={"district_code": "500103"}, headers=ASYNC)
    assert other.status_code == 403
    # Four awards, an export holds three (EXPORT_MAX_ROWS): refused at submission, as the synchronous request is.
    too_many = await city.get("/awards/export.csv", headers=ASYNC)
    assert too_many.status_code == 422 and "at most 3" in too_many.json()["detail"]
    assert (await city.get("/awards/export.csv")).status_code == 422
    for response in (bad_policy, other, too_many):
        assert response.headers["content-type"].startswith("application/problem+json")
    await nothing_written(eligibility_app)
