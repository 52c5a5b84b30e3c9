"""Parameters as data: dated values, units, citations, the policy's bounds; GET /parameters and amendments."""

from datetime import date
from decimal import Decimal

import pytest

from services.eligibility.parameters.definitions import (
    DatedValue,
    ParameterDataError,
    load_parameter_set,
    parse_parameter_set,
)
from services.eligibility.rules.engine import evaluate, parse_facts
from shared.policy.parameters import PolicyParameters, read_parameter_files
from tests.support import ANONYMOUS, AUDITOR, CITY, SERVICE, district

# validity.json (2 parameters) and the files of M01 (4), M02 (3), M03 (1), M05 (3), M06 (1), M07a (1), M07b (3), M13 (2).
PARAMETER_COUNT = 20


def with_value(name: str, value: str | dict[str, str], files: PolicyParameters | None = None) -> PolicyParameters:
    """The parameter files with the first value of `name` replaced (in memory)."""
    files = files or read_parameter_files()
    for _, parameter in files.by_measure():
        if parameter.name == name:
            parameter.values[min(parameter.values)].value = value
    return files


def test_every_parameter_has_unit_citation_bounds_and_a_value_from_the_first_day():
    parameters = load_parameter_set()
    assert parameters.policy.effective_from == date(2024, 11, 19)
    assert parameters.policy.effective_to == date(2027, 12, 31)
    for definition in parameters.definitions.values():
        # A measure's parameter cites its clause; the years the policy rewards cite its validity (附则).
        clause = "七、附则" if definition.measure_id == "policy" else "第（"
        assert definition.unit and definition.citation.startswith(f"渝发改规范〔2024〕7号 {clause}")
        assert definition.values[0].effective_from == date(2024, 11, 19)


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("m03.tier_amounts_yuan", {"1": "1999999.99"}, "at least 2000000.00"),  # 第（三）条: 200—1000万元
        ("m03.tier_amounts_yuan", {"1": "10000000.01"}, "at most 10000000.00"),
        ("m03.tier_amounts_yuan", {"10": "5000000.00"}, "key '10'"),
        ("m05.tier_amounts_yuan", {"1": "1000000.00", "2": "600000.00"}, "at most 500000.00"),  # 100万元、50万元
        ("m05.tier_amounts_yuan", {"1": "1000000.00"}, "keys 2 are required"),
        ("m06.award_by_rank_yuan", {str(r): "5000000.00" for r in range(1, 11)}, "key '6'"),  # 6–10: 300万元
        ("m01.ratio", "0.11", "at most 0.10"),  # 第（一）条: 不超过10%
        ("m01.ratio", "0", "must be above 0"),
        ("m01.cap_yuan", "5000000.01", "at most 5000000.00"),
        ("m01.special_major_cap_yuan", "20000000.01", "at most 20000000.00"),  # 2000万元
        ("m02.min_investment_yuan", "4000000.00", "at least 5000000.00"),  # 超过500万元 is fixed
        ("m02.ratio", "0.21", "at most 0.20"),
        ("m07a.award_yuan", "5000000.01", "at most 5000000.00"),
        ("m07b.award_yuan", "1000000.01", "at most 1000000.00"),
        ("m13.ratio", "0.31", "at most 0.30"),
        ("m13.cap_yuan", "1000000.001", "two decimal places"),
        # 附则: in force to 2027-12-31, so the years rewarded lie within 2024–2027.
        ("policy.last_rewarded_year", "2028", "at most 2027"),
        ("policy.first_rewarded_year", "2023", "at least 2024"),
        ("policy.first_rewarded_year", "24", "four digits"),
        ("m07b.newly_established_from", "2028-01-01", "at most 2027-12-31"),
        ("m07b.newly_established_from", "19 Nov 2024", "YYYY-MM-DD"),
    ],
)
def test_a_data_file_value_outside_the_bounds_is_refused(name, value, fragment):
    with pytest.raises(ParameterDataError) as caught:
        parse_parameter_set(with_value(name, value))
    assert any(problem_name == name and fragment in message for problem_name, message in caught.value.problems), (
        caught.value.problems
    )


