"""Facts that decide money are verified by their authority, the city (POLICY.md "Facts that decide money, and their
authority"; issue 12): a city write is verified as written, a district write is submitted and waits; only the city
verifies or rejects, singly or in bulk (all or nothing); every decision is audited; every read shows it."""

import pytest

from tests.registry.factories import enterprise, year_figures
from tests.support import AUDITOR, SERVICE, district

YUZHONG, JIANGBEI = "500103", "500105"


async def audit(city, **params) -> list[dict]:
    return (await city.get("/audit", params={"limit": 500, **params})).json()["items"]


async def registered(city, district_code: str = YUZHONG) -> str:
    body = enterprise(district_code)
    assert (await city.post("/enterprises", json=body)).status_code == 201
    return str(body["uscc"])


async def one_of_each(city, client) -> dict[str, str]:
    """One record of each verified kind in 渝中区, written by `client`; their ids as the API names them."""
    uscc = await registered(city)
    assert (await client.put(f"/enterprises/{uscc}/years/2025", json=year_figures())).status_code == 201
    cluster = (await client.post("/clusters", json={"name": "渝中集聚区", "district_code": YUZHONG})).json()["id"]
    grade = {"grade": "A", "score": "90", "tier": 1}
    assert (await client.put(f"/clusters/{cluster}/evaluations/2025", json=grade)).status_code == 201
    building_body = {"name": "解放碑大厦", "district_code": YUZHONG, "stars": 5, "operator_uscc": uscc}
    building = (await client.post("/buildings", json=building_body)).json()["id"]
    assert (await client.put(f"/buildings/{building}/years/2025", json={"revenue_yuan": "9000000"})).status_code == 201
    project_body = {
        "kind": "investment",
        "owner_uscc": uscc,
        "name": "渝中总部项目",
        "year": 2025,
        "verified_investment_yuan": "80000000.00",
    }
    project = (await client.post("/projects", json=project_body)).json()["id"]
    return {
        "enterprise_year": f"{uscc}/2025",
        "cluster_evaluation": f"{cluster}/2025",
        "building": str(building),
        "building_year": f"{building}/2025",
        "project": str(project),
    }


def single_path(record: str, record_id: str) -> str:
    first, _, year = record_id.partition("/")
    return {
        "enterprise_year": f"/enterprises/{first}/years/{year}/verification",
        "cluster_evaluation": f"/clusters/{first}/evaluations/{year}/verification",
        "building": f"/buildings/{first}/verification",
        "building_year": f"/buildings/{first}/years/{year}/verification",
        "project": f"/projects/{first}/verification",
    }[record]


async def read_verification(city, record: str, record_id: str) -> dict:
    """The record's verification as each read shows it: the single read and the listing must agree."""
    first, _, year = record_id.partition("/")
    if record == "enterprise_year":
        single = (await city.get(f"/enterprises/{first}")).json()["years"]
        listed = (await city.get("/enterprises")).json()["items"][0]["years"]
        found = [item["verification"] for item in single if item["year"] == int(year)]
        assert found == [item["verification"] for item in listed if item["year"] == int(year)]
        return found[0]
    if record == "cluster_evaluation":
        single = (await city.get(f"/clusters/{first}")).json()["evaluations"]
        listed = (await city.get("/clusters")).json()["items"][0]["evaluations"]
        assert single == listed
        return next(item["verification"] for item in single if item["year"] == int(year))
    if record in ("building", "building_year"):
        single = (await city.get(f"/buildings/{first}")).json()
        assert single == (await city.get("/buildings")).json()["items"][0]
        if record == "building":
            return single["verification"]
        return next(item["verification"] for item in single["years"] if item["year"] == int(year))
    single = (await city.get(f"/projects/{first}")).json()
    assert single == (await city.get("/projects")).json()["items"][0]
    return single["verification"]


RECORDS = ("enterprise_year", "cluster_evaluation", "building", "building_year", "project")


