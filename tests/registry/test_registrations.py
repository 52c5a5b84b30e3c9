"""A district registering a credit code whose division segment (positions 3–8) names another of the 38 districts is
held for the city's confirmation instead of taking the code (issue 12); 主辅分离 enterprises name their parent."""

import pytest

from tests.registry.factories import enterprise, new_uscc, year_figures
from tests.support import AUDITOR, district

YUZHONG, JIANGBEI = "500103", "500105"


async def audit(city) -> list[dict]:
    return (await city.get("/audit", params={"limit": 500})).json()["items"]


def foreign_code_body() -> dict:
    """An enterprise 渝中区 registers in its own district, with a credit code registered in 江北区's division."""
    return enterprise(YUZHONG, uscc=new_uscc(JIANGBEI))


async def test_a_foreign_division_is_held_and_the_named_district_still_registers(city, client_for):
    yuzhong, jiangbei = client_for(district(YUZHONG)), client_for(district(JIANGBEI))
    body = foreign_code_body()
    held = await yuzhong.post("/enterprises", json=body)
    assert held.status_code == 202, held.text
    registration = held.json()
    assert (registration["uscc"], registration["district_code"], registration["division_code"]) == (
        body["uscc"],
        YUZHONG,
        JIANGBEI,
    )
    assert (registration["status"], registration["requested_by"], registration["decided_by"]) == (
        "held",
        "district:500103",
        None,
    )
    assert registration["enterprise"]["name"] == body["name"]
    # Not created: the code is not taken.
    assert (await city.get(f"/enterprises/{body['uscc']}")).status_code == 404
    # A second registration of the same code waits already: 409 naming it.
    again = await yuzhong.post("/enterprises", json=body)
    assert again.status_code == 409 and again.json()["registration_id"] == registration["id"]
    # The named district's own create works meanwhile.
    own = await jiangbei.post("/enterprises", json=enterprise(JIANGBEI, uscc=body["uscc"]))
    assert own.status_code == 201
    # The city's own registration of a foreign code is not held, nor one of a division outside Chongqing.
    assert (await city.post("/enterprises", json=enterprise(YUZHONG, uscc=new_uscc(JIANGBEI)))).status_code == 201
    outside = enterprise(YUZHONG, uscc=new_uscc("110105"))
    assert (await yuzhong.post("/enterprises", json=outside)).status_code == 201

    # Confirming now: the code exists by then, 409, the registration still held.
    conflict = await city.post(f"/enterprise-registrations/{registration['id']}/confirm", json={})
    assert conflict.status_code == 409
    listed = (await city.get("/enterprise-registrations")).json()
    assert [(item["id"], item["status"]) for item in listed["items"]] == [(registration["id"], "held")]
    refused = await city.post(
        f"/enterprise-registrations/{registration['id']}/refuse", json={"reason": "江北区已登记该信用代码"}
    )
    assert refused.status_code == 200
    assert (refused.json()["status"], refused.json()["decided_by"], refused.json()["reason"]) == (
        "refused",
        "city",
        "江北区已登记该信用代码",
    )
    # Decided: neither confirmed nor refused again.
    assert (await city.post(f"/enterprise-registrations/{registration['id']}/confirm", json={})).status_code == 409
    assert (await city.get("/enterprise-registrations", params={"status": "held"})).json()["items"] == []


