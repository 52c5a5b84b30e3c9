"""市级领军企业 designations (渝府发〔2024〕18号: 培育领军企业100家): the city designates, lists, reads and revokes;
one live designation per enterprise; every write audited; a district reads its own enterprises' designations."""

import asyncio
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI

from tests.registry.factories import enterprise
from tests.support import AUDITOR, CITY, SERVICE, district

YUZHONG, JIANGBEI = "500103", "500105"
NOTICE = "渝发改服务〔2025〕12号"


@pytest.fixture(autouse=True)
def _today(registry_app: FastAPI) -> Iterator[None]:
    # A designation is made in a year that has begun: the tests' today is held.
    registry_app.state.clock.hold(date(2025, 9, 30))
    yield
    registry_app.state.clock.hold(None)


async def audit(city, **params) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await city.get("/audit", params={"limit": 500, **params})).json()["items"]
    return items


async def registered(city, district_code: str = YUZHONG, **overrides) -> str:
    body = enterprise(district_code, **overrides)
    assert (await city.post("/enterprises", json=body)).status_code == 201
    return str(body["uscc"])


async def designate(city, uscc: str, year: int = 2025, document: str = NOTICE) -> dict[str, Any]:
    response = await city.post("/leading-enterprises", json={"uscc": uscc, "year": year, "document": document})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_the_city_designates_reads_and_revokes_with_every_step_audited(city):
    uscc = await registered(city, name="重庆领军数据科技有限公司", sector="data_resources")
    created = await city.post("/leading-enterprises", json={"uscc": uscc, "year": 2025, "document": NOTICE})
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"/leading-enterprises/{body['id']}"
    assert {key: body[key] for key in body if key not in ("id", "designated_at")} == {
        "uscc": uscc,
        "enterprise_name": "重庆领军数据科技有限公司",
        "district_code": YUZHONG,
        "sector": "data_resources",
        "year": 2025,
        "document": NOTICE,
        "designated_by": "city",
        "live": True,
        "revocation": None,
    }
    assert (await city.get(f"/leading-enterprises/{body['id']}")).json() == body

    refused = await city.post(f"/leading-enterprises/{body['id']}/revocation", json={"reason": "   "})
    assert refused.status_code == 422 and refused.json()["errors"][0]["loc"] == ["body", "reason"]
    revoked = await city.post(f"/leading-enterprises/{body['id']}/revocation", json={"reason": "经复核不再符合条件"})
    assert revoked.status_code == 200, revoked.text
    out = revoked.json()
    assert out["live"] is False
    assert (out["revocation"]["revoked_by"], out["revocation"]["reason"]) == ("city", "经复核不再符合条件")
    assert (await city.get(f"/leading-enterprises/{body['id']}")).json() == out
    again = await city.post(f"/leading-enterprises/{body['id']}/revocation", json={"reason": "再次撤销"})
    assert again.status_code == 409
    assert (await city.get(f"/leading-enterprises/{body['id']}")).json() == out

    entries = await audit(city, entity_type="leading_designation")
    assert [(e["action"], e["entity_id"], e["district_code"]) for e in entries] == [
        ("revoke", str(body["id"]), YUZHONG),
        ("create", str(body["id"]), YUZHONG),
    ]
    assert entries[1]["before"] is None and entries[1]["after"] == body
    assert entries[0]["before"] == body and entries[0]["after"] == out


async def test_one_live_designation_per_enterprise(city):
    uscc = await registered(city)
    first = await designate(city, uscc, 2024, "渝发改服务〔2024〕30号")
    second = await city.post("/leading-enterprises", json={"uscc": uscc, "year": 2025, "document": NOTICE})
    assert second.status_code == 409, second.text
    assert second.json()["existing_designation_id"] == first["id"]
    # Once revoked, the enterprise may be designated again; the revoked designation keeps its history.
    assert (
        await city.post(f"/leading-enterprises/{first['id']}/revocation", json={"reason": "撤销"})
    ).status_code == 200
    renewed = await designate(city, uscc, 2025)
    items = (await city.get("/leading-enterprises")).json()["items"]
    assert [(item["id"], item["live"]) for item in items] == [(first["id"], False), (renewed["id"], True)]


async def test_two_designations_of_one_enterprise_at_once_leave_exactly_one(city, client_for):
    uscc = await registered(city)
    clients = [client_for(CITY) for _ in range(6)]
    answers = await asyncio.gather(
        *(
            client.post(
                "/leading-enterprises", json={"uscc": uscc, "year": 2025, "document": f"渝发改服务〔2025〕{n}号"}
            )
            for n, client in enumerate(clients, start=1)
        )
    )
    assert sorted(answer.status_code for answer in answers) == [201, 409, 409, 409, 409, 409]
    assert len((await city.get("/leading-enterprises")).json()["items"]) == 1
    assert len(await audit(city, entity_type="leading_designation")) == 1