def test_the_first_year_rewarded_comes_before_the_last():
    files = with_value("policy.last_rewarded_year", "2025", with_value("policy.first_rewarded_year", "2026"))
    with pytest.raises(ParameterDataError) as caught:
        parse_parameter_set(files)
    assert caught.value.problems[0][0] == "policy.first_rewarded_year"


async def test_the_years_rewarded_are_read_by_the_other_services(client_for):
    body = (await client_for(SERVICE).get("/parameters", params={"measure_id": "policy", "as_of": "2026-03-01"})).json()
    assert (body["policy"]["effective_from"], body["policy"]["effective_to"]) == ("2024-11-19", "2027-12-31")
    assert {item["name"]: (item["kind"], item["value"]) for item in body["items"]} == {
        "policy.first_rewarded_year": ("year", "2024"),
        "policy.last_rewarded_year": ("year", "2027"),
    }


def test_growth_tiers_must_keep_their_order():
    files = with_value("m05.tier2_min_growth", "0.25")  # above tier 1's 0.20
    with pytest.raises(ParameterDataError) as caught:
        parse_parameter_set(files)
    assert caught.value.problems[0][0] == "m05.tier1_min_growth"


def test_a_dated_value_takes_over_on_its_day():
    parameters = load_parameter_set().with_values(
        [("m13.ratio", DatedValue(effective_from=date(2026, 1, 1), value=Decimal("0.25"), note="reform"))]
    )
    facts = parse_facts("M13", {"actual_spend_yuan": "1000000.00"})
    # 第（十三）条: 30% of 1,000,000 = 300,000 until 2025-12-31, then 25% = 250,000.
    assert evaluate("M13", date(2025, 12, 31), facts, parameters).amount == Decimal("300000.00")
    assert evaluate("M13", date(2026, 1, 1), facts, parameters).amount == Decimal("250000.00")


def test_overrides_are_checked_like_the_file():
    parameters = load_parameter_set()
    assert parameters.with_overrides(date(2025, 1, 1), {"m13.ratio": "0.2"}).decimal("m13.ratio") == Decimal("0.2")
    with pytest.raises(ParameterDataError) as caught:
        parameters.with_overrides(date(2025, 1, 1), {"m13.ratio": "0.5", "m99.x": "1"})
    assert {name for name, _ in caught.value.problems} == {"m13.ratio", "m99.x"}


async def test_get_parameters_is_public_with_history_and_bounds(client_for):
    response = await client_for(ANONYMOUS).get("/parameters", params={"as_of": "2025-03-01"})
    assert response.status_code == 200
    body = response.json()
    assert body["policy"]["effective_to"] == "2027-12-31"
    by_name = {item["name"]: item for item in body["items"]}
    assert len(by_name) == len(read_parameter_files().by_measure()) == PARAMETER_COUNT
    tiers = by_name["m03.tier_amounts_yuan"]
    assert tiers["reference"] == {
        "document": "渝发改规范〔2024〕7号",
        "clause": "第（三）条",
        "quote": "对年度评估为A等级的现代生产性服务业集聚区，分档次给予200—1000万元奖励",
    }
    assert tiers["citation"] == "渝发改规范〔2024〕7号 第（三）条：" + tiers["reference"]["quote"]
    assert tiers["bounds"] == {"min": "2000000.00", "min_exclusive": False, "max": "10000000.00"}
    assert tiers["value"] == {"1": "10000000.00", "2": "6000000.00", "3": "2000000.00"}
    assert tiers["history"][0]["effective_from"] == "2024-11-19" and tiers["history"][0]["source"] == "data file"
    only_m13 = await client_for(ANONYMOUS).get("/parameters", params={"measure_id": "M13"})
    assert {item["name"] for item in only_m13.json()["items"]} == {"m13.ratio", "m13.cap_yuan"}


