"""Clusters with evaluations, star buildings with revenue, and projects with the facts eligibility needs."""

import pytest

from tests.registry.factories import enterprise, new_uscc
from tests.support import AUDITOR, district


def cluster(district_code: str = "500112", **kw):
    return {"name": "两江数字经济产业园", "district_code": district_code, "manager_uscc": new_uscc(district_code), **kw}


def building(district_code: str = "500103", **kw):
    return {"name": "解放碑国际金融中心", "district_code": district_code, "stars": 5, "operator_uscc": new_uscc(), **kw}


def project(kind: str = "investment", district_code: str = "500103", **kw):
    body = {
        "kind": kind,
        "owner_uscc": new_uscc(district_code),
        "district_code": district_code,
        "name": "项目",
        "year": 2025,
    }
    if kind == "investment":
        body |= {"verified_investment_yuan": "80000000.00", "special_major_approved": False}
    if kind == "platform":
        body |= {"verified_investment_yuan": "6000000.00", "platform_domain": "testing_certification"}
    if kind == "event":
        body |= {"actual_spend_yuan": "1200000.00"}
    return body | kw


async def owner(city, district_code: str = "500103") -> str:
    """A project's owner must be an enterprise of the registry: register one (as the city)."""
    body = enterprise(district_code)
    assert (await city.post("/enterprises", json=body)).status_code == 201
    return str(body["uscc"])


async def test_cluster_lifecycle(city):
    created = await city.post("/clusters", json=cluster())
    assert created.status_code == 201
    cluster_id = created.json()["id"]
    first = await city.put(f"/clusters/{cluster_id}/evaluations/2024", json={"grade": "A", "score": "92.5", "tier": 1})
    evaluation = first.json()
    assert evaluation.pop("verification")["status"] == "verified"  # the city grades: verified as written
    assert first.status_code == 201 and evaluation == {"year": 2024, "grade": "A", "score": "92.50", "tier": 1}
    regrade = await city.put(f"/clusters/{cluster_id}/evaluations/2024", json={"grade": "B", "score": 81})
    assert regrade.status_code == 200 and regrade.json()["tier"] is None
    await city.put(f"/clusters/{cluster_id}/evaluations/2025", json={"grade": "A", "score": "95", "tier": 2})
    read = (await city.get(f"/clusters/{cluster_id}")).json()
    assert [(e["year"], e["grade"]) for e in read["evaluations"]] == [(2024, "B"), (2025, "A")]
    listed = (await city.get("/clusters", params={"district_code": "500112"})).json()
    assert [item["id"] for item in listed["items"]] == [cluster_id] and listed["next_cursor"] is None


@pytest.mark.parametrize(
    ("evaluation", "field"),
    [
        ({"grade": "E", "score": 50}, "grade"),
        ({"grade": "A", "score": 101}, "score"),
        ({"grade": "A", "score": 90, "tier": 0}, "tier"),
    ],
)
async def test_cluster_evaluation_bad_input(city, evaluation, field):
    cluster_id = (await city.post("/clusters", json=cluster())).json()["id"]
    response = await city.put(f"/clusters/{cluster_id}/evaluations/2024", json=evaluation)
    assert response.status_code == 422 and response.json()["errors"][0]["loc"][-1] == field
    assert (await city.get(f"/clusters/{cluster_id}")).json()["evaluations"] == []


async def test_cluster_scoping_and_unknown(city, client_for):
    yubei = client_for(district("500112"))
    assert (await yubei.post("/clusters", json=cluster("500103"))).status_code == 403
    theirs = (await city.post("/clusters", json=cluster("500103"))).json()["id"]
    refused = await yubei.get(f"/clusters/{theirs}")
    # The refusal names the caller's limits, not who owns the cluster.
    assert refused.status_code == 403 and "500103" not in refused.json()["detail"]
    assert (
        await yubei.put(f"/clusters/{theirs}/evaluations/2024", json={"grade": "A", "score": 90})
    ).status_code == 403
    assert (await yubei.get("/clusters")).json()["items"] == []
    assert (await city.get("/clusters/999999")).status_code == 404
    assert (await city.put("/clusters/999999/evaluations/2024", json={"grade": "A", "score": 90})).status_code == 404
    assert (await city.post("/clusters", json=cluster(manager_uscc="91500103000000001X"))).status_code == 422
    assert (await client_for(AUDITOR).post("/clusters", json=cluster())).status_code == 403