async def test_unknown_enterprise_future_year_and_bad_fields_are_422s_naming_the_field(city):
    uscc = await registered(city)
    unknown = enterprise()["uscc"]  # a valid credit code the registry does not hold
    for body, field in (
        ({"uscc": unknown, "year": 2025, "document": NOTICE}, "uscc"),
        ({"uscc": "91500103MA5U7XXXX1", "year": 2025, "document": NOTICE}, "uscc"),  # a wrong check character
        ({"uscc": uscc, "year": 2026, "document": NOTICE}, "year"),  # the tests' today is in 2025
        ({"uscc": uscc, "year": 2025, "document": ""}, "document"),
        ({"uscc": uscc, "year": 2025, "document": "长" * 201}, "document"),
        ({"uscc": uscc, "year": 2025, "document": "line\nbreak"}, "document"),
        ({"uscc": uscc, "year": 2025, "document": NOTICE, "district_code": YUZHONG}, "district_code"),
        ({"uscc": uscc, "document": NOTICE}, "year"),
    ):
        response = await city.post("/leading-enterprises", json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in {str(part) for error in response.json()["errors"] for part in error["loc"]}, response.text
    assert (await city.get("/leading-enterprises")).json()["items"] == []
    assert await audit(city, entity_type="leading_designation") == []
    assert (await city.get("/leading-enterprises/999999")).status_code == 404
    assert (await city.post("/leading-enterprises/999999/revocation", json={"reason": "撤销"})).status_code == 404


async def test_only_the_city_writes_and_a_district_reads_its_own_enterprises_only(city, client_for):
    own = await registered(city, YUZHONG, sector="software_it")
    other = await registered(city, JIANGBEI, sector="tech_rnd")
    mine = await designate(city, own)
    theirs = await designate(city, other, 2024)
    audited = len(await audit(city))

    yuzhong = client_for(district(YUZHONG))
    for principal in (district(YUZHONG), AUDITOR, SERVICE):
        client = client_for(principal)
        fresh = await registered(city)
        created = await client.post("/leading-enterprises", json={"uscc": fresh, "year": 2025, "document": NOTICE})
        assert created.status_code == 403, created.text
        revoked = await client.post(f"/leading-enterprises/{mine['id']}/revocation", json={"reason": "撤销"})
        assert revoked.status_code == 403, revoked.text
    assert len(await audit(city)) == audited + 3  # only the three enterprises registered above
    assert (await city.get(f"/leading-enterprises/{mine['id']}")).json()["live"] is True

    # A district: its own enterprises' designations; another district's are a 403.
    listed = (await yuzhong.get("/leading-enterprises")).json()
    assert [item["id"] for item in listed["items"]] == [mine["id"]] and listed["next_cursor"] is None
    assert (await yuzhong.get("/leading-enterprises", params={"district_code": JIANGBEI})).status_code == 403
    assert (await yuzhong.get(f"/leading-enterprises/{theirs['id']}")).status_code == 403
    assert (await yuzhong.get(f"/leading-enterprises/{mine['id']}")).json() == mine
    # The city, the auditor and the services read all.
    for principal in (AUDITOR, SERVICE):
        items = (await client_for(principal).get("/leading-enterprises")).json()["items"]
        assert [item["id"] for item in items] == [mine["id"], theirs["id"]]


async def test_the_listing_filters_and_pages_with_a_cursor(city):
    designations = []
    for code, sector, year in (
        (YUZHONG, "software_it", 2024),
        (YUZHONG, "software_it", 2025),
        (YUZHONG, "tech_rnd", 2025),
        (JIANGBEI, "software_it", 2025),
        (JIANGBEI, "tech_rnd", 2023),
    ):
        designations.append(await designate(city, await registered(city, code, sector=sector), year))
    ids = [item["id"] for item in designations]

    async def listed(**params) -> list[int]:
        return [item["id"] for item in (await city.get("/leading-enterprises", params=params)).json()["items"]]

    assert await listed() == ids
    assert await listed(year=2025) == ids[1:4]
    assert await listed(district_code=YUZHONG) == ids[:3]
    assert await listed(sector="software_it") == [ids[0], ids[1], ids[3]]
    assert await listed(year=2025, district_code=JIANGBEI, sector="software_it") == [ids[3]]
    assert await listed(year=2022) == []

    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await city.get("/leading-enterprises", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert (await city.get("/leading-enterprises", params={"cursor": "!!!"})).status_code == 422
    assert (await city.get("/leading-enterprises", params={"sector": "nope"})).status_code == 422
