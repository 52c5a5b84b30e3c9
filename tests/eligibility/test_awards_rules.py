"""The award ledger against the rules: this policy's computable measures are capped by what the rules give on the
registry's facts (M06: by the published ranking of the real ranking service), and the trace is kept.

Amounts are worked out by hand in tests/eligibility/scenario.py (default parameters, as of 2025-06-30), each with
the clause of 渝发改规范〔2024〕7号 it comes from.
"""

import socket
from collections.abc import AsyncIterator, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.eligibility.awards.ranking import RankingClient
from services.eligibility.awards.schemas import AwardAboveEntitlementProblem
from services.eligibility.dependencies import get_ranking, get_registry
from services.eligibility.registry_client.client import RegistryClient
from services.ranking import SERVICE_DIR as RANKING_DIR
from services.ranking.main import create_app as create_ranking_app
from services.ranking.settings import RankingSettings
from shared.http import ServiceClient
from tests.eligibility.awards_support import propose, ranking_rows, written
from tests.eligibility.scenario import Scenario, building, cluster, enterprise, new_uscc, project, seed, year
from tests.ranking.doubles import upstreams_in_process
from tests.support import CITY, TEST_SECRET, TestDatabase, asgi_client, overridden

# A one-off award is computed on the day it is proposed (the clock's today); a yearly one on the last day of its year.
AS_OF = "2025-06-30"
YEAR_END = "2025-12-31"


@pytest.fixture(autouse=True)
def _today(clock) -> None:
    clock.hold(date.fromisoformat(AS_OF))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dead(upstream: str) -> ServiceClient:
    return ServiceClient(
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{closed_port()}", timeout=2),
        upstream=upstream,
        secret=TEST_SECRET,
        retries=0,
    )


# (measure, subject type, scenario attribute, year, the most the rules give) — scenario.expected_eligible.
CAPPED = [
    ("M01", "project", "p1", None, "1234567.90"),  # （一）10% × 12,345,678.95 = 1,234,567.895 → half-up
    ("M01", "project", "p6", None, "20000000.00"),  # （一）special major: 10% × 300M = 30M, capped at 20M
    ("M02", "project", "p5", None, "5000000.00"),  # （二）20% × 30M = 6M, capped at 5M
    ("M03", "cluster", "c1", 2025, "6000000.00"),  # （三）grade A, tier 2
    ("M05", "building", "b1", 2025, "1000000.00"),  # （五）growth exactly 20%: tier 1
    ("M05", "building", "b2", 2025, "500000.00"),  # （五）growth exactly 10%: tier 2
    ("M07a", "enterprise", "e1", None, "5000000.00"),  # （七）first listing in 2025, paid to the district
    ("M07b", "enterprise", "e1", None, "1000000.00"),  # （七）spin-off with 25M ≥ 20M in 2025
    ("M13", "project", "p3", None, "30.02"),  # （十三）30% × 100.05 = 30.015 → 30.02
]


@pytest.mark.parametrize(("measure_id", "subject_type", "attribute", "year_", "maximum"), CAPPED)
async def test_a_computable_award_is_capped_by_the_rules_and_keeps_their_trace(
    city, registry, eligibility_app, measure_id, subject_type, attribute, year_, maximum
):
    scenario: Scenario = await seed(registry)
    subject_id = getattr(scenario, attribute)
    body = {
        "measure_id": measure_id,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "year": year_,
    }
    counts = await written(eligibility_app)
    over = await city.post("/awards", json={**body, "amount_yuan": f"{Decimal(maximum) + Decimal('0.01'):.2f}"})
    assert over.status_code == 422, over.text
    problem = over.json()
    assert problem["maximum_yuan"] == maximum and problem["errors"][0]["loc"] == ["body", "amount_yuan"]
    assert problem["type"] == "/problems/award-above-entitlement"
    # The subject is named with its kind: "… more than M01 allows project 12 on …".
    assert f"is more than {measure_id} allows {subject_type} {subject_id} on " in problem["detail"]
    assert problem["detail"].startswith(f"An award of {Decimal(maximum) + Decimal('0.01'):.2f} yuan")
    above = AwardAboveEntitlementProblem.model_validate(problem)
    assert above.maximum_yuan == Decimal(maximum) and above.calculation and above.calculation.measure_id == measure_id
    assert f"at most {maximum}" in problem["errors"][0]["msg"]
    assert await written(eligibility_app) == counts

    created = await propose(city, {**body, "amount_yuan": maximum})
    assert created["amount_yuan"] == maximum and created["is_standing"]
    calculation = created["calculation"]
    assert calculation["measure_id"] == measure_id and calculation["amount_yuan"] == maximum
    assert calculation["eligible"] and calculation["as_of"] == (YEAR_END if year_ else AS_OF)
    assert calculation["trace"][-1]["step"] == "amount" and calculation["trace"][-1]["value"] == maximum
    recipient_kind = {"M03": "district", "M07a": "district"}.get(measure_id, "enterprise")
    suffix = f":{year_}" if year_ else (f":{recipient_kind}" if subject_type == "enterprise" else "")
    assert created["stacking_key"] == f"{subject_type}:{subject_id}{suffix}"
    assert created["subject_name"] and created["recipient"] and created["recipient_kind"] == recipient_kind


