"""GET /measures: the 16 clauses of 渝发改规范〔2024〕7号, （七） in three parts."""

import pytest

from tests.support import ANONYMOUS, CITY


async def test_the_catalogue_is_public_and_complete(client_for):
    response = await client_for(ANONYMOUS).get("/measures", params={"as_of": "2025-01-01"})
    assert response.status_code == 200
    items = response.json()["items"]
    assert [m["id"] for m in items] == [
        "M01", "M02", "M03", "M04", "M05", "M06", "M07a", "M07b", "M07c",
        "M08", "M09", "M10", "M11", "M12", "M13", "M14", "M15", "M16",
    ]  # fmt: skip
    assert len({m["clause"] for m in items}) == 16
    computable = {m["id"] for m in items if m["computable"]}
    assert computable == {"M01", "M02", "M03", "M05", "M06", "M07a", "M07b", "M13"}
    for measure in items:
        assert measure["effective_from"] == "2024-11-19" and measure["effective_to"] == "2027-12-31"
        assert measure["title_zh"] and measure["title_en"] and measure["lead_department_zh"]
        assert measure["citation"] == f"渝发改规范〔2024〕7号 第{measure['clause']}条"
        assert bool(measure["parameters"]) == measure["computable"]
        assert bool(measure["facts"]) == measure["computable"]
    by_id = {m["id"]: m for m in items}
    assert by_id["M08"]["lead_department_zh"] == "市委金融办"
    assert by_id["M11"]["lead_department_zh"] == "市人力社保局"
    assert by_id["M16"]["lead_department_zh"] == "市规划自然资源局"
    assert by_id["M07a"]["recipient"] == "district" and by_id["M07b"]["recipient"] == "enterprise"
    assert by_id["M07c"]["recipient"] == "industry_association"
    assert by_id["M02"]["facts"] == ["platform_domain", "verified_investment_yuan"]
    m01_params = {p["name"]: p["value"] for p in by_id["M01"]["parameters"]}
    assert m01_params["m01.cap_yuan"] == "5000000.00" and m01_params["m01.special_major_cap_yuan"] == "20000000.00"
    # The prose is written from the values in force (shared/policy/catalogue.json holds placeholders).
    assert by_id["M01"]["summary_en"] == (
        "10% of the verified investment, at most 5,000,000 yuan; for a special major project approved by the city "
        "government: 10%, at most 20,000,000 yuan."
    )


async def test_one_measure_and_an_unknown_one(client_for):
    response = await client_for(CITY).get("/measures/M07b")
    assert response.status_code == 200 and response.json()["clause"] == "（七）"
    missing = await client_for(CITY).get("/measures/M17")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/measures"),
        ("GET", "/measures/M01"),
        ("GET", "/parameters"),
        ("GET", "/parameters/m06.award_by_rank_yuan"),
        ("POST", "/calculate"),
        ("POST", "/calculate/batch"),
    ],
)
async def test_public_routes_still_need_the_gateway_signature(client_for, method, path):
    response = await client_for(None).request(method, path, json=[] if path.endswith("batch") else {})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_get_measures_shows_the_amended_prose(client_for, city):
    response = await city.post(
        "/parameters/m02.cap_yuan/values",
        json={"effective_from": "2026-01-01", "value": "4500000.50", "reason": "2026 budget: lower cap"},
    )
    assert response.status_code == 201, response.text
    anonymous = client_for(ANONYMOUS)
    before = (await anonymous.get("/measures/M02", params={"as_of": "2025-12-31"})).json()["summary_en"]
    after = (await anonymous.get("/measures/M02", params={"as_of": "2026-01-01"})).json()["summary_en"]
    assert before.endswith("20% of it, at most 5,000,000 yuan.")
    assert after.endswith("20% of it, at most 4,500,000.50 yuan.")
