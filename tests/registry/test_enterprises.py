"""Enterprises: create, read with ETag, change with If-Match, list with cursor pagination, yearly figures."""

import asyncio

import pytest

from tests.registry.factories import enterprise, new_uscc, year_figures
from tests.support import AUDITOR, SERVICE, district


async def audit_count(city) -> int:
    return len((await city.get("/audit", params={"limit": 500})).json()["items"])


async def test_create_read_and_etag(city):
    # 主辅分离: a spin-off names its parent manufacturer and the date of the spin-off.
    body = enterprise(spun_off_from_manufacturer=True, parent_uscc=new_uscc("500112"), spun_off_on="2025-01-15")
    created = await city.post("/enterprises", json=body)
    assert created.status_code == 201
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/enterprises/{body['uscc']}"
    read = await city.get(f"/enterprises/{body['uscc']}")
    assert read.status_code == 200 and read.headers["etag"] == '"1"'
    data = read.json()
    assert {k: data[k] for k in body} == body
    assert data["years"] == [] and data["version"] == 1


async def test_lower_case_code_is_normalised(city):
    body = enterprise()
    created = await city.post("/enterprises", json={**body, "uscc": body["uscc"].lower()})
    assert created.status_code == 201 and created.json()["uscc"] == body["uscc"]