async def test_the_city_confirms_a_held_registration(city, client_for):
    yuzhong = client_for(district(YUZHONG))
    body = foreign_code_body()
    registration = (await yuzhong.post("/enterprises", json=body)).json()
    audited = len(await audit(city))
    # Only the city confirms or refuses; the auditor reads; districts neither: 403, nothing written.
    for principal in (district(YUZHONG), district(JIANGBEI), AUDITOR):
        client = client_for(principal)
        assert (
            await client.post(f"/enterprise-registrations/{registration['id']}/confirm", json={})
        ).status_code == 403
        refuse = await client.post(f"/enterprise-registrations/{registration['id']}/refuse", json={"reason": "不"})
        assert refuse.status_code == 403
    assert (await yuzhong.get("/enterprise-registrations")).status_code == 403
    assert len((await client_for(AUDITOR).get("/enterprise-registrations")).json()["items"]) == 1
    assert len(await audit(city)) == audited

    # A body is required (a note may go with it).
    assert (await city.post(f"/enterprise-registrations/{registration['id']}/confirm")).status_code == 422
    confirmed = await city.post(f"/enterprise-registrations/{registration['id']}/confirm", json={"reason": "经核实"})
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.headers["location"] == f"/enterprises/{body['uscc']}"
    assert (confirmed.json()["status"], confirmed.json()["decided_by"], confirmed.json()["reason"]) == (
        "confirmed",
        "city",
        "经核实",
    )
    stored = (await city.get(f"/enterprises/{body['uscc']}")).json()
    assert {name: stored[name] for name in body} == body
    # The held registration is confirmed; the enterprise is 渝中区's and the district works with it.
    listed = (await city.get("/enterprise-registrations", params={"status": "confirmed"})).json()["items"]
    assert [(item["id"], item["decided_by"]) for item in listed] == [(registration["id"], "city")]
    assert (await yuzhong.put(f"/enterprises/{body['uscc']}/years/2025", json=year_figures())).status_code == 201
    # Audited: the hold, then the enterprise's creation and the confirmation.
    actions = [(entry["action"], entry["entity_type"]) for entry in await audit(city)]
    assert actions[:4] == [
        ("upsert", "enterprise_year"),
        ("confirm", "enterprise_registration"),
        ("create", "enterprise"),
        ("hold", "enterprise_registration"),
    ]


async def test_registration_bad_input(city, client_for):
    assert (await city.post("/enterprise-registrations/99/confirm", json={})).status_code == 404
    registration = (await client_for(district(YUZHONG)).post("/enterprises", json=foreign_code_body())).json()
    missing = await city.post(f"/enterprise-registrations/{registration['id']}/refuse", json={})
    assert missing.status_code == 422 and missing.json()["errors"][0]["loc"][-1] == "reason"
    empty = await city.post(f"/enterprise-registrations/{registration['id']}/refuse", json={"reason": ""})
    assert empty.status_code == 422 and empty.json()["errors"][0]["loc"][-1] == "reason"
    assert (await city.get("/enterprise-registrations", params={"status": "pending"})).status_code == 422
    assert (await city.get("/enterprise-registrations")).json()["items"][0]["status"] == "held"


async def test_a_district_import_rejects_a_foreign_division_naming_uscc(city, client_for):
    yuzhong = client_for(district(YUZHONG))
    foreign = foreign_code_body() | {"year": 2025, "revenue_yuan": "1000000.00", "employees": 5, "above_scale": False}
    fine = enterprise(YUZHONG)
    report = (await yuzhong.post("/enterprises/import", json=[fine, foreign])).json()
    assert report["created"] == 1 and [row["row"] for row in report["rejected"]] == [2]
    error = report["rejected"][0]["errors"][0]
    assert error["loc"] == ["uscc"] and "register it singly" in error["msg"] and "held" in error["msg"]
    assert (await city.get(f"/enterprises/{foreign['uscc']}")).status_code == 404
    atomic = await yuzhong.post("/enterprises/import", json=[foreign], params={"atomic": "true"})
    assert atomic.status_code == 422 and atomic.json()["errors"][0]["loc"] == ["body", 1, "uscc"]
    # The city imports it; afterwards 渝中区 updates it like any of its enterprises.
    assert (await city.post("/enterprises/import", json=[foreign])).json()["created"] == 1
    update = (await yuzhong.post("/enterprises/import", json=[foreign | {"name": "重庆改名供应链有限公司"}])).json()
    assert update["updated"] == 1 and update["rejected"] == []