async def test_building_lifecycle_and_bad_input(city, client_for):
    created = await city.post("/buildings", json=building())
    assert created.status_code == 201
    building_id = created.json()["id"]
    assert (
        await city.put(f"/buildings/{building_id}/years/2024", json={"revenue_yuan": "80000000"})
    ).status_code == 201
    assert (
        await city.put(f"/buildings/{building_id}/years/2025", json={"revenue_yuan": "96000000.10"})
    ).status_code == 201
    read = (await city.get(f"/buildings/{building_id}")).json()
    assert [(y["year"], y["revenue_yuan"]) for y in read["years"]] == [(2024, "80000000.00"), (2025, "96000000.10")]
    assert (await city.post("/buildings", json=building(stars=6))).status_code == 422
    assert (await city.put(f"/buildings/{building_id}/years/2025", json={"revenue_yuan": "-3"})).status_code == 422
    assert (await client_for(district("500105")).post("/buildings", json=building())).status_code == 403
    assert (await client_for(district("500105")).get(f"/buildings/{building_id}")).status_code == 403
    page = (await city.get("/buildings")).json()
    assert len(page["items"]) == 1 and page["items"][0]["years"][1]["revenue_yuan"] == "96000000.10"


async def test_projects_of_each_kind(city):
    ids = {}
    for kind in ("investment", "platform", "event"):
        response = await city.post("/projects", json=project(kind, owner_uscc=await owner(city)))
        assert response.status_code == 201, response.text
        ids[kind] = response.json()["id"]
    platform = (await city.get(f"/projects/{ids['platform']}")).json()
    assert platform["platform_domain"] == "testing_certification"
    assert platform["verified_investment_yuan"] == "6000000.00" and platform["actual_spend_yuan"] is None
    events = (await city.get("/projects", params={"kind": "event"})).json()["items"]
    assert [item["id"] for item in events] == [ids["event"]]
    assert len((await city.get("/projects", params={"year": 2025})).json()["items"]) == 3
    assert (await city.get("/projects", params={"year": 2024})).json()["items"] == []
    assert (await city.get("/projects/424242")).status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (project("platform", platform_domain=None), "needs platform_domain"),
        (project("platform", platform_domain="catering"), "Input should be"),
        (project("investment", verified_investment_yuan=None), "needs verified_investment_yuan"),
        (project("event", actual_spend_yuan=None), "needs actual_spend_yuan"),
        (project("event", special_major_approved=True), "only for investment"),
        (project("investment", actual_spend_yuan="5"), "only for events"),
        (project("investment", verified_investment_yuan=80000000.001), "cannot be represented"),
        (project("lottery"), "Input should be"),
    ],
)
async def test_project_bad_input(city, body, message):
    response = await city.post("/projects", json=body)
    assert response.status_code == 422
    assert any(message in err["msg"] for err in response.json()["errors"]), response.json()
    assert (await city.get("/projects")).json()["items"] == []


async def test_project_scoping(city, client_for):
    yuzhong = client_for(district("500103"))
    jiangbei_owner = await owner(city, "500105")
    assert (
        await yuzhong.post("/projects", json=project(district_code="500105", owner_uscc=jiangbei_owner))
    ).status_code == 403
    own = (await yuzhong.post("/projects", json=project(owner_uscc=await owner(city)))).json()["id"]
    foreign = (await city.post("/projects", json=project(district_code="500105", owner_uscc=jiangbei_owner))).json()[
        "id"
    ]
    assert [item["id"] for item in (await yuzhong.get("/projects")).json()["items"]] == [own]
    assert (await yuzhong.get(f"/projects/{foreign}")).status_code == 403
