"""Which years can be ranked, and when: validity from one home (the eligibility service's parameters) and the clock.

渝发改规范〔2024〕7号 七、附则: in force from its issue (2024-11-19) to 2027-12-31; the years it rewards are
2024 … 2027 (eligibility's `policy.first_rewarded_year` / `policy.last_rewarded_year`). 第（六）条 ranks a district's
year, so a year is ranked (and published) only once it has ended; the 2027 ranking is necessarily made after the
policy's end, and reads the award table in force on its last day, 2027-12-31 (METHODOLOGY.md).
"""

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.ranking.main import create_app
from shared.http import UpstreamUnavailableProblem
from tests.ranking.conftest import count_rows, ranking_settings
from tests.ranking.doubles import upstreams_in_process
from tests.ranking.scenario import EXPECTED, by_code, seed
from tests.support import ANONYMOUS, CITY, asgi_client


async def test_a_year_is_ranked_only_once_it_has_ended(city, clock, registry, ranking_app):
    await seed(registry)
    clock.hold(date(2025, 12, 31))  # the last day of 2025, Asia/Shanghai: the year is not over
    refused = await city.post("/runs", json={"year": 2025, "as_of": "2025-12-31"})
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    (error,) = refused.json()["errors"]
    assert error["loc"] == ["body", "year"] and "2026-01-01" in error["msg"]
    assert await count_rows(ranking_app, "runs") == 0

    clock.hold(date(2026, 1, 1))
    made = await city.post("/runs", json={"year": 2025})
    assert made.status_code == 201, made.text
    body = made.json()
    # No as_of: the award table of the last day of the year ranked.
    assert body["as_of"] == "2025-12-31" and body["inputs"]["as_of"] == "2025-12-31"
    assert {code: (row["score"], row["rank"]) for code, row in by_code(body).items()} == EXPECTED

    # Publishing is held to the same rule (a clock set back cannot publish an unfinished year).
    clock.hold(date(2025, 12, 31))
    early = await city.post(f"/runs/{body['run_id']}/publish", json={})
    assert early.status_code == 422 and early.json()["errors"][0]["loc"] == ["run", "year"]
    assert (await city.get(f"/runs/{body['run_id']}")).json()["status"] == "draft"
    clock.hold(date(2026, 1, 1))
    assert (await city.post(f"/runs/{body['run_id']}/publish", json={})).status_code == 200


async def test_the_2027_ranking_is_made_after_the_policy_ends_with_the_table_of_its_last_day(city, clock, registry):
    await seed(registry, year=2027)  # the same figures for 2026 → 2027
    clock.hold(date(2027, 12, 31))
    assert (await city.post("/runs", json={"year": 2027})).json()["errors"][0]["loc"] == ["body", "year"]
    clock.hold(date(2028, 2, 1))
    made = await city.post("/runs", json={"year": 2027})
    assert made.status_code == 201, made.text
    body = made.json()
    # 31 December 2027 is the policy's last day: the table in force then, 5,000,000 for 1–5 and 3,000,000 for 6–10.
    assert body["as_of"] == "2027-12-31"
    assert body["inputs"]["award_table"]["by_rank"]["5"] == "5000000.00"
    assert body["inputs"]["award_table"]["by_rank"]["10"] == "3000000.00"
    assert {code: (row["score"], row["rank"]) for code, row in by_code(body).items()} == EXPECTED
    assert body["total_award_yuan"] == "34000000.00"
    # A date after the force is refused, naming it; the one in force is accepted.
    late = await city.post("/runs", json={"year": 2027, "as_of": "2028-01-31"})
    assert late.status_code == 422 and late.json()["errors"][0]["loc"] == ["body", "as_of"]
    assert "2027-12-31" in late.json()["errors"][0]["msg"]
    assert (await city.post(f"/runs/{body['run_id']}/publish", json={})).status_code == 200
    assert (await city.get("/rankings/2027")).json()["as_of"] == "2027-12-31"


@pytest.mark.parametrize(("year", "today"), [(2023, date(2026, 3, 31)), (2028, date(2029, 3, 31))])
async def test_a_year_the_policy_does_not_reward_is_refused_even_once_ended(city, clock, ranking_app, year, today):
    clock.hold(today)
    response = await city.post("/runs", json={"year": year})
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["loc"] == ["body", "year"] and "2024 … 2027" in error["msg"]
    assert await count_rows(ranking_app, "runs") == 0


class PolicyAnswer(httpx.AsyncBaseTransport):
    """The real eligibility app, except that its policy parameters are rewritten by `edit` (None: a 500)."""

    def __init__(self, app: FastAPI, edit: Callable[[dict[str, Any]], Any] | None) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.edit = edit
        self.policy_reads: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path != "/parameters" or request.url.params.get("measure_id") != "policy":
            return response
        self.policy_reads.append(request.url.params.get("as_of", ""))
        await response.aread()
        if self.edit is None:
            return httpx.Response(500, json={"status": 500})
        return httpx.Response(200, content=json.dumps(self.edit(json.loads(response.content))).encode())