async def test_less_than_the_maximum_is_fine(city, registry):
    scenario = await seed(registry)
    created = await propose(
        city, {"measure_id": "M13", "subject_type": "project", "subject_id": scenario.p3, "amount_yuan": "10.00"}
    )
    assert created["payable_yuan"] == "10.00" and created["calculation"]["amount_yuan"] == "30.02"


async def test_m07_reads_the_best_year_unless_told_which(city, registry, eligibility_app):
    scenario = await seed(registry)
    body = {"measure_id": "M07a", "subject_type": "enterprise", "subject_id": scenario.e1}
    # e1 was not listed in 2024: （七）gives nothing for that year.
    counts = await written(eligibility_app)
    refused = await city.post("/awards", json={**body, "facts_year": 2024, "amount_yuan": "1.00"})
    assert refused.status_code == 422 and refused.json()["maximum_yuan"] == "0.00"
    assert "not newly listed" in refused.json()["detail"]
    missing = await city.post("/awards", json={**body, "facts_year": 2023, "amount_yuan": "1.00"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["loc"] == ["body", "facts_year"]
    assert await written(eligibility_app) == counts
    created = await propose(city, {**body, "amount_yuan": "5000000.00"})
    assert created["calculation"]["facts_year"] == 2025
    assert created["calculation"]["facts"] == {"first_time_top500": True, "producer_service": True}
    assert created["recipient"] == "500103"  # （七）the reward goes to the enterprise's district


async def test_the_rules_refusing_the_subject_refuse_the_award(city, registry, eligibility_app, clock):
    scenario = await seed(registry)
    e3 = scenario.e3
    counts = await written(eligibility_app)
    # e3's 2025 revenue 19,999,999.99 is below （七）'s 20,000,000: nothing for M07b.
    body = {"measure_id": "M07b", "subject_type": "enterprise", "subject_id": e3, "amount_yuan": "1.00"}
    response = await city.post("/awards", json=body)
    assert response.status_code == 422 and response.json()["maximum_yuan"] == "0.00", response.text
    # A one-off award proposed outside 2024-11-19 … 2027-12-31: the policy is not in force on that day.
    clock.hold(date(2024, 11, 18))
    body = {"measure_id": "M01", "subject_type": "project", "subject_id": scenario.p1, "amount_yuan": "1.00"}
    not_in_force = await city.post("/awards", json=body)
    assert not_in_force.status_code == 422 and not_in_force.json()["maximum_yuan"] == "0.00"
    assert "not in force on 2024-11-18" in not_in_force.json()["detail"]
    assert await written(eligibility_app) == counts


async def test_a_subject_the_registry_lacks_or_that_does_not_fit_is_refused(city, registry, eligibility_app):
    owner = await enterprise(registry, "500103", sector="software_it", spun_off=False)
    event = await project(
        registry, kind="event", owner_uscc=owner, district_code="500103", year=2025, actual_spend_yuan="100.00"
    )
    unevaluated = await cluster(registry, "500103", owner, "A", 1)  # evaluated for 2025 only
    lonely = await building(registry, "500103", owner, {2025: "9000000.00"})  # no 2024 revenue
    bare = await enterprise(registry, "500112", sector="software_it", spun_off=True)  # no yearly figures
    counts = await written(eligibility_app)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"measure_id": "M01", "subject_type": "project", "subject_id": "999999"}, "no project 999999 in the registry"),
        ({"measure_id": "M03", "subject_type": "cluster", "subject_id": "999999", "year": 2025}, "in the registry"),
        ({"measure_id": "M05", "subject_type": "building", "subject_id": "999999", "year": 2025}, "in the registry"),
        (
            {"measure_id": "M07b", "subject_type": "enterprise", "subject_id": new_uscc("500103")},
            "the registry holds no enterprise",
        ),
        ({"measure_id": "M01", "subject_type": "project", "subject_id": event}, "needs kind 'investment'"),
        ({"measure_id": "M02", "subject_type": "project", "subject_id": event}, "needs kind 'platform'"),
        ({"measure_id": "M03", "subject_type": "cluster", "subject_id": unevaluated, "year": 2024}, "no evaluation"),
        ({"measure_id": "M05", "subject_type": "building", "subject_id": lonely, "year": 2025}, "lacks revenue"),
        ({"measure_id": "M07b", "subject_type": "enterprise", "subject_id": bare}, "no yearly figures"),
    ]
    for body, message in cases:
        response = await city.post("/awards", json={**body, "amount_yuan": "1.00"})
        assert response.status_code == 422, (body, response.text)
        [error] = response.json()["errors"]
        assert error["loc"] == ["body", "subject_id"] and message in error["msg"], (body, error)
    assert await written(eligibility_app) == counts


