"""POST /screenings against the real registry app (in-process over httpx's ASGI transport)."""

import asyncio
import threading
from collections.abc import Callable
from decimal import Decimal

import pytest

from services.eligibility.screenings.service import PageWorker
from tests.eligibility.scenario import (
    TOTAL_2025,
    TOTAL_500103,
    TOTAL_500112,
    building,
    cluster,
    enterprise,
    expected_eligible,
    project,
    seed,
    year,
)
from tests.support import ANONYMOUS, AUDITOR, CITY, SERVICE, asgi_client, district

BODY = {"as_of": "2025-06-30", "year": 2025}


async def test_city_screening_finds_every_eligible_subject_with_amounts_worked_by_hand(client_for, registry):
    scenario = await seed(registry)
    response = await client_for(CITY).post("/screenings", json=BODY)
    assert response.status_code == 200, response.text
    body = response.json()
    found = {(e["measure_id"], e["subject_id"], e["district_code"], e["amount_yuan"]) for e in body["eligible"]}
    assert found == expected_eligible(scenario)
    assert body["subjects_read"] == {"projects": 5, "clusters": 2, "buildings": 3, "enterprises": 3}
    assert body["totals"]["count"] == 9
    assert Decimal(body["totals"]["amount_yuan"]) == TOTAL_2025
    assert body["totals"]["by_district"] == [
        {"district_code": "500103", "count": 6, "amount_yuan": str(TOTAL_500103)},
        {"district_code": "500112", "count": 3, "amount_yuan": str(TOTAL_500112)},
    ]
    assert body["totals"]["by_measure"] == [
        {"measure_id": "M01", "count": 2, "amount_yuan": "21234567.90"},
        {"measure_id": "M02", "count": 1, "amount_yuan": "5000000.00"},
        {"measure_id": "M03", "count": 1, "amount_yuan": "6000000.00"},
        {"measure_id": "M05", "count": 2, "amount_yuan": "1500000.00"},
        {"measure_id": "M07a", "count": 1, "amount_yuan": "5000000.00"},
        {"measure_id": "M07b", "count": 1, "amount_yuan": "1000000.00"},
        {"measure_id": "M13", "count": 1, "amount_yuan": "30.02"},
    ]
    reasons = {(r["measure_id"], r["code"]): r["count"] for r in body["not_eligible"]}
    assert reasons == {
        ("M02", "investment_not_above_threshold"): 1,  # exactly 5,000,000.00 is not above it
        ("M03", "grade_not_a"): 1,
        ("M05", "no_figures"): 1,
        ("M07a", "not_first_time_top500"): 2,
        ("M07b", "not_spun_off"): 1,
        ("M07b", "revenue_below_threshold"): 1,  # 19,999,999.99
    }
    assert [n["measure_id"] for n in body["not_screened"]] == ["M06"]
    m07a = next(e for e in body["eligible"] if e["measure_id"] == "M07a")
    assert m07a["recipient"] == "500103" and m07a["facts"] == {"first_time_top500": True, "producer_service": True}
    m03 = next(e for e in body["eligible"] if e["measure_id"] == "M03")
    # （三）按照集聚区隶属关系由所在区县政府…管理使用: c1 belongs to 渝中区 (the default), not to e1 which manages it.
    assert (m03["recipient_kind"], m03["recipient"]) == ("district", "500103")
    recipients = {(e["measure_id"], e["subject_id"]): (e["recipient_kind"], e["recipient"]) for e in body["eligible"]}
    assert recipients == {
        ("M01", scenario.p1): ("enterprise", scenario.e1),  # （一）the project owner
        ("M01", scenario.p6): ("enterprise", scenario.e3),
        ("M02", scenario.p5): ("enterprise", scenario.e3),  # （二）the platform owner
        ("M03", scenario.c1): ("district", "500103"),
        ("M05", scenario.b1): ("enterprise", scenario.e2),  # （五）the building's operator
        ("M05", scenario.b2): ("enterprise", scenario.e3),
        ("M07a", scenario.e1): ("district", "500103"),  # （七）给予相应区县
        ("M07b", scenario.e1): ("enterprise", scenario.e1),  # （七）the new enterprise itself
        ("M13", scenario.p3): ("enterprise", scenario.e1),  # （十三）the organiser
    }
    m07b = next(e for e in body["eligible"] if e["measure_id"] == "M07b")
    assert m07b["facts"] == {
        "spun_off_from_manufacturer": True,
        "established_on": "2024-11-19",
        "revenue_yuan": "25000000.00",
    }


