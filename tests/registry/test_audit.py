"""The audit log: every write with who, when, what, before and after; append-only; city and auditor only."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.registry.factories import enterprise, year_figures
from tests.support import AUDITOR, district


async def test_writes_are_audited_with_before_and_after(city, client_for):
    yuzhong = client_for(district("500103"))
    body = enterprise()
    await yuzhong.post("/enterprises", json=body, headers={"X-Request-ID": "req-create-1"})
    await yuzhong.patch(f"/enterprises/{body['uscc']}", json={"name": "改后名称"})
    await yuzhong.put(f"/enterprises/{body['uscc']}/years/2024", json=year_figures())
    entries = (await client_for(AUDITOR).get("/audit")).json()["items"]
    assert [(e["action"], e["entity_type"]) for e in entries] == [
        ("upsert", "enterprise_year"),
        ("update", "enterprise"),
        ("create", "enterprise"),
    ]
    year_entry, update_entry, create_entry = entries
    assert create_entry["before"] is None and create_entry["after"]["name"] == body["name"]
    assert create_entry["request_id"] == "req-create-1"
    assert (create_entry["actor_role"], create_entry["actor_district"]) == ("district", "500103")
    assert update_entry["before"]["name"] == body["name"] and update_entry["after"]["name"] == "改后名称"
    assert year_entry["entity_id"] == f"{body['uscc']}/2024" and year_entry["after"]["revenue_yuan"] == "25000000.00"
    filtered = (await city.get("/audit", params={"entity_type": "enterprise", "entity_id": body["uscc"]})).json()
    assert len(filtered["items"]) == 2
    by_district = (await city.get("/audit", params={"district_code": "500103"})).json()
    assert len(by_district["items"]) == 3
    # The district filter is the DistrictCode enum, as everywhere: a code that is none of the 38 is a 422.
    unknown = await city.get("/audit", params={"district_code": "500000"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["loc"] == ["query", "district_code"]


async def test_failed_writes_leave_no_audit_entry(city):
    await city.post("/enterprises", json={**enterprise(), "sector": "mining"})
    body = enterprise()
    await city.post("/enterprises", json=body)
    await city.post("/enterprises", json=body)  # 409
    assert len((await city.get("/audit")).json()["items"]) == 1


async def test_audit_is_for_city_and_auditor_only(client_for):
    assert (await client_for(district("500103")).get("/audit")).status_code == 403
    assert (await client_for(None).get("/audit")).status_code == 401


async def test_audit_pagination(city):
    for _ in range(5):
        await city.post("/enterprises", json=enterprise())
    first = (await city.get("/audit", params={"limit": 3})).json()
    second = (await city.get("/audit", params={"limit": 3, "cursor": first["next_cursor"]})).json()
    ids = [e["id"] for e in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5 and second["next_cursor"] is None


async def test_audit_log_refuses_update_and_delete(registry_app, city):
    await city.post("/enterprises", json=enterprise())
    for statement in ("UPDATE audit_log SET actor_role = 'city'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with registry_app.state.engine.begin() as connection:
                await connection.execute(text(statement))
    assert len((await city.get("/audit")).json()["items"]) == 1


@pytest.mark.parametrize("key", ["not-an-id", 2**63, 0])
async def test_a_cursor_no_page_issued_is_a_422_not_a_500(city, key):
    from shared.pagination import encode_cursor

    # Enterprises are paged by credit code: any text is a cursor there, a number is not.
    for path in ("/audit", "/projects", *(("/enterprises",) if not isinstance(key, str) else ())):
        response = await city.get(path, params={"cursor": encode_cursor(key)})
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"] == [{"loc": ["query", "cursor"], "msg": "invalid cursor"}]