@asynccontextmanager
async def ranking_with(
    ranking_database, registry_app, eligibility_app, edit, clock_at: date
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI, PolicyAnswer]]:
    settings = ranking_settings(ranking_database.url, upstream_retries=0)
    app = create_app(settings)
    transport = PolicyAnswer(eligibility_app, edit)
    registry = httpx.ASGITransport(app=registry_app)
    async with (
        upstreams_in_process(app, settings, registry=registry, eligibility=transport),
        app.router.lifespan_context(app),
    ):
        app.state.clock.hold(clock_at)
        yield asgi_client(app, CITY), app, transport


def last_year(value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(body: dict[str, Any]) -> dict[str, Any]:
        for item in body["items"]:
            if item["name"] == "policy.last_rewarded_year":
                item["value"] = value
        return body

    return edit


async def test_the_rewarded_years_are_the_eligibility_services_not_a_copy(
    ranking_database, registry_app, eligibility_app, registry
):
    await seed(registry, year=2027)
    async with ranking_with(ranking_database, registry_app, eligibility_app, last_year("2026"), date(2028, 2, 1)) as (
        client,
        app,
        transport,
    ):
        refused = await client.post("/runs", json={"year": 2027})
        assert refused.status_code == 422 and "2024 … 2026" in refused.json()["errors"][0]["msg"]
        # The years were read as of the date the run is reckoned on (default: 31 December of the year).
        assert transport.policy_reads == ["2027-12-31"]
        assert (await asgi_client(app, ANONYMOUS).get("/rankings/2027")).status_code == 422
        assert await count_rows(app, "runs") == 0


@pytest.mark.parametrize(
    "edit",
    [
        None,  # the eligibility service fails
        last_year("next year"),
        last_year("2023"),  # before the first rewarded year
        lambda body: {**body, "policy": {**body["policy"], "effective_to": "2024-01-01"}},  # ends before it starts
        lambda body: {key: value for key, value in body.items() if key != "items"},
    ],
)
async def test_unreadable_policy_parameters_are_a_503_problem_and_nothing_is_written(
    ranking_database, registry_app, eligibility_app, registry, edit
):
    await seed(registry)
    async with ranking_with(ranking_database, registry_app, eligibility_app, edit, date(2026, 3, 31)) as (
        client,
        app,
        _,
    ):
        response = await client.post("/runs", json={"year": 2025})
        assert response.status_code == 503 and response.headers["content-type"] == "application/problem+json"
        assert response.json()["upstream"] == "eligibility"
        assert await count_rows(app, "runs") == 0


@pytest.mark.parametrize("year", [0, 10000, -5])
async def test_an_impossible_year_is_a_422_problem(city, year):
    response = await city.post("/runs", json={"year": year})
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["body", "year"]


async def test_the_default_date_is_moved_into_the_force(ranking_database, registry_app, eligibility_app, registry):
    # Were the force to end on 2027-06-30, the 2027 ranking would read the table of that day, its last in force.
    await seed(registry, year=2027)

    def shorter(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "policy": {**body["policy"], "effective_to": "2027-06-30"}}

    async with ranking_with(ranking_database, registry_app, eligibility_app, shorter, date(2028, 2, 1)) as (
        client,
        _,
        _,
    ):
        made = await client.post("/runs", json={"year": 2027})
        assert made.status_code == 201, made.text
        assert made.json()["as_of"] == "2027-06-30"
        assert made.json()["inputs"]["policy"]["effective_to"] == "2027-06-30"


async def test_a_published_ranking_is_read_without_the_eligibility_service(
    city, registry, ranking_database, registry_app, eligibility_app
):
    await seed(registry)
    run = (await city.post("/runs", json={"year": 2025, "as_of": "2026-03-31"})).json()
    assert (await city.post(f"/runs/{run['run_id']}/publish", json={})).status_code == 200
    async with ranking_with(ranking_database, registry_app, eligibility_app, None, date(2026, 3, 31)) as (_, app, _):
        anonymous = asgi_client(app, ANONYMOUS)
        assert (await anonymous.get("/rankings/2025")).json()["run_id"] == run["run_id"]
        assert len((await anonymous.get("/rankings/2025/history")).json()["items"]) == 1
        # A year without a publication needs the policy's years to say 404 or 422: unreadable, a 503.
        missing = await anonymous.get("/rankings/2024")
        assert missing.status_code == 503 and missing.json()["upstream"] == "eligibility"
        assert UpstreamUnavailableProblem.model_validate(missing.json()).upstream == "eligibility"
        documented = app.openapi()["paths"]["/rankings/{year}"]["get"]["responses"]["503"]["content"]
        assert documented["application/problem+json"]["schema"]["$ref"].endswith("/UpstreamUnavailableProblem")