# ---- 主辅分离: the parent manufacturer and the date of the spin-off --------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"spun_off_from_manufacturer": True}, "parent_uscc", "required when spun_off_from_manufacturer is true"),
        ({"spun_off_from_manufacturer": True, "parent_uscc": new_uscc("500112")}, "spun_off_on", "required"),
        ({"parent_uscc": new_uscc("500112")}, "parent_uscc", "only for an enterprise spun off"),
        ({"spun_off_on": "2025-01-01"}, "spun_off_on", "only for an enterprise spun off"),
        (
            {"spun_off_from_manufacturer": True, "parent_uscc": "91500112000000001X", "spun_off_on": "2025-01-01"},
            "parent_uscc",
            "check character",
        ),
        (
            {"spun_off_from_manufacturer": True, "parent_uscc": new_uscc("500112"), "spun_off_on": "1900-01-01"},
            "spun_off_on",
            "greater than or equal",
        ),
    ],
)
async def test_spin_off_fields_are_checked(city, change, field, message):
    response = await city.post("/enterprises", json=enterprise() | change)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert any(error["loc"][-1] == field and message in error["msg"] for error in errors), errors
    assert (await city.get("/enterprises")).json()["items"] == []


async def test_spin_off_parent_is_not_itself_and_patches_keep_the_fields_together(city):
    body = enterprise()
    own = await city.post(
        "/enterprises",
        json=body | {"spun_off_from_manufacturer": True, "parent_uscc": body["uscc"], "spun_off_on": "2025-03-01"},
    )
    assert own.status_code == 422 and own.json()["errors"][0]["loc"] == ["body", "parent_uscc"]
    assert (await city.post("/enterprises", json=body)).status_code == 201
    url = f"/enterprises/{body['uscc']}"
    half = await city.patch(url, json={"spun_off_from_manufacturer": True})
    assert half.status_code == 422 and {tuple(e["loc"]) for e in half.json()["errors"]} == {
        ("body", "parent_uscc"),
        ("body", "spun_off_on"),
    }
    parent = new_uscc("500112")
    whole = await city.patch(
        url, json={"spun_off_from_manufacturer": True, "parent_uscc": parent, "spun_off_on": "2025-03-01"}
    )
    assert whole.status_code == 200
    assert (whole.json()["parent_uscc"], whole.json()["spun_off_on"]) == (parent, "2025-03-01")
    lone = await city.patch(url, json={"parent_uscc": None})
    assert lone.status_code == 422 and lone.json()["errors"][0]["loc"] == ["body", "parent_uscc"]
    # No longer a spin-off: the parent and the date go with it.
    undone = await city.patch(url, json={"spun_off_from_manufacturer": False})
    assert undone.status_code == 200
    assert (undone.json()["parent_uscc"], undone.json()["spun_off_on"]) == (None, None)


async def test_spin_off_import_columns(city):
    parent = new_uscc("500112")
    row = enterprise() | {"spun_off_from_manufacturer": "true", "parent_uscc": parent, "spun_off_on": "2025-02-01"}
    header = ",".join(row)
    csv = f"{header}\n{','.join(str(value) for value in row.values())}\n"
    lacking = enterprise() | {"spun_off_from_manufacturer": "true"}
    csv += ",".join(str(lacking.get(name, "")) for name in row) + "\n"
    report = (await city.post("/enterprises/import", content=csv.encode(), headers={"content-type": "text/csv"})).json()
    assert report["created"] == 1 and [item["row"] for item in report["rejected"]] == [2]
    assert {error["loc"][-1] for error in report["rejected"][0]["errors"]} == {"parent_uscc", "spun_off_on"}
    stored = (await city.get(f"/enterprises/{row['uscc']}")).json()
    assert (stored["spun_off_from_manufacturer"], stored["parent_uscc"], stored["spun_off_on"]) == (
        True,
        parent,
        "2025-02-01",
    )
