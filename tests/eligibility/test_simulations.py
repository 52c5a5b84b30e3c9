"""POST /simulations: baseline and reform totals over the registry, with overrides within the bounds."""

from decimal import Decimal

import pytest

from tests.eligibility.scenario import TOTAL_2025, TOTAL_500112, enterprise, project, seed
from tests.support import ANONYMOUS, AUDITOR, CITY, district

OVERRIDES = {"m13.ratio": "0.20", "m02.cap_yuan": "4000000.00", "m07a.award_yuan": "3000000.00"}


async def test_reform_totals_per_measure_and_district_and_the_changed_subjects(client_for, registry):
    s = await seed(registry)
    response = await client_for(CITY).post(
        "/simulations", json={"year": 2025, "as_of": "2025-06-30", "overrides": OVERRIDES}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # By hand: （十三）20% × 100.05 = 20.01 (−10.01); （二）min(6M, 4M) = 4M (−1M); （七）3M instead of 5M (−2M).
    assert Decimal(body["total"]["baseline_amount_yuan"]) == TOTAL_2025
    assert body["total"]["reform_amount_yuan"] == "36734587.91"
    assert body["total"]["delta_amount_yuan"] == "-3000010.01"
    assert body["parameters_changed"] == ["m02.cap_yuan", "m07a.award_yuan", "m13.ratio"]
    changed = {
        (c["measure_id"], c["subject_id"]): (c["baseline_amount_yuan"], c["reform_amount_yuan"], c["delta_amount_yuan"])
        for c in body["changed_subjects"]
    }
    assert changed == {
        ("M02", s.p5): ("5000000.00", "4000000.00", "-1000000.00"),
        ("M07a", s.e1): ("5000000.00", "3000000.00", "-2000000.00"),
        ("M13", s.p3): ("30.02", "20.01", "-10.01"),
    }
    # Whose budget moves: （七）the district's, （二）（十三）the owners'.
    recipients = {c["measure_id"]: c["recipient_kind"] for c in body["changed_subjects"]}
    assert recipients == {"M02": "enterprise", "M07a": "district", "M13": "enterprise"}
    by_district = {d["district_code"]: d for d in body["by_district"]}
    assert by_district["500103"]["delta_amount_yuan"] == "-2000010.01"
    assert by_district["500112"]["reform_amount_yuan"] == str(TOTAL_500112 - 1_000_000)
    by_measure = {m["measure_id"]: m for m in body["by_measure"]}
    assert by_measure["M01"]["delta_amount_yuan"] == "0.00"
    assert by_measure["M13"]["reform_amount_yuan"] == "20.01"


async def test_a_threshold_change_makes_subjects_eligible(client_for, registry):
    s = await seed(registry)
    # （五）tier 2 from 10% down to 5%: nothing changes (the 10% building already qualifies), tier 1 to 25%:
    # the building at exactly 20% drops from 1,000,000 to 500,000.
    response = await client_for(AUDITOR).post(
        "/simulations",
        json={
            "year": 2025,
            "as_of": "2025-06-30",
            "overrides": {"m05.tier1_min_growth": "0.25", "m05.tier2_min_growth": "0.05"},
        },
    )
    body = response.json()
    assert [(c["subject_id"], c["reform_amount_yuan"]) for c in body["changed_subjects"]] == [(s.b1, "500000.00")]


@pytest.mark.parametrize(
    ("overrides", "name", "fragment"),
    [
        ({"m13.ratio": "0.31"}, "m13.ratio", "at most 0.30"),
        ({"m03.tier_amounts_yuan": {"1": "1000000.00"}}, "m03.tier_amounts_yuan", "at least 2000000.00"),
        ({"m06.award_by_rank_yuan": {"1": "6000000.00"}}, "m06.award_by_rank_yuan", "key '1'"),
        ({"m99.unknown": "1"}, "m99.unknown", "not a parameter"),
        ({"m01.ratio": "ten percent"}, "m01.ratio", "not a decimal"),
        ({"m05.tier1_min_growth": "0.05"}, "m05.tier1_min_growth", "faster growth"),
    ],
)
async def test_an_override_outside_the_bounds_is_a_422_naming_it(client_for, registry, overrides, name, fragment):
    response = await client_for(CITY).post(
        "/simulations", json={"year": 2025, "as_of": "2025-06-30", "overrides": overrides}
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert errors[0]["loc"] == ["body", "overrides", name] and fragment in errors[0]["msg"], errors


async def test_a_district_simulates_its_own_district_only(client_for, registry):
    await seed(registry)
    own = await client_for(district("500112")).post(
        "/simulations", json={"year": 2025, "as_of": "2025-06-30", "overrides": {"m02.ratio": "0.10"}}
    )
    assert own.status_code == 200
    # （二）10% × 30,000,000 = 3,000,000 instead of the capped 5,000,000.
    assert own.json()["total"]["delta_amount_yuan"] == "-2000000.00"
    other = await client_for(district("500112")).post(
        "/simulations", json={"year": 2025, "as_of": "2025-06-30", "district_code": "500103"}
    )
    assert other.status_code == 403
    assert (
        await client_for(ANONYMOUS).post("/simulations", json={"year": 2025, "as_of": "2025-06-30"})
    ).status_code == 401
    assert (await client_for(None).post("/simulations", json={"year": 2025, "as_of": "2025-06-30"})).status_code == 401


async def test_simulation_pays_nothing_for_a_year_before_the_policy_even_on_the_same_facts(client_for, registry):
    # 七、附则: the policy rewards 2024–2027. The same event in 2023 and in 2025: only 2025's is paid, before and after
    # the override.
    owner = await enterprise(registry, "500105", sector="software_it", spun_off=False)
    for year_ in (2023, 2025):
        await project(registry, kind="event", owner_uscc=owner, year=year_, actual_spend_yuan="100.05")
    overrides = {"m13.ratio": "0.20"}
    old = (
        await client_for(CITY).post("/simulations", json={"year": 2023, "as_of": "2025-06-30", "overrides": overrides})
    ).json()
    assert old["evaluations"] == 1 and old["total"]["baseline_count"] == 0
    assert old["total"]["baseline_amount_yuan"] == "0.00"
    assert old["total"]["reform_amount_yuan"] == "0.00" and old["changed_subjects"] == []
    new = (
        await client_for(CITY).post("/simulations", json={"year": 2025, "as_of": "2025-06-30", "overrides": overrides})
    ).json()
    # （十三）30% × 100.05 = 30.015 → 30.02 in force; 20% × 100.05 = 20.01 with the override.
    assert new["total"]["baseline_amount_yuan"] == "30.02" and new["total"]["reform_amount_yuan"] == "20.01"
    assert new["total"]["delta_amount_yuan"] == "-10.01"
