"""POST /screenings against the real registry app (in-process over httpx's ASGI transport)."""

from decimal import Decimal

import pytest

from tests.eligibility.scenario import TOTAL_2025, TOTAL_500103, TOTAL_500112, expected_eligible, seed
from tests.support import ANONYMOUS, AUDITOR, CITY, SERVICE, district

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
    assert m03["recipient"] == scenario.e1


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