async def test_ranking_reads_the_m06_award_per_rank(client_for):
    response = await client_for(SERVICE).get("/parameters/m06.award_by_rank_yuan", params={"as_of": "2026-03-01"})
    assert response.status_code == 200
    value = response.json()["value"]
    assert [value[str(rank)] for rank in range(1, 11)] == ["5000000.00"] * 5 + ["3000000.00"] * 5


async def test_unknown_parameter_is_404_and_bad_date_422(client_for):
    assert (await client_for(ANONYMOUS).get("/parameters/m99.nothing")).status_code == 404
    response = await client_for(ANONYMOUS).get("/parameters", params={"as_of": "2025-13-40"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "as_of"]


async def test_city_records_a_dated_value_and_calculations_follow_it(client_for):
    city = client_for(CITY)
    response = await city.post(
        "/parameters/m13.ratio/values",
        json={"effective_from": "2026-07-01", "value": "0.25", "reason": "2026 budget: 25% for events"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["value"] == "0.25"
    assert [(h["effective_from"], h["effective_to"], h["source"]) for h in body["history"]] == [
        ("2024-11-19", "2026-06-30", "data file"),
        ("2026-07-01", None, "amendment"),
    ]
    assert body["history"][1]["recorded_by"] == "city"
    facts = {"actual_spend_yuan": "1000000.00"}
    before = await city.post("/calculate", json={"measure_id": "M13", "as_of": "2026-06-30", "facts": facts})
    after = await city.post("/calculate", json={"measure_id": "M13", "as_of": "2026-07-01", "facts": facts})
    assert before.json()["amount_yuan"] == "300000.00"  # 30% of 1,000,000
    assert after.json()["amount_yuan"] == "250000.00"  # 25% of 1,000,000
    again = await city.post(
        "/parameters/m13.ratio/values", json={"effective_from": "2026-07-01", "value": "0.2", "reason": "twice"}
    )
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("name", "body", "loc"),
    [
        ("m13.ratio", {"effective_from": "2026-01-01", "value": "0.35", "reason": "too high"}, ["body", "value"]),
        (
            "m03.tier_amounts_yuan",
            {"effective_from": "2026-01-01", "value": {"1": "12000000.00"}, "reason": "x" * 5},
            ["body", "value"],
        ),
        (
            "m13.ratio",
            {"effective_from": "2028-01-01", "value": "0.2", "reason": "after the policy"},
            ["body", "effective_from"],
        ),
        (
            "m05.tier2_min_growth",
            {"effective_from": "2026-01-01", "value": "0.5", "reason": "above tier 1"},
            ["body", "value"],
        ),
        ("m13.ratio", {"effective_from": "soon", "value": "0.2", "reason": "bad date"}, ["body", "effective_from"]),
    ],
)
async def test_an_amendment_outside_the_bounds_is_refused_and_nothing_written(client_for, name, body, loc):
    city = client_for(CITY)
    response = await city.post(f"/parameters/{name}/values", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == loc
    history = (await city.get(f"/parameters/{name}")).json()["history"]
    assert [h["source"] for h in history] == ["data file"]


@pytest.mark.parametrize(
    ("principal", "status"), [(None, 401), (ANONYMOUS, 401), (AUDITOR, 403), (district("500103"), 403)]
)
async def test_only_the_city_amends_parameters(client_for, principal, status):
    response = await client_for(principal).post(
        "/parameters/m13.ratio/values", json={"effective_from": "2026-01-01", "value": "0.2", "reason": "not allowed"}
    )
    assert response.status_code == status
    history = (await client_for(CITY).get("/parameters/m13.ratio")).json()["history"]
    assert len(history) == 1


@pytest.mark.parametrize("value", ["1e26", "1e999999", {"1": "1e26"}])
async def test_a_simulation_override_too_large_for_an_amount_is_a_422(client_for, value):
    name = "m03.tier_amounts_yuan" if isinstance(value, dict) else "m13.cap_yuan"
    body = {"year": 2025, "as_of": "2025-06-30", "overrides": {name: value}}
    response = await client_for(CITY).post("/simulations", json=body)
    assert response.status_code == 422, response.text
    assert "more yuan than an amount holds" in response.text