async def test_duplicate_is_409_and_first_stays(city):
    body = enterprise()
    assert (await city.post("/enterprises", json=body)).status_code == 201
    again = await city.post("/enterprises", json={**body, "name": "另一家公司"})
    assert again.status_code == 409 and again.json()["uscc"] == body["uscc"]
    assert (await city.get(f"/enterprises/{body['uscc']}")).json()["name"] == body["name"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"uscc": "91500103000000001X"}, "uscc", "check character"),
        ({"uscc": "9150010300000001"}, "uscc", "18 characters"),
        ({"uscc": "9150010300000000IQ"}, "uscc", "alphabet"),
        ({"district_code": "500199"}, "district_code", "38 district codes"),
        ({"sector": "mining"}, "sector", "18 producer-service sectors"),
        ({"established_on": "2020-02-30"}, "established_on", "date"),
        ({"name": "   "}, "name", "at least 1 character"),
        ({"employees_total": 5}, "employees_total", "Extra inputs are not permitted"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(city, change, field, message):
    response = await city.post("/enterprises", json={**enterprise(), **change})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert any(err["loc"][-1] == field and message in err["msg"] for err in errors), errors
    assert (await city.get("/enterprises")).json()["items"] == []
    assert await audit_count(city) == 0


async def test_district_writes_only_its_own_district(client_for, city):
    yuzhong = client_for(district("500103"))
    own = await yuzhong.post("/enterprises", json=enterprise("500103"))
    assert own.status_code == 201
    foreign = await yuzhong.post("/enterprises", json=enterprise("500105"))
    assert foreign.status_code == 403
    assert len((await city.get("/enterprises")).json()["items"]) == 1


async def test_auditor_and_service_read_but_never_write(client_for, city):
    body = enterprise()
    await city.post("/enterprises", json=body)
    for principal in (AUDITOR, SERVICE):
        client = client_for(principal)
        assert (await client.get(f"/enterprises/{body['uscc']}")).status_code == 200
        assert (await client.post("/enterprises", json=enterprise())).status_code == 403
        assert (await client.patch(f"/enterprises/{body['uscc']}", json={"name": "x"})).status_code == 403
        assert (await client.put(f"/enterprises/{body['uscc']}/years/2024", json=year_figures())).status_code == 403
    assert (await city.get(f"/enterprises/{body['uscc']}")).json()["name"] == body["name"]


async def test_district_reads_only_its_own_records(client_for, city):
    mine, theirs = enterprise("500103"), enterprise("500105")
    for body in (mine, theirs):
        await city.post("/enterprises", json=body)
    yuzhong = client_for(district("500103"))
    assert (await yuzhong.get(f"/enterprises/{mine['uscc']}")).status_code == 200
    assert (await yuzhong.get(f"/enterprises/{theirs['uscc']}")).status_code == 403
    listed = (await yuzhong.get("/enterprises")).json()["items"]
    assert [item["uscc"] for item in listed] == [mine["uscc"]]
    assert (await yuzhong.get("/enterprises", params={"district_code": "500105"})).status_code == 403


async def test_read_unknown_and_invalid_codes(city):
    assert (await city.get(f"/enterprises/{new_uscc()}")).status_code == 404
    assert (await city.get("/enterprises/not-a-code")).status_code == 422


async def test_list_filters_and_stable_cursor_pagination(city):
    bodies = [enterprise("500103", name=f"渝中物流{i}", sector="modern_logistics") for i in range(7)]
    bodies += [enterprise("500105", name=f"江北软件{i}", sector="software_it") for i in range(5)]
    for body in bodies:
        assert (await city.post("/enterprises", json=body)).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = (await city.get("/enterprises", params=params)).json()
        seen += [item["uscc"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(body["uscc"] for body in bodies)
    by_district = (await city.get("/enterprises", params={"district_code": "500105"})).json()["items"]
    assert {item["district_code"] for item in by_district} == {"500105"} and len(by_district) == 5
    by_sector = (await city.get("/enterprises", params={"sector": "modern_logistics"})).json()["items"]
    assert len(by_sector) == 7
    by_name = (await city.get("/enterprises", params={"q": "软件3"})).json()["items"]
    assert [item["name"] for item in by_name] == ["江北软件3"]
    # LIKE wildcards in q are literal characters.
    assert (await city.get("/enterprises", params={"q": "%"})).json()["items"] == []
    assert (await city.get("/enterprises", params={"limit": 0})).status_code == 422
    assert (await city.get("/enterprises", params={"limit": 501})).status_code == 422


async def test_patch_with_if_match(city):
    body = enterprise()
    await city.post("/enterprises", json=body)
    url = f"/enterprises/{body['uscc']}"
    changed = await city.patch(url, json={"name": "新名称"}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200 and changed.headers["etag"] == '"2"'
    assert changed.json()["name"] == "新名称"
    stale = await city.patch(url, json={"name": "过期"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await city.get(url)).json()["name"] == "新名称"
    # Without If-Match the change applies to the current version.
    assert (await city.patch(url, json={"sector": "legal_ip"})).headers["etag"] == '"3"'
    # Sending the same values changes nothing, not even the ETag.
    assert (await city.patch(url, json={"sector": "legal_ip"})).headers["etag"] == '"3"'


@pytest.mark.parametrize(
    "patch",
    [{"uscc": "91500103000000001Q"}, {"name": None}, {}, {"district_code": "999999"}, {"established_on": "1800-01-01"}],
)
async def test_patch_bad_input_changes_nothing(city, patch):
    body = enterprise()
    await city.post("/enterprises", json=body)
    response = await city.patch(f"/enterprises/{body['uscc']}", json=patch)
    assert response.status_code == 422
    assert (await city.get(f"/enterprises/{body['uscc']}")).json()["version"] == 1


async def test_district_cannot_move_its_enterprise_to_another_district(client_for, city):
    body = enterprise("500103")
    await city.post("/enterprises", json=body)
    response = await client_for(district("500103")).patch(
        f"/enterprises/{body['uscc']}", json={"district_code": "500105"}
    )
    assert response.status_code == 403
    assert (await city.get(f"/enterprises/{body['uscc']}")).json()["district_code"] == "500103"


async def test_concurrent_updates_with_the_same_if_match_exactly_one_wins(client_for, city):
    body = enterprise()
    await city.post("/enterprises", json=body)
    url = f"/enterprises/{body['uscc']}"
    clients = [client_for(district("500103")) for _ in range(8)]
    responses = await asyncio.gather(
        *(client.patch(url, json={"name": f"并发{i}"}, headers={"If-Match": '"1"'}) for i, client in enumerate(clients))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [412] * 7
    winner = next(response for response in responses if response.status_code == 200).json()["name"]
    final = (await city.get(url)).json()
    assert final["name"] == winner and final["version"] == 2


async def test_yearly_figures_create_replace_and_bump_the_etag(city):
    body = enterprise()
    await city.post("/enterprises", json=body)
    url = f"/enterprises/{body['uscc']}/years/2024"
    created = await city.put(url, json=year_figures("25000000.50", top500_service=True))
    assert created.status_code == 201 and created.headers["etag"] == '"2"'
    written = created.json()
    verification = written.pop("verification")
    # Written by the city, the figures' authority: verified as written; the year records the enterprise's district.
    assert written == {
        "year": 2024,
        "revenue_yuan": "25000000.50",
        "employees": 120,
        "above_scale": True,
        "top500_service": True,
        "district_code": "500103",
    }
    assert (verification["status"], verification["submitted_by"], verification["verified_by"]) == (
        "verified",
        "city",
        "city",
    )
    assert verification["verified_at"] == verification["submitted_at"] and verification["reason"] is None
    replaced = await city.put(url, json=year_figures("26000000", above_scale=False))
    assert replaced.status_code == 200 and replaced.json()["revenue_yuan"] == "26000000.00"
    same = await city.put(url, json=year_figures("26000000", above_scale=False))
    assert same.status_code == 200 and same.headers["etag"] == '"3"'
    years = (await city.get(f"/enterprises/{body['uscc']}")).json()["years"]
    assert [(y["year"], y["revenue_yuan"], y["above_scale"]) for y in years] == [(2024, "26000000.00", False)]


@pytest.mark.parametrize(
    ("year", "figures", "field"),
    [
        (1999, year_figures(), "year"),
        (2024, year_figures("-5"), "revenue_yuan"),
        (2024, year_figures(1.005), "revenue_yuan"),
        (2024, year_figures("12.345"), "revenue_yuan"),
        (2024, year_figures(employees=-1), "employees"),
        (2024, {"revenue_yuan": "1"}, "above_scale"),
        (2024, {**year_figures(), "profit_yuan": "1"}, "profit_yuan"),
    ],
)
async def test_yearly_figures_bad_input(city, year, figures, field):
    body = enterprise()
    await city.post("/enterprises", json=body)
    response = await city.put(f"/enterprises/{body['uscc']}/years/{year}", json=figures)
    assert response.status_code == 422
    assert any(err["loc"][-1] == field for err in response.json()["errors"])
    assert (await city.get(f"/enterprises/{body['uscc']}")).json()["years"] == []


async def test_yearly_figures_for_unknown_or_foreign_enterprise(client_for, city):
    assert (await city.put(f"/enterprises/{new_uscc()}/years/2024", json=year_figures())).status_code == 404
    body = enterprise("500105")
    await city.post("/enterprises", json=body)
    foreign = await client_for(district("500103")).put(f"/enterprises/{body['uscc']}/years/2024", json=year_figures())
    assert foreign.status_code == 403


async def test_a_districts_enterprises_of_a_year_follow_the_district_the_year_records(city, client_for):
    # Y moved from 渝中区 to 渝北区 after its 2025 figures were recorded; Z (渝中区) has no 2025 figures; W is 渝北区's.
    moved, stayed, other = enterprise("500103"), enterprise("500103"), enterprise("500112")
    for body in (moved, stayed, other):
        assert (await city.post("/enterprises", json=body)).status_code == 201
    for body in (moved, other):
        assert (await city.put(f"/enterprises/{body['uscc']}/years/2025", json=year_figures())).status_code == 201
    assert (await city.patch(f"/enterprises/{moved['uscc']}", json={"district_code": "500112"})).status_code == 200

    async def listed(district_code: str, **query: object) -> list[str]:
        params = {"district_code": district_code, **query}
        return [item["uscc"] for item in (await city.get("/enterprises", params=params)).json()["items"]]

    assert await listed("500103", year=2025) == sorted([moved["uscc"], stayed["uscc"]])
    assert await listed("500112", year=2025) == [other["uscc"]]
    # Without a year, the present district.
    assert await listed("500103") == [stayed["uscc"]]
    assert sorted(await listed("500112")) == sorted([moved["uscc"], other["uscc"]])
    # 渝中区's own key may read its enterprises of 2025; a year alone narrows nothing.
    own = await client_for(district("500103")).get("/enterprises", params={"year": 2025, "district_code": "500103"})
    assert sorted(item["uscc"] for item in own.json()["items"]) == sorted([moved["uscc"], stayed["uscc"]])
    response = await city.get("/enterprises", params={"year": 2025})
    assert response.status_code == 422 and response.json()["errors"] == [
        {"loc": ["query", "year"], "msg": "only with district_code"}
    ]