@pytest.mark.parametrize("record", RECORDS)
async def test_a_district_submits_and_the_city_verifies(city, client_for, record):
    yuzhong = client_for(district(YUZHONG))
    ids = await one_of_each(city, yuzhong)
    # Written by the district: submitted, waiting for the city; every read says so.
    submitted = await read_verification(city, record, ids[record])
    assert submitted["status"] == "submitted" and submitted["submitted_by"] == f"district:{YUZHONG}"
    assert (submitted["verified_by"], submitted["verified_at"], submitted["reason"]) == (None, None, None)

    # The district may not verify its own facts, nor may the auditor or another service: 403, nothing written.
    for principal in (district(YUZHONG), AUDITOR, SERVICE):
        refused = await client_for(principal).post(single_path(record, ids[record]), json={"decision": "verify"})
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert await read_verification(city, record, ids[record]) == submitted
    audited = len(await audit(city))

    decided = await city.post(single_path(record, ids[record]), json={"decision": "verify"})
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert (body["record"], body["id"], body["district_code"]) == (record, ids[record], YUZHONG)
    verification = body["verification"]
    assert (verification["status"], verification["verified_by"]) == ("verified", "city")
    assert (
        verification["submitted_by"] == f"district:{YUZHONG}"
        and verification["submitted_at"] == submitted["submitted_at"]
    )
    assert await read_verification(city, record, ids[record]) == verification
    # One audit entry for the decision, with the verification before and after.
    entries = await audit(city)
    assert len(entries) == audited + 1
    assert (entries[0]["action"], entries[0]["entity_type"], entries[0]["entity_id"]) == ("verify", record, ids[record])
    assert entries[0]["before"]["status"] == "submitted" and entries[0]["after"]["status"] == "verified"
    # Verifying again changes nothing and is not audited again.
    again = await city.post(single_path(record, ids[record]), json={"decision": "verify"})
    assert again.status_code == 200 and again.json()["verification"] == verification
    assert len(await audit(city)) == audited + 1