async def test_a_screened_subject_replays_through_calculate(client_for, registry):
    await seed(registry)
    body = (await client_for(CITY).post("/screenings", json=BODY)).json()
    for subject in body["eligible"]:
        replay = await client_for(ANONYMOUS).post(
            "/calculate", json={"measure_id": subject["measure_id"], "as_of": "2025-06-30", "facts": subject["facts"]}
        )
        assert replay.json()["amount_yuan"] == subject["amount_yuan"]


async def test_outside_the_validity_nothing_is_eligible(client_for, registry):
    await seed(registry)
    body = (await client_for(CITY).post("/screenings", json={"as_of": "2028-01-01", "year": 2025})).json()
    assert body["policy_in_force"] is False and body["eligible"] == []
    assert body["totals"]["amount_yuan"] == "0.00"
    assert {r["code"] for r in body["not_eligible"]} >= {"policy_not_in_force"}


async def test_a_district_screens_its_own_district(client_for, registry):
    await seed(registry)
    response = await client_for(district("500112")).post("/screenings", json=BODY)
    assert response.status_code == 200
    body = response.json()
    assert body["district_code"] == "500112"
    assert {e["district_code"] for e in body["eligible"]} == {"500112"}
    assert Decimal(body["totals"]["amount_yuan"]) == TOTAL_500112
    own = await client_for(district("500112")).post("/screenings", json={**BODY, "district_code": "500112"})
    assert own.json()["totals"] == body["totals"]


async def test_city_and_auditor_may_narrow_to_one_district(client_for, registry):
    await seed(registry)
    for principal in (CITY, AUDITOR):
        response = await client_for(principal).post("/screenings", json={**BODY, "district_code": "500103"})
        assert response.status_code == 200
        assert Decimal(response.json()["totals"]["amount_yuan"]) == TOTAL_500103


@pytest.mark.parametrize(
    ("principal", "body", "status"),
    [
        (None, BODY, 401),
        (ANONYMOUS, BODY, 401),
        (SERVICE, BODY, 403),
        (district("500112"), {**BODY, "district_code": "500103"}, 403),
    ],
)
async def test_screening_authorisation(client_for, principal, body, status):
    response = await client_for(principal).post("/screenings", json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"year": 2025}, ["body", "as_of"]),
        ({"as_of": "2025-06-31", "year": 2025}, ["body", "as_of"]),
        ({"as_of": "2025-06-30", "year": "last"}, ["body", "year"]),
        ({"as_of": "2025-06-30", "year": 1900}, ["body", "year"]),
        ({"as_of": "2025-06-30", "year": 2025, "district_code": "500199"}, ["body", "district_code"]),
    ],
)
async def test_bad_screening_input_is_a_422_problem(client_for, body, loc):
    response = await client_for(CITY).post("/screenings", json=body)
    assert response.status_code == 422
    assert loc in [e["loc"] for e in response.json()["errors"]]


def tally(body: dict) -> dict[tuple[str, str], int]:
    return {(r["measure_id"], r["code"]): r["count"] for r in body["not_eligible"]}


def paid(body: dict) -> dict[tuple[str, str], tuple[str, str, str]]:
    return {
        (e["measure_id"], e["subject_id"]): (e["recipient_kind"], e["recipient"], e["amount_yuan"])
        for e in body["eligible"]
    }