async def test_the_registry_down_is_a_503_and_nothing_is_written(city, registry, eligibility_app):
    owner = await enterprise(registry, "500103", sector="software_it", spun_off=False)
    await year(registry, owner, 2025, "25000000.00", top500=True)
    orphan = RegistryClient(
        dead("registry").http, secret=TEST_SECRET, retries=0, backoff_seconds=0, page_size=10, concurrency=1
    )
    async with overridden(eligibility_app, get_registry, orphan):
        counts = await written(eligibility_app)
        response = await city.post(
            "/awards",
            json={"measure_id": "M07b", "subject_type": "enterprise", "subject_id": owner, "amount_yuan": "1.00"},
        )
        assert response.status_code == 503 and "registry" in response.json()["detail"]
        assert await written(eligibility_app) == counts
        # Every award reads its subject in the registry now (its district, name and recipient are the registry's).
        body = {"measure_id": "M08", "subject_type": "enterprise", "subject_id": owner, "amount_yuan": "1.00"}
        response = await city.post("/awards", json=body)
        assert response.status_code == 503 and await written(eligibility_app) == counts


# ---- M06: the published ranking of the real ranking service ------------------------------------------------------


@pytest.fixture(scope="module")
def ranking_database() -> Iterator[TestDatabase]:
    yield from TestDatabase("ranking", RANKING_DIR).lifecycle()


@pytest.fixture(scope="module")
async def ranking_app(ranking_database, registry_app, eligibility_app) -> AsyncIterator[FastAPI]:
    settings = RankingSettings(
        database_url=ranking_database.url, environment="test", upstream_retry_backoff_seconds=0.01
    )
    app = create_ranking_app(settings)
    registry, eligibility = httpx.ASGITransport(app=registry_app), httpx.ASGITransport(app=eligibility_app)
    async with (
        upstreams_in_process(app, settings, registry=registry, eligibility=eligibility),
        app.router.lifespan_context(app),
    ):
        yield app


@pytest.fixture(scope="module")
async def ranking_2025(ranking_app, registry_app) -> dict[str, Any]:
    """The 2025 ranking, computed by the ranking service from the registry's figures and published."""
    registry = asgi_client(registry_app, CITY)
    others = ["500101", "500102", *(f"5001{code:02d}" for code in range(4, 12))]
    for rows in ranking_rows("500103", others, 700_000).values():
        response = await registry.post("/enterprises/import?atomic=true", json=rows)
        assert response.status_code == 200 and not response.json()["rejected"], response.text
    ranking = asgi_client(ranking_app, CITY)
    run = await ranking.post("/runs", json={"year": 2025, "as_of": AS_OF})
    assert run.status_code == 201, run.text
    # The ten districts behind 500103 tie on every indicator, so the district code decides ranks 5/6 and 10/11:
    # money decided by the last tie-break, which the methodology publishes only with a reason.
    reason = {"reason": "ranks 5/6 and 10/11 decided by the district code, as the methodology sets"}
    published = await ranking.post(f"/runs/{run.json()['run_id']}/publish", json=reason)
    assert published.status_code == 200, published.text
    body = (await ranking.get("/rankings/2025")).json()
    return {row["district_code"]: row for row in body["rows"]} | {"run_id": body["run_id"]}


