"""One real-world subject, one record (issue 12): the national project code (项目代码) is unique and checked, owner +
kind + name (NFKC, whitespace removed) + year is unique, the owner is an enterprise of the registry and the project
lies in the owner's district."""

import pytest

from tests.registry.factories import enterprise, new_uscc
from tests.support import AUDITOR, district

YUZHONG, JIANGBEI = "500103", "500105"


async def owner(city, district_code: str = YUZHONG) -> str:
    body = enterprise(district_code)
    assert (await city.post("/enterprises", json=body)).status_code == 201
    return str(body["uscc"])


def investment(owner_uscc: str, **kw) -> dict:
    return {
        "kind": "investment",
        "owner_uscc": owner_uscc,
        "name": "两江数字经济总部项目",
        "year": 2025,
        "verified_investment_yuan": "80000000.00",
    } | kw


async def projects(city) -> list[dict]:
    return (await city.get("/projects")).json()["items"]


async def test_the_project_code_is_unique_and_filterable(city):
    uscc = await owner(city)
    created = await city.post("/projects", json=investment(uscc, project_code="2024-500103-65-03-012345"))
    assert created.status_code == 201, created.text
    project = created.json()
    assert (project["project_code"], project["district_code"], project["duplicate_of_id"]) == (
        "2024-500103-65-03-012345",
        YUZHONG,
        None,
    )
    # The same code on another project: 409 naming the existing record.
    again = await city.post(
        "/projects", json=investment(uscc, name="另一个项目", project_code="2024-500103-65-03-012345")
    )
    assert again.status_code == 409 and again.json()["existing_project_id"] == project["id"]
    assert again.json()["errors"][0]["loc"] == ["body", "project_code"]
    # A city-level code (division 500000) is a Chongqing code too.
    city_level = await city.post(
        "/projects", json=investment(uscc, name="市级项目", project_code="2025-500000-72-01-000001")
    )
    assert city_level.status_code == 201
    found = (await city.get("/projects", params={"project_code": "2024-500103-65-03-012345"})).json()["items"]
    assert [item["id"] for item in found] == [project["id"]]
    assert (await city.get("/projects", params={"project_code": "2024-500199-65-03-012345"})).status_code == 422
    assert len(await projects(city)) == 2


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("2024-500103-65-03-01234", "shape"),
        ("2024500103650301234X", "shape"),
        ("2024-110105-65-03-012345", "division segment 110105"),
        ("2024-500199-65-03-012345", "division segment 500199"),
        ("1899-500103-65-03-012345", "year segment"),
    ],
)
async def test_bad_project_codes_name_the_field(city, code, message):
    uscc = await owner(city)
    response = await city.post("/projects", json=investment(uscc, project_code=code))
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["loc"][-1] == "project_code" and message in error["msg"], error
    assert await projects(city) == []


async def test_the_same_owner_kind_name_and_year_is_one_project(city):
    uscc = await owner(city)
    first = (await city.post("/projects", json=investment(uscc, name="两江数字经济 总部项目"))).json()
    # Full-width letters and digits, ideographic and other spaces: the same name once normalised (NFKC, no spaces).
    for name in ("两江数字经济总部项目", "两江数字经济\u3000总部项目", " 两江 数字经济总部项目 "):
        duplicate = await city.post("/projects", json=investment(uscc, name=name))
        assert duplicate.status_code == 409, name
        assert duplicate.json()["existing_project_id"] == first["id"]
    latin = (await city.post("/projects", json=investment(uscc, name="ABC数字平台2025"))).json()
    full_width = await city.post("/projects", json=investment(uscc, name="ＡＢＣ数字平台２０２５"))
    assert full_width.status_code == 409 and full_width.json()["existing_project_id"] == latin["id"]
    # Another year, kind or owner is another project.
    assert (await city.post("/projects", json=investment(uscc, year=2024))).status_code == 201
    event = {
        "kind": "event",
        "owner_uscc": uscc,
        "name": "两江数字经济总部项目",
        "year": 2025,
        "actual_spend_yuan": "1.00",
    }
    assert (await city.post("/projects", json=event)).status_code == 201
    assert (await city.post("/projects", json=investment(await owner(city)))).status_code == 201
    assert len(await projects(city)) == 5


async def test_the_owner_must_be_registered_and_decides_the_district(city, client_for):
    unknown = await city.post("/projects", json=investment(new_uscc()))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["loc"] == ["body", "owner_uscc"]
    jiangbei_owner = await owner(city, JIANGBEI)
    # The district defaults to the owner's.
    derived = await city.post("/projects", json=investment(jiangbei_owner))
    assert derived.status_code == 201 and derived.json()["district_code"] == JIANGBEI
    # A district that contradicts the owner's: 422 naming it, also for the district that sends its own code.
    contradicting = await client_for(district(YUZHONG)).post(
        "/projects", json=investment(jiangbei_owner, name="冒名项目", district_code=YUZHONG)
    )
    assert contradicting.status_code == 422 and contradicting.json()["errors"][0]["loc"] == ["body", "district_code"]
    # Without a district, another district's owner puts the project in that district: 403 for 渝中区.
    foreign = await client_for(district(YUZHONG)).post("/projects", json=investment(jiangbei_owner, name="冒名项目"))
    assert foreign.status_code == 403
    assert (
        await client_for(AUDITOR).post("/projects", json=investment(jiangbei_owner, name="审计"))
    ).status_code == 403
    assert [item["id"] for item in await projects(city)] == [derived.json()["id"]]


async def test_a_district_project_waits_for_the_city(city, client_for):
    uscc = await owner(city)
    body = investment(uscc, special_major_approved=True, verified_investment_yuan="500000000.00")
    created = (await client_for(district(YUZHONG)).post("/projects", json=body)).json()
    # 经市政府同意 and 经核定 as the district declares them: submitted, not verified, until the city verifies.
    assert created["verification"]["status"] == "submitted"
    assert created["special_major_approved"] is True
    read = (await city.get(f"/projects/{created['id']}")).json()
    assert read["verification"] == created["verification"]


async def test_concurrent_identical_creates_leave_one_project(city, client_for):
    import asyncio

    uscc = await owner(city)
    body = investment(uscc, project_code="2025-500103-65-03-000777")
    clients = [client_for(district(YUZHONG)) for _ in range(8)]
    responses = await asyncio.gather(*(client.post("/projects", json=body) for client in clients))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * 7, [response.text for response in responses]
    winner = next(response for response in responses if response.status_code == 201).json()["id"]
    assert all(r.json()["existing_project_id"] == winner for r in responses if r.status_code == 409)
    assert [item["id"] for item in await projects(city)] == [winner]


async def test_a_district_naming_another_district_is_refused_before_anything_else(city, client_for):
    # 渝中区 names 江北区 for a project of its own enterprise: it may not write 江北区's records at all (403).
    uscc = await owner(city)
    response = await client_for(district(YUZHONG)).post("/projects", json=investment(uscc, district_code=JIANGBEI))
    assert response.status_code == 403
    # The city naming a district that contradicts the owner's: 422 naming district_code.
    contradicting = await city.post("/projects", json=investment(uscc, district_code=JIANGBEI))
    assert contradicting.status_code == 422 and contradicting.json()["errors"][0]["loc"] == ["body", "district_code"]
    assert await projects(city) == []