async def test_a_2023_screening_pays_nothing_on_the_same_facts_that_pay_in_2025(client_for, registry):
    # 七、附则: the policy rewards the years 2024–2027; 2023 is before it, whatever the facts and the day screened.
    listed_2023 = await enterprise(registry, "500105", sector="software_it", spun_off=False)
    await year(registry, listed_2023, 2023, "25000000.00", top500=True)  # first listing, in 2023
    listed_2025 = await enterprise(registry, "500105", sector="software_it", spun_off=False)
    await year(registry, listed_2025, 2025, "25000000.00", top500=True)  # first listing, in 2025
    ids: dict[tuple[str, int], str] = {}
    for year_ in (2023, 2025):
        ids[("M01", year_)] = await project(
            registry, kind="investment", owner_uscc=listed_2023, year=year_, verified_investment_yuan="12345678.95"
        )
        ids[("M13", year_)] = await project(
            registry, kind="event", owner_uscc=listed_2023, year=year_, actual_spend_yuan="100.05"
        )
    hub = await cluster(registry, "500105", None, "A", 2, year_=2023)
    await _ok(await registry.put(f"/clusters/{hub}/evaluations/2025", json={"grade": "A", "score": "88.50", "tier": 2}))
    tower = await building(
        registry,
        "500105",
        listed_2023,
        {2022: "10000000.00", 2023: "12000000.00", 2024: "10000000.00", 2025: "12000000.00"},
    )  # 20% growth in 2023 and in 2025

    old = (await client_for(CITY).post("/screenings", json={"as_of": "2025-06-30", "year": 2023})).json()
    assert old["policy_in_force"] is True  # in force on 2025-06-30, but 2023 is not a year it rewards
    assert old["eligible"] == [] and old["totals"]["count"] == 0 and old["totals"]["amount_yuan"] == "0.00"
    assert old["totals"]["by_measure"] == [] and old["totals"]["by_district"] == []
    assert old["subjects_read"] == {"projects": 2, "clusters": 1, "buildings": 1, "enterprises": 2}
    assert old["evaluations"] == 6  # M01, M13, M03, M05, and M07a, M07b of the enterprise with 2023 figures
    assert tally(old) == {
        ("M01", "year_not_covered"): 1,
        ("M03", "year_not_covered"): 1,
        ("M05", "year_not_covered"): 1,
        ("M07a", "no_figures"): 1,  # the enterprise listed in 2025 has no 2023 figures
        ("M07a", "year_not_covered"): 1,
        ("M07b", "no_figures"): 1,
        ("M07b", "year_not_covered"): 1,
        ("M13", "year_not_covered"): 1,
    }
    example = next(r for r in old["not_eligible"] if r["code"] == "year_not_covered")
    assert example["example"] == "渝发改规范〔2024〕7号 rewards the years 2024–2027, not 2023"

    new = (await client_for(CITY).post("/screenings", json={"as_of": "2025-06-30", "year": 2025})).json()
    assert paid(new) == {
        ("M01", ids[("M01", 2025)]): ("enterprise", listed_2023, "1234567.90"),  # （一）10% × 12,345,678.95, half-up
        ("M03", hub): ("district", "500105", "6000000.00"),  # （三）grade A, tier 2
        ("M05", tower): ("enterprise", listed_2023, "1000000.00"),  # （五）12M over 10M: growth exactly 20%
        ("M07a", listed_2025): ("district", "500105", "5000000.00"),  # （七）first listing, to the district
        ("M13", ids[("M13", 2025)]): ("enterprise", listed_2023, "30.02"),  # （十三）30% × 100.05 = 30.015 → 30.02
    }
    # 1,234,567.90 + 6,000,000.00 + 1,000,000.00 + 5,000,000.00 + 30.02
    assert new["totals"]["count"] == 5 and new["totals"]["amount_yuan"] == "13234597.92"
    assert tally(new) == {("M07a", "no_figures"): 1, ("M07b", "no_figures"): 1, ("M07b", "not_spun_off"): 1}


@pytest.fixture
def yuzhong(registry_app):
    """渝中区's own key to the registry: what it writes is submitted, not verified."""
    return asgi_client(registry_app, district("500103"))


