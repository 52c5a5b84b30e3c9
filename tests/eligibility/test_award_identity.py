"""Money integrity: every yuan to the recipient the text names, once — 就高不重复 that cannot be walked around.

Who is paid, for which subject and year, is derived from the registry and the policy register, never from the
caller's free text. Amounts are worked out by hand from 渝发改规范〔2024〕7号, each with its clause.
"""

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from shared.uscc import make_uscc
from tests.eligibility.awards_support import (
    OTHER_POLICY,
    THIS_POLICY,
    award,
    other_policy,
    pay,
    propose,
    written,
)
from tests.support import CITY, asgi_client, district

# 第（一）条: 10% of 12,345,678.95 = 1,234,567.895 → 1,234,567.90 (half-up to the fen), under the 5,000,000 cap.
INVESTMENT, M01_MAX = "12345678.95", "1234567.90"
PROJECT_CODE = "2024-500103-65-03-012345"
_serial = iter(range(1, 10_000))


pytestmark = pytest.mark.usefixtures("award_ledger")


async def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def enterprise(registry, district_code: str = "500103", **fields: Any) -> str:
    uscc = make_uscc(f"91{district_code}{next(_serial):09d}")
    body = {
        "uscc": uscc,
        "name": f"身份测试企业{uscc[-6:]}",
        "district_code": district_code,
        "sector": "modern_logistics",
        "established_on": "2018-03-01",
        "spun_off_from_manufacturer": False,
        **fields,
    }
    await created(await registry.post("/enterprises", json=body))
    return uscc


async def figures(registry, uscc: str, year: int, revenue: str, *, top500: bool = False) -> None:
    body = {"revenue_yuan": revenue, "employees": 80, "above_scale": True, "top500_service": top500}
    response = await registry.put(f"/enterprises/{uscc}/years/{year}", json=body)
    assert response.status_code in (200, 201), response.text


async def investment(registry, district_code: str = "500103", **fields: Any) -> str:
    owner = await enterprise(registry, district_code)
    body = {
        "kind": "investment",
        "owner_uscc": owner,
        "name": f"身份测试项目{next(_serial)}",
        "year": 2025,
        "verified_investment_yuan": INVESTMENT,
        **fields,
    }
    return str((await created(await registry.post("/projects", json=body)))["id"])


def m01(subject_id: str, amount: str, **extra: Any) -> dict[str, Any]:
    return {"measure_id": "M01", "subject_type": "project", "subject_id": subject_id, "amount_yuan": amount, **extra}


