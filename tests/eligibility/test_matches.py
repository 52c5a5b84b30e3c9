"""GET /enterprises/{uscc}/matches: amounts an enterprise qualifies for and the measures without a formula."""

from decimal import Decimal

import pytest

from shared.uscc import make_uscc
from tests.eligibility.scenario import seed
from tests.support import ANONYMOUS, AUDITOR, CITY, district

QUERY = {"as_of": "2025-06-30", "year": 2025}


async def test_matches_of_an_enterprise_with_projects_a_cluster_and_a_spin_off(client_for, registry):
    s = await seed(registry)
    response = await client_for(district("500103")).get(f"/enterprises/{s.e1}/matches", params=QUERY)
    assert response.status_code == 200, response.text
    body = response.json()
    amounts = {(m["measure_id"], m["subject_id"]): m["amount_yuan"] for m in body["computable"]}
    assert amounts == {
        ("M01", s.p1): "1234567.90",  # （一）10% × 12,345,678.95, half-up
        ("M01", s.p4): "100000.00",  # （一）10% × 1,000,000.00 (its 2024 project)
        ("M13", s.p3): "30.02",  # （十三）30% × 100.05 = 30.015 → 30.02
        ("M03", s.c1): "6000000.00",  # （三）the cluster it manages, grade A tier 2
        ("M07a", s.e1): "5000000.00",  # （七）first listing, paid to the district
        ("M07b", s.e1): "1000000.00",  # （七）spin-off with revenue ≥ 20,000,000
    }
    assert Decimal(body["total_amount_yuan"]) == Decimal("13334597.92")
    m07a = next(m for m in body["computable"] if m["measure_id"] == "M07a")
    assert m07a["recipient"] == "500103" and m07a["lead_department_zh"] == "市发展改革委"
    assert m07a["trace"][-1] == {
        "step": "amount",
        "value": "5000000.00",
        "citation": "渝发改规范〔2024〕7号 第（七）条",
    }
    others = {m["measure_id"]: m for m in body["other_measures"]}
    assert set(others) == {"M04", "M08", "M09", "M10", "M11", "M12", "M15", "M16"}
    assert others["M04"]["applies"] == "applies" and "manages the cluster" in others["M04"]["basis"]
    assert others["M08"]["lead_department_zh"] == "市委金融办"
    assert "start-up or growth stage" in others["M08"]["basis"]  # established 2022-03-01
    assert others["M11"]["applies"] == "may_apply"  # supply chain is not a knowledge-intensive sector of （十一）
    assert others["M16"]["lead_department_zh"] == "市规划自然资源局"


async def test_matches_of_an_enterprise_with_less(client_for, registry):
    s = await seed(registry)
    body = (await client_for(CITY).get(f"/enterprises/{s.e2}/matches", params=QUERY)).json()
    # Its platform is at exactly 5,000,000 (not above), it was listed before 2025; only its building qualifies.
    assert [(m["measure_id"], m["amount_yuan"]) for m in body["computable"]] == [("M05", "1000000.00")]
    others = {m["measure_id"]: m for m in body["other_measures"]}
    assert others["M04"]["applies"] == "may_apply"  # a cluster exists in its district
    assert others["M11"]["applies"] == "applies"  # software and information services


async def test_auditor_reads_any_enterprise_and_a_district_only_its_own(client_for, registry):
    s = await seed(registry)
    assert (await client_for(AUDITOR).get(f"/enterprises/{s.e3}/matches", params=QUERY)).status_code == 200
    other = await client_for(district("500103")).get(f"/enterprises/{s.e3}/matches", params=QUERY)
    assert other.status_code == 403
    assert (await client_for(ANONYMOUS).get(f"/enterprises/{s.e3}/matches")).status_code == 401
    assert (await client_for(None).get(f"/enterprises/{s.e3}/matches")).status_code == 401


async def test_unknown_and_invalid_credit_codes(client_for, registry):
    s = await seed(registry)
    missing = await client_for(CITY).get(f"/enterprises/{make_uscc('91500103999999999')}/matches", params=QUERY)
    assert missing.status_code == 404
    wrong_check = s.e1[:17] + ("1" if s.e1[17] == "0" else "0")
    bad = await client_for(CITY).get(f"/enterprises/{wrong_check}/matches", params=QUERY)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["path", "uscc"]
    assert "check character" in bad.json()["errors"][0]["msg"]


@pytest.mark.parametrize(("query", "loc"), [({"year": 1800}, ["query", "year"]), ({"as_of": "x"}, ["query", "as_of"])])
async def test_bad_query_is_a_422_problem(client_for, registry, query, loc):
    s = await seed(registry)
    response = await client_for(CITY).get(f"/enterprises/{s.e1}/matches", params=query)
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == loc