async def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_facts_a_district_submits_pay_only_once_the_city_verifies_them(client_for, registry, yuzhong):
    # Everything below is written by 渝中区's key (the beneficiary's district): submitted, waiting for the city.
    spin_off = await enterprise(yuzhong, "500103", sector="modern_logistics", spun_off=True)  # set up 2024-11-19
    await year(yuzhong, spin_off, 2025, "25000000.00", top500=True)
    investment = await project(
        yuzhong, kind="investment", owner_uscc=spin_off, year=2025, verified_investment_yuan="12345678.95"
    )
    event = await project(yuzhong, kind="event", owner_uscc=spin_off, year=2025, actual_spend_yuan="100.05")
    hub = await cluster(yuzhong, "500103", spin_off, "A", 1)
    tower = await building(yuzhong, "500103", spin_off, {2024: "10000000.00", 2025: "11000000.00"})
    record = await _ok(await registry.get(f"/projects/{investment}"))
    assert record["verification"]["status"] == "submitted"
    assert record["verification"]["submitted_by"] == "district:500103"

    before = (await client_for(CITY).post("/screenings", json=BODY)).json()
    assert before["eligible"] == [] and before["totals"]["amount_yuan"] == "0.00"
    assert before["evaluations"] == 0
    assert tally(before) == {
        ("M01", "awaiting_verification"): 1,
        ("M03", "awaiting_verification"): 1,
        ("M05", "awaiting_verification"): 1,
        ("M07a", "awaiting_verification"): 1,
        ("M07b", "awaiting_verification"): 1,
        ("M13", "awaiting_verification"): 1,
    }
    waiting = next(r for r in before["not_eligible"] if r["measure_id"] == "M01")
    assert "submitted by district:500103" in waiting["example"]

    # The district cannot verify its own facts.
    refused = await yuzhong.post(f"/projects/{investment}/verification", json={"decision": "verify"})
    assert refused.status_code == 403
    # The city verifies them, one by one and in bulk, and rejects the event's spend.
    await _ok(await registry.post(f"/projects/{investment}/verification", json={"decision": "verify"}))
    await _ok(await registry.post(f"/enterprises/{spin_off}/years/2025/verification", json={"decision": "verify"}))
    await _ok(
        await registry.post(f"/projects/{event}/verification", json={"decision": "reject", "reason": "无实际投入凭证"})
    )
    await _ok(
        await registry.post(
            "/verifications",
            json={
                "items": [
                    {"record": "cluster_evaluation", "id": f"{hub}/2025", "decision": "verify"},
                    {"record": "building", "id": tower, "decision": "verify"},
                    {"record": "building_year", "id": f"{tower}/2024", "decision": "verify"},
                    {"record": "building_year", "id": f"{tower}/2025", "decision": "verify"},
                ]
            },
        )
    )

    after = (await client_for(CITY).post("/screenings", json=BODY)).json()
    assert paid(after) == {
        ("M01", investment): ("enterprise", spin_off, "1234567.90"),  # （一）10% × 12,345,678.95 = 1,234,567.895
        ("M03", hub): ("district", "500103", "10000000.00"),  # （三）grade A, tier 1, to 渝中区
        ("M05", tower): ("enterprise", spin_off, "500000.00"),  # （五）11M over 10M: exactly 10%, tier 2
        ("M07a", spin_off): ("district", "500103", "5000000.00"),  # （七）first listing, to 渝中区
        ("M07b", spin_off): ("enterprise", spin_off, "1000000.00"),  # （七）newly spun off, 25M ≥ 20M
    }
    # 1,234,567.90 + 10,000,000.00 + 500,000.00 + 5,000,000.00 + 1,000,000.00
    assert after["totals"]["count"] == 5 and after["totals"]["amount_yuan"] == "17734567.90"
    assert tally(after) == {("M13", "verification_rejected"): 1}
    assert "无实际投入凭证" in after["not_eligible"][0]["example"]