@pytest.fixture
async def with_ranking(eligibility_app, ranking_app) -> AsyncIterator[None]:
    http = httpx.AsyncClient(base_url="http://ranking", transport=httpx.ASGITransport(app=ranking_app))
    async with overridden(
        eligibility_app,
        get_ranking,
        RankingClient(ServiceClient(http, upstream="ranking", secret=TEST_SECRET, retries=0)),
    ):
        yield


def m06(district_code: str, amount: str, year_: int = 2025) -> dict[str, Any]:
    return {
        "measure_id": "M06",
        "subject_type": "district",
        "subject_id": district_code,
        "year": year_,
        "amount_yuan": amount,
    }


async def test_m06_is_capped_by_the_district_award_in_the_published_ranking(
    city, eligibility_app, ranking_2025, with_ranking
):
    # 500103 has the most new (3) and the highest net increase (3) of the 38 districts: rank 1. The ten districts
    # with one steady enterprise tie and follow in code order: 500101 2nd, 500102 3rd, 500104 4th, 500105 5th,
    # 500106 6th … 500111 11th; the 27 districts without an above-size enterprise take no award place (第（六）条).
    assert ranking_2025["500103"]["rank"] == 1
    assert ranking_2025["500106"]["rank"] == 6 and ranking_2025["500111"]["rank"] == 11
    counts = await written(eligibility_app)
    # （六）ranks 1–5: 5,000,000 each.
    over = await city.post("/awards", json=m06("500103", "5000000.01"))
    assert over.status_code == 422 and over.json()["maximum_yuan"] == "5000000.00"
    # （六）ranks 6–10: 3,000,000 each.
    over = await city.post("/awards", json=m06("500106", "3000000.01"))
    assert over.status_code == 422 and over.json()["maximum_yuan"] == "3000000.00"
    # （六）nothing below rank 10.
    nothing = await city.post("/awards", json=m06("500111", "1.00"))
    assert nothing.status_code == 422 and nothing.json()["maximum_yuan"] == "0.00"
    assert "rank 11 is not among the ranks rewarded" in nothing.json()["detail"]
    assert await written(eligibility_app) == counts

    first = await propose(city, m06("500103", "5000000.00"))
    assert first["stacking_key"] == "district:500103:2025" and first["subject_name"] == "渝中区"
    assert first["recipient"] == "500103" and first["district_code"] == "500103"
    calculation = first["calculation"]
    assert calculation["ranking_run_id"] == ranking_2025["run_id"] and calculation["facts"] == {"rank": 1}
    assert calculation["trace"][0]["value"] == f"2025, run {ranking_2025['run_id']}"
    sixth = await propose(city, m06("500106", "3000000.00"))
    assert sixth["amount_yuan"] == "3000000.00"


async def test_m06_without_a_published_ranking_or_with_the_ranking_down(
    city, eligibility_app, ranking_2025, with_ranking
):
    counts = await written(eligibility_app)
    response = await city.post("/awards", json=m06("500103", "1.00", 2026))
    assert response.status_code == 422
    assert response.json()["errors"] == [{"loc": ["body", "year"], "msg": "no published ranking for 2026"}]
    async with overridden(eligibility_app, get_ranking, RankingClient(dead("ranking"))):
        down = await city.post("/awards", json=m06("500103", "1.00"))
        assert down.status_code == 503 and "ranking" in down.json()["detail"]
    wrong = await city.post("/awards", json={**m06("500103", "1.00"), "subject_type": "enterprise"})
    assert wrong.status_code == 422 and ["body", "subject_type"] in [e["loc"] for e in wrong.json()["errors"]]
    assert await written(eligibility_app) == counts