@pytest.mark.parametrize("record", RECORDS)
async def test_the_city_writes_verified_and_rejects_with_a_reason(city, client_for, record):
    ids = await one_of_each(city, city)
    written = await read_verification(city, record, ids[record])
    assert (written["status"], written["submitted_by"], written["verified_by"]) == ("verified", "city", "city")
    assert written["verified_at"] == written["submitted_at"]

    # A rejection needs a reason: 422 naming it, nothing written.
    missing = await city.post(single_path(record, ids[record]), json={"decision": "reject"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["loc"] == ["body", "reason"]
    blank = await city.post(single_path(record, ids[record]), json={"decision": "reject", "reason": "   "})
    assert blank.status_code == 422 and blank.json()["errors"][0]["loc"] == ["body", "reason"]
    bad = await city.post(single_path(record, ids[record]), json={"decision": "approve"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][-1] == "decision"
    assert await read_verification(city, record, ids[record]) == written

    rejected = await city.post(
        single_path(record, ids[record]), json={"decision": "reject", "reason": "与统计局名录不符"}
    )
    assert rejected.status_code == 200
    verification = rejected.json()["verification"]
    assert (verification["status"], verification["verified_by"], verification["reason"]) == (
        "rejected",
        "city",
        "与统计局名录不符",
    )
    assert await read_verification(city, record, ids[record]) == verification


async def test_unknown_records_and_bad_ids(city):
    uscc = await registered(city)
    assert (
        await city.post(f"/enterprises/{uscc}/years/2025/verification", json={"decision": "verify"})
    ).status_code == 404
    assert (await city.post("/projects/424242/verification", json={"decision": "verify"})).status_code == 404
    assert (
        await city.post("/clusters/9/evaluations/2025/verification", json={"decision": "verify"})
    ).status_code == 404
    assert (await city.post("/buildings/0/verification", json={"decision": "verify"})).status_code == 422
    assert len(await audit(city)) == 1  # the enterprise's registration only


async def test_a_district_change_resubmits_a_verified_fact_and_an_unchanged_write_changes_nothing(city, client_for):
    yuzhong = client_for(district(YUZHONG))
    uscc = await registered(city)
    url = f"/enterprises/{uscc}/years/2025"
    assert (await city.put(url, json=year_figures("30000000.00"))).status_code == 201
    verified = (await city.get(f"/enterprises/{uscc}")).json()["years"][0]["verification"]
    assert verified["status"] == "verified"
    etag = (await city.get(f"/enterprises/{uscc}")).headers["etag"]

    # The same figures from the district: nothing changes, the city's verification stands.
    same = await yuzhong.put(url, json=year_figures("30000000.00"))
    assert same.status_code == 200 and same.json()["verification"] == verified
    assert (await city.get(f"/enterprises/{uscc}")).headers["etag"] == etag

    # Changed by the district: submitted again, waiting for the city.
    changed = await yuzhong.put(url, json=year_figures("31000000.00"))
    assert changed.status_code == 200
    assert changed.json()["verification"]["status"] == "submitted"
    assert changed.json()["verification"]["submitted_by"] == f"district:{YUZHONG}"
    assert changed.json()["verification"]["verified_by"] is None

    # The city's verification changes the enterprise's ETag (its figures are part of it).
    before = (await city.get(f"/enterprises/{uscc}")).headers["etag"]
    assert (await city.post(f"{url}/verification", json={"decision": "verify"})).status_code == 200
    assert (await city.get(f"/enterprises/{uscc}")).headers["etag"] != before


async def test_a_district_import_is_submitted_and_a_city_import_verified(city, client_for):
    row = enterprise(YUZHONG) | {"year": 2025, "revenue_yuan": "12000000.00", "employees": 30, "above_scale": True}
    report = (await client_for(district(YUZHONG)).post("/enterprises/import", json=[row])).json()
    assert report["created"] == 1 and report["years_written"] == 1
    year = (await city.get(f"/enterprises/{row['uscc']}")).json()["years"][0]
    assert (year["verification"]["status"], year["verification"]["submitted_by"]) == ("submitted", "district:500103")
    assert year["district_code"] == YUZHONG
    other = enterprise(JIANGBEI) | {"year": 2025, "revenue_yuan": "12000000.00", "employees": 30, "above_scale": True}
    assert (await city.post("/enterprises/import", json=[other])).json()["created"] == 1
    year = (await city.get(f"/enterprises/{other['uscc']}")).json()["years"][0]
    assert (year["verification"]["status"], year["verification"]["verified_by"]) == ("verified", "city")
    # A city re-import of the district's figures, changed, verifies them as written.
    changed = row | {"revenue_yuan": "12500000.00"}
    assert (await city.post("/enterprises/import", json=[changed])).json()["years_written"] == 1
    year = (await city.get(f"/enterprises/{row['uscc']}")).json()["years"][0]
    assert (year["revenue_yuan"], year["verification"]["status"]) == ("12500000.00", "verified")


async def test_bulk_verification_is_all_or_nothing(city, client_for):
    yuzhong = client_for(district(YUZHONG))
    ids = await one_of_each(city, yuzhong)
    audited = len(await audit(city))
    items = [{"record": record, "id": ids[record], "decision": "verify"} for record in RECORDS]
    bad = [
        *items[:2],
        {"record": "project", "id": "999999", "decision": "verify"},  # 2: no such project
        {"record": "building_year", "id": ids["building"], "decision": "verify"},  # 3: a building year needs a year
        {"record": "building", "id": ids["building"], "decision": "reject"},  # 4: no reason
        {"record": "enterprise_year", "id": ids["enterprise_year"], "decision": "verify"},  # 5: the same as item 0
    ]
    refused = await city.post("/verifications", json={"items": bad})
    assert refused.status_code == 422, refused.text
    located = [(error["loc"][2], error["loc"][3]) for error in refused.json()["errors"]]
    assert located == [(2, "id"), (3, "id"), (4, "reason"), (5, "id")]
    for record in RECORDS:  # nothing was written
        assert (await read_verification(city, record, ids[record]))["status"] == "submitted"
    assert len(await audit(city)) == audited

    # Only the city: a district, the auditor: 403, nothing written.
    for principal in (district(YUZHONG), AUDITOR):
        assert (await client_for(principal).post("/verifications", json={"items": items})).status_code == 403

    items[4] = {"record": "project", "id": ids["project"], "decision": "reject", "reason": "投资额未经核定"}
    done = await city.post("/verifications", json={"items": items})
    assert done.status_code == 200, done.text
    report = done.json()
    assert (report["verified"], report["rejected"], report["unchanged"]) == (4, 1, 0)
    assert [(item["record"], item["id"], item["verification"]["status"]) for item in report["items"]] == [
        *((record, ids[record], "verified") for record in RECORDS[:4]),
        ("project", ids["project"], "rejected"),
    ]
    for record in RECORDS[:4]:
        assert (await read_verification(city, record, ids[record]))["status"] == "verified"
    assert (await read_verification(city, "project", ids["project"]))["reason"] == "投资额未经核定"
    entries = await audit(city)
    assert len(entries) == audited + 5
    assert sorted(entry["action"] for entry in entries[:5]) == ["reject", "verify", "verify", "verify", "verify"]
    # The same again: every item unchanged, nothing audited.
    again = (await city.post("/verifications", json={"items": items})).json()
    assert (again["verified"], again["rejected"], again["unchanged"]) == (0, 0, 5)
    assert len(await audit(city)) == audited + 5


async def test_bulk_bad_bodies(city):
    assert (await city.post("/verifications", json={"items": []})).status_code == 422
    unknown = await city.post("/verifications", json={"items": [{"record": "award", "id": "1", "decision": "verify"}]})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["loc"][-1] == "record"
    bad_code = await city.post(
        "/verifications",
        json={"items": [{"record": "enterprise_year", "id": "91500103000000001X/2025", "decision": "verify"}]},
    )
    assert bad_code.status_code == 422 and bad_code.json()["errors"][0]["loc"] == ["body", "items", 0, "id"]
    assert "check character" in bad_code.json()["errors"][0]["msg"]


async def test_the_queue(city, client_for):
    yuzhong, jiangbei = client_for(district(YUZHONG)), client_for(district(JIANGBEI))
    ids = await one_of_each(city, yuzhong)
    theirs = await registered(city, JIANGBEI)
    assert (await jiangbei.put(f"/enterprises/{theirs}/years/2025", json=year_figures())).status_code == 201
    verified_by_city = await registered(city)
    assert (await city.put(f"/enterprises/{verified_by_city}/years/2025", json=year_figures())).status_code == 201

    # Waiting for the city: the five of 渝中区 and the one of 江北区, in record and id order.
    queue = (await city.get("/verifications")).json()
    expected = sorted(
        [*((record, ids[record], YUZHONG) for record in RECORDS), ("enterprise_year", f"{theirs}/2025", JIANGBEI)]
    )
    assert [(item["record"], item["id"], item["district_code"]) for item in queue["items"]] == expected
    assert all(item["verification"]["status"] == "submitted" for item in queue["items"])
    assert queue["next_cursor"] is None

    # Paged two at a time, the same six.
    seen, cursor = [], None
    while True:
        page = (await city.get("/verifications", params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
        seen += [(item["record"], item["id"], item["district_code"]) for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected

    by_record = (await city.get("/verifications", params={"record": "enterprise_year"})).json()["items"]
    assert sorted(item["id"] for item in by_record) == sorted([ids["enterprise_year"], f"{theirs}/2025"])
    by_district = (await city.get("/verifications", params={"district_code": JIANGBEI})).json()["items"]
    assert [item["id"] for item in by_district] == [f"{theirs}/2025"]
    verified = (await city.get("/verifications", params={"status": "verified", "record": "enterprise_year"})).json()
    assert [item["id"] for item in verified["items"]] == [f"{verified_by_city}/2025"]

    # The queue is the city's; the auditor reads it; a district sees the verification on its records, not the queue.
    assert len((await client_for(AUDITOR).get("/verifications")).json()["items"]) == 6
    for params in ({}, {"district_code": YUZHONG}):
        refused = await yuzhong.get("/verifications", params=params)
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"

    # Bad filters name the parameter.
    for params, name in (
        ({"status": "approved"}, "status"),
        ({"record": "award"}, "record"),
        ({"cursor": "x"}, "cursor"),
    ):
        response = await city.get("/verifications", params=params)
        assert response.status_code == 422 and response.json()["errors"][0]["loc"][-1] == name