async def test_only_an_enterprise_newly_set_up_by_the_spin_off_receives_m07b(client_for, registry):
    # 第（七）条: 对分离后新设立的生产性服务业企业…给予一次性奖励; newly: established on or after 2024-11-19.
    old = await enterprise(registry, "500106", sector="testing_inspection", spun_off=True, established_on="2007-05-10")
    new = await enterprise(registry, "500106", sector="testing_inspection", spun_off=True, established_on="2024-11-19")
    for uscc in (old, new):
        await year(registry, uscc, 2025, "25000000.00", top500=False)
    body = (await client_for(CITY).post("/screenings", json={**BODY, "district_code": "500106"})).json()
    assert paid(body) == {("M07b", new): ("enterprise", new, "1000000.00")}  # （七）最高不超过100万元
    assert body["totals"]["amount_yuan"] == "1000000.00"
    assert tally(body) == {("M07a", "not_first_time_top500"): 2, ("M07b", "not_newly_established"): 1}
    refusal = next(r for r in body["not_eligible"] if r["code"] == "not_newly_established")
    assert "established on 2007-05-10, before 2024-11-19" in refusal["example"]


async def test_m03_pays_the_body_the_cluster_belongs_to(client_for, registry):
    # 第（三）条: 奖励资金按照集聚区隶属关系由所在区县政府或市级部门（含开发区管委会）管理使用 — not the manager.
    manager = await enterprise(registry, "500112", sector="supply_chain", spun_off=False)
    liangjiang = await cluster(
        registry, "500112", manager, "A", 1, belongs_to={"kind": "city_department", "department": "两江新区管委会"}
    )
    own = await cluster(registry, "500112", manager, "A", 3)  # no belongs_to: the district government
    body = (await client_for(CITY).post("/screenings", json={**BODY, "district_code": "500112"})).json()
    assert paid(body) == {
        ("M03", liangjiang): ("city_department", "两江新区管委会", "10000000.00"),  # tier 1: 1000万元
        ("M03", own): ("district", "500112", "2000000.00"),  # tier 3: 200万元
    }
    assert manager not in {e["recipient"] for e in body["eligible"]}
    # The subject stays the cluster of 渝北区, whoever manages the money.
    assert body["totals"]["by_district"] == [{"district_code": "500112", "count": 2, "amount_yuan": "12000000.00"}]


async def test_m07a_of_an_enterprise_that_moved_is_screened_with_the_district_of_that_year(client_for, registry):
    # （七）给予相应区县: the enterprise was in 渝中区 in 2025 (its figures record 500103) and moved to 渝北区 since.
    moved = await enterprise(registry, "500103", sector="software_it", spun_off=False)
    await year(registry, moved, 2025, "25000000.00", top500=True)
    assert (await registry.patch(f"/enterprises/{moved}", json={"district_code": "500112"})).status_code == 200
    everyone = (await client_for(CITY).post("/screenings", json=BODY)).json()
    assert paid(everyone) == {("M07a", moved): ("district", "500103", "5000000.00")}
    yuzhong = (await client_for(district("500103")).post("/screenings", json=BODY)).json()
    assert paid(yuzhong) == {("M07a", moved): ("district", "500103", "5000000.00")}  # today: nothing
    yubei = (await client_for(district("500112")).post("/screenings", json=BODY)).json()
    assert yubei["eligible"] == []  # today: 渝中区's 5,000,000.00 in 渝北区's screening and totals


async def test_reading_waits_while_pages_wait_for_their_evaluation():
    """At most PageWorker.MAX_WAITING pages are held unevaluated: the next page's hand-over (and so the reading of
    the registry) waits until one is done, and every page is still evaluated once, in order."""
    worker = PageWorker()
    release = threading.Event()
    done: list[int] = []

    def page(number: int) -> Callable[[], None]:
        def work() -> None:
            release.wait(10)
            done.append(number)

        return work

    for number in range(PageWorker.MAX_WAITING):
        await asyncio.wait_for(worker.submit(page(number)), timeout=1)
    held = asyncio.create_task(worker.submit(page(PageWorker.MAX_WAITING)))
    await asyncio.sleep(0.2)
    assert not held.done()
    release.set()
    await asyncio.wait_for(held, timeout=5)
    await asyncio.wait_for(worker.finish(), timeout=5)
    assert done == list(range(PageWorker.MAX_WAITING + 1))