async def refused(city, eligibility_app, body: dict[str, Any], loc: list[str], status: int = 422) -> dict[str, Any]:
    before = await written(eligibility_app)
    response = await city.post("/awards", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    if status == 422:
        assert loc in [error["loc"] for error in problem["errors"]], problem
    assert await written(eligibility_app) == before
    return problem


# ---- the policy: one document, one identity ----------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["渝发改规范〔2024〕7 号", "渝发改规范[2024]7号", "渝发改规范（2024）第07號"])
async def test_this_policy_in_another_spelling_is_this_policy_and_its_caps_apply(
    city, registry, eligibility_app, spelling
):
    # 第（一）条 with the city government's consent: 10% × 300,000,000 = 30,000,000, capped at 20,000,000.
    p = await investment(registry, verified_investment_yuan="300000000.00", special_major_approved=True)
    problem = await refused(city, eligibility_app, m01(p, "30000000.00", policy=spelling), ["body", "amount_yuan"])
    assert problem["maximum_yuan"] == "20000000.00"
    granted = await propose(city, m01(p, "20000000.00", policy=spelling))
    assert granted["policy"] == THIS_POLICY and granted["policy_id"] == 1 and granted["calculation"]["eligible"]
    # The genuine spelling names the same document, so the same subject: an equal award is refused (就高不重复).
    problem = await refused(city, eligibility_app, m01(p, "20000000.00"), [], status=409)
    assert problem["standing_award"]["id"] == granted["id"]


@pytest.mark.parametrize(
    ("naming", "loc"),
    [
        ({"policy": "渝财发〔2025〕3号"}, ["body", "policy"]),  # well formed, not registered
        ({"policy": "a policy of ours"}, ["body", "policy"]),
        ({"policy_id": 999}, ["body", "policy_id"]),
        ({"policy_id": 1, "policy": OTHER_POLICY}, ["body", "policy_id"]),  # two different documents
    ],
)
async def test_an_unknown_or_disguised_policy_is_refused(city, registry, eligibility_app, naming, loc):
    p = await investment(registry)
    await refused(city, eligibility_app, {**other_policy("project", p, "100.00"), **naming}, loc)


# ---- periodicity: one rule per subject type, for every policy ------------------------------------------------------


@pytest.mark.parametrize(
    ("subject_type", "year"),
    [("project", 2025), ("enterprise", 2025), ("cluster", None), ("building", None), ("district", None)],
)
async def test_a_year_on_a_one_off_subject_or_none_on_a_yearly_one_is_refused(
    city, registry, eligibility_app, subject_type, year
):
    subject_id = {
        "project": await investment(registry),
        "enterprise": await enterprise(registry),
        "cluster": "1",
        "building": "1",
        "district": "500103",
    }[subject_type]
    body = other_policy(subject_type, subject_id, "100.00", **({"year": year} if year else {}))
    await refused(city, eligibility_app, body, ["body", "year"])


async def test_a_district_contradicting_the_registry_is_refused(city, registry, eligibility_app):
    p = await investment(registry)
    e = await enterprise(registry)
    await refused(
        city, eligibility_app, other_policy("project", p, "100.00", district_code="500112"), ["body", "district_code"]
    )
    body = other_policy("enterprise", e, "100.00", district_code="500112")
    await refused(city, eligibility_app, body, ["body", "district_code"])
    # The registry names its subjects: a caller's name for one is refused, not stored beside it.
    body = other_policy("project", p, "100.00", subject_name="另一个名字")
    await refused(city, eligibility_app, body, ["body", "subject_name"])
    # The registry's own district is accepted, and is what the award shows.
    assert (await propose(city, other_policy("project", p, "100.00", district_code="500103")))[
        "district_code"
    ] == "500103"


async def test_an_enterprise_award_under_another_policy_names_whom_it_pays(city, registry, eligibility_app):
    e = await enterprise(registry)
    body = other_policy("enterprise", e, "100.00")
    del body["recipient_kind"]
    await refused(city, eligibility_app, body, ["body", "recipient_kind"])
    await refused(
        city,
        eligibility_app,
        {**m01(await investment(registry), "1.00"), "recipient_kind": "district"},
        ["body", "recipient_kind"],
    )


# ---- one subject, one key, whatever the route --------------------------------------------------------------------


async def test_a_project_named_by_its_id_or_its_code_is_one_subject(city, registry):
    p = await investment(registry, project_code=PROJECT_CODE)
    by_code = await propose(city, other_policy("project", PROJECT_CODE, "1000000.00"))
    assert by_code["subject_id"] == p and by_code["stacking_key"] == f"project:{PROJECT_CODE}"
    assert by_code["district_code"] == "500103" and by_code["subject_name"].startswith("身份测试项目")
    by_id = await propose(city, m01(p, M01_MAX))
    assert by_id["stacking_key"] == f"project:{PROJECT_CODE}"
    assert (await award(city, by_code["id"]))["status"] == "superseded"


async def test_another_policys_project_the_registry_does_not_hold_is_named_by_its_code(city, eligibility_app):
    code = "2025-500112-72-01-000001"
    body = other_policy("project", code, "300000.00")
    await refused(city, eligibility_app, body, ["body", "district_code"])
    stands = await propose(city, {**body, "district_code": "500112", "subject_name": "某展会"})
    assert stands["stacking_key"] == f"project:{code}" and stands["recipient"] is None
    # This policy computes on the registry's facts only: the registry must hold the project.
    await refused(city, eligibility_app, m01(code, "1.00"), ["body", "subject_id"])


async def test_sixteen_writers_across_spellings_and_routes_leave_one_standing_award_the_highest(
    client_for, city, registry, eligibility_app
):
    p = await investment(registry, project_code=PROJECT_CODE)
    spellings: list[dict[str, Any]] = [
        {},
        {"policy": "渝发改规范〔2024〕7 号"},
        {"policy": "渝发改规范[2024]7号"},
        {"policy_id": 1},
    ]
    bodies = []
    for index in range(16):
        amount = f"{Decimal(M01_MAX) - Decimal(1000) * index:.2f}"
        subject = p if index % 2 else PROJECT_CODE
        if index % 4 == 3:
            bodies.append(other_policy("project", subject, amount))
        else:
            bodies.append({**m01(subject, amount), **spellings[index % 4]})
    bodies.reverse()  # the highest last, so that most writers meet a lower standing award first
    clients = [client_for(CITY) for _ in bodies]
    responses = await asyncio.gather(*(c.post("/awards", json=b) for c, b in zip(clients, bodies, strict=True)))
    assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
    listed = (await city.get("/awards", params={"subject_type": "project", "subject_id": p, "limit": 100})).json()
    standing = [item for item in listed["items"] if item["is_standing"]]
    assert len(standing) == 1 and standing[0]["amount_yuan"] == M01_MAX
    assert {item["stacking_key"] for item in listed["items"]} == {f"project:{PROJECT_CODE}"}
    assert len(listed["items"]) == sum(1 for r in responses if r.status_code == 201)


# ---- recipients as the text names them ---------------------------------------------------------------------------


async def _first_listed_spin_off(registry) -> str:
    # A logistics enterprise set up on 2025-01-15 by a manufacturer's spin-off, first listed in 中国服务业企业500强
    # in 2025, with revenue 25,000,000 ≥ 20,000,000.
    parent = make_uscc(f"91500112{next(_serial):09d}")
    e = await enterprise(
        registry,
        established_on="2025-01-15",
        spun_off_from_manufacturer=True,
        parent_uscc=parent,
        spun_off_on="2025-01-15",
    )
    await figures(registry, e, 2025, "25000000.00", top500=True)
    return e


@pytest.mark.parametrize("first", ["M07a", "M07b"])
async def test_m07a_and_m07b_for_one_enterprise_both_pay_in_full_in_either_order(city, registry, clock, first):
    e = await _first_listed_spin_off(registry)
    # 第（七）条: 500万元 to the district for the first listing (M07a); 100万元 to the new enterprise (M07b).
    amounts = {"M07a": "5000000.00", "M07b": "1000000.00"}
    second = "M07b" if first == "M07a" else "M07a"
    one = await propose(
        city, {"measure_id": first, "subject_type": "enterprise", "subject_id": e, "amount_yuan": amounts[first]}
    )
    await pay(city, clock, one["id"])
    two = await propose(
        city, {"measure_id": second, "subject_type": "enterprise", "subject_id": e, "amount_yuan": amounts[second]}
    )
    assert two["tops_up_award_id"] is None and two["payable_yuan"] == amounts[second] and two["is_standing"]
    assert (await award(city, one["id"]))["is_standing"]
    by_measure = {item["measure_id"]: item for item in (one, two)}
    assert (by_measure["M07a"]["recipient_kind"], by_measure["M07a"]["recipient"]) == ("district", "500103")
    assert (by_measure["M07b"]["recipient_kind"], by_measure["M07b"]["recipient"]) == ("enterprise", e)
    assert by_measure["M07a"]["stacking_key"] == f"enterprise:{e}:district"
    assert by_measure["M07b"]["stacking_key"] == f"enterprise:{e}:enterprise"


async def test_m07b_refuses_an_enterprise_not_newly_set_up(city, registry, eligibility_app):
    # Established in 2007: not 分离后新设立 under m07b.newly_established_from (2024-11-19).
    e = await enterprise(
        registry,
        established_on="2007-05-01",
        spun_off_from_manufacturer=True,
        parent_uscc=make_uscc(f"91500112{next(_serial):09d}"),
        spun_off_on="2007-05-01",
    )
    await figures(registry, e, 2025, "25000000.00")
    body = {"measure_id": "M07b", "subject_type": "enterprise", "subject_id": e, "amount_yuan": "1.00"}
    problem = await refused(city, eligibility_app, body, ["body", "amount_yuan"])
    assert problem["maximum_yuan"] == "0.00" and "not newly set up" in problem["detail"]


async def _cluster(registry, year: int, **fields: Any) -> str:
    body = {"name": f"身份测试集聚区{next(_serial)}", "district_code": "500112", **fields}
    cluster_id = str((await created(await registry.post("/clusters", json=body)))["id"])
    response = await registry.put(
        f"/clusters/{cluster_id}/evaluations/{year}", json={"grade": "A", "score": "92.50", "tier": 1}
    )
    assert response.status_code in (200, 201), response.text
    return cluster_id


async def test_m03_pays_the_body_the_cluster_belongs_to(city, registry):
    # 第（三）条: 资金按照集聚区隶属关系由所在区县政府或市级部门（含开发区管委会）管理使用. Grade A, tier 1: 10,000,000.
    zone = await _cluster(
        registry, 2025, belongs_to={"kind": "city_department", "department": "两江新区管委会"},
        manager_uscc=await enterprise(registry, "500112"),
    )  # fmt: skip
    own = await _cluster(registry, 2025)
    for cluster_id, recipient in ((zone, ("city_department", "两江新区管委会")), (own, ("district", "500112"))):
        body = {"measure_id": "M03", "subject_type": "cluster", "subject_id": cluster_id, "year": 2025}
        granted = await propose(city, {**body, "amount_yuan": "10000000.00"})
        assert (granted["recipient_kind"], granted["recipient"]) == recipient


async def test_a_year_the_policy_does_not_reward_pays_nothing(city, registry, eligibility_app):
    # 附则: in force 2024-11-19 … 2027-12-31; the years rewarded are 2024–2027, so a 2023 evaluation pays nothing.
    cluster_id = await _cluster(registry, 2023)
    body = {
        "measure_id": "M03",
        "subject_type": "cluster",
        "subject_id": cluster_id,
        "year": 2023,
        "amount_yuan": "1.00",
    }
    problem = await refused(city, eligibility_app, body, ["body", "amount_yuan"])
    assert problem["maximum_yuan"] == "0.00" and "rewards the years 2024–2027, not 2023" in problem["detail"]


async def test_a_yearly_award_made_after_the_policy_ends_uses_the_amounts_of_its_year(city, registry, clock):
    cluster_id = await _cluster(registry, 2027)
    clock.hold(date(2028, 3, 1))
    body = {"measure_id": "M03", "subject_type": "cluster", "subject_id": cluster_id, "year": 2027}
    granted = await propose(city, {**body, "amount_yuan": "10000000.00"})
    assert granted["calculation"]["as_of"] == "2027-12-31"


# ---- facts that decide money count once verified ----------------------------------------------------------------


async def test_a_fact_a_district_wrote_pays_only_once_the_city_verified_it(
    city, registry, registry_app, eligibility_app
):
    owner = await enterprise(registry)
    yuzhong = asgi_client(registry_app, district("500103"))
    body = {
        "kind": "investment",
        "owner_uscc": owner,
        "name": "区县申报项目",
        "year": 2025,
        "verified_investment_yuan": INVESTMENT,
    }
    project = await created(await yuzhong.post("/projects", json=body))
    assert project["verification"]["status"] == "submitted"
    problem = await refused(city, eligibility_app, m01(str(project["id"]), M01_MAX), ["body", "subject_id"])
    assert "waits for the city's verification" in problem["detail"]
    response = await registry.post(f"/projects/{project['id']}/verification", json={"decision": "verify"})
    assert response.status_code == 200, response.text
    assert (await propose(city, m01(str(project["id"]), M01_MAX)))["amount_yuan"] == M01_MAX
