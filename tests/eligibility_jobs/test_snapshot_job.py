"""POST /screenings/snapshots: the nightly snapshot of a year, taken now as a job by the real worker (the city only).

The registry of tests/eligibility_jobs/test_snapshots.py, worked out by hand there: the first snapshot of 2025 is the
baseline (3 eligible pairs, no events); after the changes, the second finds eB newly eligible (M07b), eC newly
eligible through its event pD (M13) and eA no longer eligible (M07b): 2 + 1 events.
"""

from typing import Any

import httpx
from fastapi import FastAPI

from shared.clock import Clock
from tests.eligibility_jobs.support import outbox, rows
from tests.eligibility_jobs.test_jobs import finished
from tests.eligibility_jobs.test_snapshots import TODAY, change, seed
from tests.support import AUDITOR, CITY, district


def accepted(response: httpx.Response) -> str:
    """The snapshot's 202: always a job, so no preference was applied (none was asked for)."""
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["kind"], job["status"]) == ("screening-snapshot", "queued")
    assert response.headers["location"] == f"/jobs/{job['id']}"
    assert "preference-applied" not in response.headers
    return str(response.headers["location"])


async def test_a_snapshot_taken_now_records_the_difference_with_the_previous_one(
    eligibility_app: FastAPI, client_for: Any, registry: httpx.AsyncClient, worker: Any, clock: Clock
) -> None:
    clock.hold(TODAY)
    s = await seed(registry)
    city = client_for(CITY)
    first = accepted(await city.post("/screenings/snapshots", json={"year": 2025}))
    async with worker():
        baseline = await finished(city, first)
        assert baseline["status"] == "succeeded", baseline
        result = (await city.get(baseline["result_url"])).json()
        assert (result["year"], result["as_of"], result["baseline"]) == (2025, "2025-06-30", True)
        assert (result["eligible"], result["newly_eligible"], result["no_longer_eligible"]) == (3, 0, 0)
        assert await outbox(eligibility_app) == []

        await change(registry, s)
        second = accepted(await city.post("/screenings/snapshots", json={"year": 2025}))
        job = await finished(city, second)
    assert job["status"] == "succeeded", job
    result = (await city.get(job["result_url"])).json()
    assert result["baseline"] is False
    assert (result["eligible"], result["newly_eligible"], result["no_longer_eligible"]) == (3, 2, 1)
    events = await outbox(eligibility_app)
    assert sorted((event["type"], event["subject"]) for event in events) == sorted(
        [
            ("enterprise.newly_eligible", f"enterprise:{s['eB']}"),
            ("enterprise.newly_eligible", f"enterprise:{s['eC']}"),
            ("enterprise.no_longer_eligible", f"enterprise:{s['eA']}"),
        ]
    )
    assert await rows(eligibility_app, "screening_snapshots") == 2


async def test_only_the_city_takes_a_snapshot_and_a_bad_body_writes_nothing(
    eligibility_app: FastAPI, client_for: Any
) -> None:
    for principal in (district("500103"), AUDITOR):
        refused = await client_for(principal).post("/screenings/snapshots", json={"year": 2025})
        assert refused.status_code == 403, refused.text
    # 2030: a year the policy (in force to 2027-12-31) does not reward: a snapshot of it would find nothing eligible.
    for body in ({"year": 1999}, {"year": 2030}, {"year": 2025, "district_code": "500103"}, {}):
        refused = await client_for(CITY).post("/screenings/snapshots", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    assert await rows(eligibility_app, "jobs") == 0
    assert await rows(eligibility_app, "procrastinate_jobs") == 0
