"""Bulk import: CSV and JSON, per-row report, atomic mode, Idempotency-Key, district scoping."""

import asyncio

from tests.registry.factories import enterprise, new_uscc
from tests.support import district

HEADER = "uscc,name,district_code,sector,established_on,spun_off_from_manufacturer,year,revenue_yuan,employees,above_scale,top500_service"


def csv_row(
    uscc: str, district_code: str = "500103", year: str = "2024", revenue: str = "21000000.00", **kw: str
) -> str:
    fields = {
        "name": kw.get("name", "重庆导入测试有限公司"),
        "sector": kw.get("sector", "modern_logistics"),
        "established_on": kw.get("established_on", "2018-03-01"),
        "spun": kw.get("spun", "false"),
        "employees": kw.get("employees", "80"),
        "above": kw.get("above", "true"),
        "top500": kw.get("top500", "false"),
    }
    return ",".join(
        [
            uscc,
            fields["name"],
            district_code,
            fields["sector"],
            fields["established_on"],
            fields["spun"],
            year,
            revenue,
            fields["employees"],
            fields["above"],
            fields["top500"],
        ]
    )


def csv_body(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


async def post_csv(client, body: bytes, **params):
    return await client.post("/enterprises/import", content=body, params=params, headers={"content-type": "text/csv"})


async def test_csv_import_reports_each_row(city):
    good_a, good_b = new_uscc(), new_uscc()
    body = csv_body(
        csv_row(good_a),
        csv_row(good_a, year="2023", revenue="18000000"),
        csv_row("91500103000000001X"),  # row 3: wrong check character
        csv_row(good_b, district_code="500199"),  # row 4: unknown district
        csv_row(good_b, revenue="-1"),  # row 5: negative money
        csv_row(new_uscc(), year="2024", employees="", above=""),  # row 6: figures incomplete
        csv_row(good_a, year="2024", revenue="1"),  # row 7: the same enterprise-year twice
        csv_row(good_a, year="2022", name="别的名字"),  # row 8: conflicts with row 1
    )
    response = await post_csv(city, body)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["created"], report["updated"], report["years_written"]) == (8, 1, 0, 2)
    rejected = {item["row"]: item for item in report["rejected"]}
    assert sorted(rejected) == [3, 4, 5, 6, 7, 8]
    assert "check character" in rejected[3]["errors"][0]["msg"]
    assert rejected[4]["errors"][0]["loc"] == ["district_code"]
    assert rejected[5]["errors"][0]["loc"] == ["revenue_yuan"]
    assert "employees" in rejected[6]["errors"][0]["msg"]
    assert "more than once" in rejected[7]["errors"][0]["msg"]
    assert "conflicts with row 1" in rejected[8]["errors"][0]["msg"]
    stored = (await city.get(f"/enterprises/{good_a}")).json()
    assert [(y["year"], y["revenue_yuan"]) for y in stored["years"]] == [(2023, "18000000.00"), (2024, "21000000.00")]


async def test_json_import_creates_updates_and_leaves_unchanged(city):
    existing = enterprise(name="旧名称")
    untouched = enterprise()
    for body in (existing, untouched):
        await city.post("/enterprises", json=body)
    fresh = enterprise()
    rows = [
        {**existing, "name": "新名称"},
        untouched,
        {**fresh, "year": 2024, "revenue_yuan": "30000000", "employees": 10, "above_scale": True},
        "not an object",
    ]
    created_at = (await city.get(f"/enterprises/{existing['uscc']}")).json()["created_at"]
    report = (await city.post("/enterprises/import", json=rows)).json()
    assert (report["created"], report["updated"], report["unchanged"], report["years_written"]) == (1, 1, 1, 1)
    changed = (await city.get(f"/enterprises/{existing['uscc']}")).json()
    assert changed["created_at"] == created_at and changed["updated_at"] > created_at
    assert [item["row"] for item in report["rejected"]] == [4]
    assert (await city.get(f"/enterprises/{existing['uscc']}")).json()["name"] == "新名称"
    assert (await city.get(f"/enterprises/{existing['uscc']}")).headers["etag"] == '"2"'
    assert (await city.get(f"/enterprises/{untouched['uscc']}")).headers["etag"] == '"1"'
    # Importing the same rows again changes nothing.
    again = (await city.post("/enterprises/import", json=rows[:3])).json()
    assert (again["created"], again["updated"], again["unchanged"], again["years_written"]) == (0, 0, 3, 0)


async def test_atomic_import_writes_nothing_unless_every_row_is_valid(city):
    existing = enterprise(name="原名")
    await city.post("/enterprises", json=existing)
    rows = [{**existing, "name": "改名"}, enterprise(), {**enterprise(), "sector": "mining"}]
    response = await city.post("/enterprises/import", json=rows, params={"atomic": "true"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["rejected"][0]["row"] == 3
    assert problem["errors"][0]["loc"] == ["body", 3, "sector"]
    listed = (await city.get("/enterprises")).json()["items"]
    assert [item["name"] for item in listed] == ["原名"]
    ok = await city.post("/enterprises/import", json=rows[:2], params={"atomic": "true"})
    assert ok.status_code == 200 and ok.json()["rejected"] == []
    assert len((await city.get("/enterprises")).json()["items"]) == 2


async def test_retried_idempotency_key_replays_the_first_answer(city):
    rows = [enterprise(), enterprise()]
    headers = {"Idempotency-Key": "upload-2024-11-22-001"}
    first = await city.post("/enterprises/import", json=rows, headers=headers)
    assert first.status_code == 200 and first.json()["created"] == 2
    # Change an enterprise in between: the replay must not undo it, nor count it again.
    await city.patch(f"/enterprises/{rows[0]['uscc']}", json={"name": "之后改的"})
    retry = await city.post("/enterprises/import", json=rows, headers=headers)
    assert retry.status_code == 200 and retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert (await city.get(f"/enterprises/{rows[0]['uscc']}")).json()["name"] == "之后改的"
    reused = await city.post("/enterprises/import", json=[enterprise()], headers=headers)
    assert reused.status_code == 422 and reused.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert len((await city.get("/enterprises")).json()["items"]) == 2


async def test_concurrent_retries_with_one_key_apply_once(client_for, city):
    rows = [enterprise() for _ in range(20)]
    headers = {"Idempotency-Key": "concurrent-key"}
    clients = [client_for(district("500103")) for _ in range(4)]
    responses = await asyncio.gather(*(c.post("/enterprises/import", json=rows, headers=headers) for c in clients))
    assert [r.status_code for r in responses] == [200] * 4
    assert {r.json()["created"] for r in responses} == {20}
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 3
    audit = (await city.get("/audit", params={"entity_type": "enterprise", "limit": 500})).json()["items"]
    assert len(audit) == 20


async def test_district_import_cannot_touch_other_districts(client_for, city):
    theirs = enterprise("500105")
    await city.post("/enterprises", json=theirs)
    yuzhong = client_for(district("500103"))
    rows = [enterprise("500103"), enterprise("500105"), {**theirs, "district_code": "500103"}]
    report = (await yuzhong.post("/enterprises/import", json=rows)).json()
    assert report["created"] == 1
    assert {item["row"]: item["errors"][0]["loc"] for item in report["rejected"]} == {2: ["district_code"], 3: ["uscc"]}
    assert (await city.get(f"/enterprises/{theirs['uscc']}")).json()["district_code"] == "500105"


async def test_bad_bodies(city, client_for):
    assert (await post_csv(city, b"uscc,name,colour\n")).json()["errors"] == [
        {"loc": ["header", "colour"], "msg": "unknown column"},
        {"loc": ["header", "district_code"], "msg": "required column missing"},
        {"loc": ["header", "sector"], "msg": "required column missing"},
        {"loc": ["header", "established_on"], "msg": "required column missing"},
    ]
    assert (await post_csv(city, "\ufeff".encode() + csv_body(csv_row(new_uscc())))).json()["created"] == 1
    assert (await post_csv(city, b"\xff\xfe")).status_code == 400
    xml = await city.post("/enterprises/import", content=b"<rows/>", headers={"content-type": "application/xml"})
    assert xml.status_code == 415
    assert (await city.post("/enterprises/import", json={"rows": []})).status_code == 422
    broken = await city.post("/enterprises/import", content=b"[{", headers={"content-type": "application/json"})
    assert broken.status_code == 400
    extra_cells = await post_csv(city, csv_body(csv_row(new_uscc()) + ",surplus"))
    assert extra_cells.json()["rejected"][0]["errors"][0]["loc"] == ["unexpected_cells"]
    assert (await client_for(None).post("/enterprises/import", json=[])).status_code == 401


async def test_oversized_import_is_413(registry_app, city):
    settings = registry_app.state.settings
    original = settings.import_max_bytes
    settings.import_max_bytes = 2048
    try:
        response = await post_csv(city, csv_body(*(csv_row(new_uscc()) for _ in range(40))))
    finally:
        settings.import_max_bytes = original
    assert response.status_code == 413
    assert (await city.get("/enterprises")).json()["items"] == []


async def test_a_failure_in_the_middle_of_an_import_leaves_the_database_as_it_was(city, monkeypatch):
    from services.registry.enterprises import repository

    existing = enterprise(name="原名")
    await city.post("/enterprises", json=existing)

    async def someone_changed_it_meanwhile(session, rows):
        return False

    # New enterprises are written first; the guard on the existing one then finds it changed by another request.
    monkeypatch.setattr(repository, "update_enterprises", someone_changed_it_meanwhile)
    rows = [enterprise(), enterprise(), {**existing, "name": "改名"}]
    response = await city.post("/enterprises/import", json=rows, params={"atomic": "true"})
    assert response.status_code == 409
    listed = (await city.get("/enterprises")).json()["items"]
    assert [item["name"] for item in listed] == ["原名"]
    assert len((await city.get("/audit")).json()["items"]) == 1


async def test_unstorable_characters_are_refused_by_name_not_by_a_500(city):
    # JSON may carry escapes that UTF-8 and PostgreSQL cannot hold: an unpaired surrogate, a NUL.
    body = b'[{"\\ud800": 1, "uscc": "x\\u0000"}, ' + (
        b'{"uscc": "91500103000000001Q", "name": "bad\\u0000name", "district_code": "500103", '
        b'"sector": "legal_ip", "established_on": "2020-01-01"}]'
    )
    headers = {"content-type": "application/json", "Idempotency-Key": "odd-characters"}
    response = await city.post("/enterprises/import", content=body, headers=headers)
    assert response.status_code == 200, response.text
    rejected = response.json()["rejected"]
    assert [item["row"] for item in rejected] == [1, 2]
    assert "unicode" in rejected[0]["errors"][0]["msg"]
    assert rejected[1]["errors"][0]["loc"] == ["name"]
    again = await city.post("/enterprises/import", content=body, headers=headers)
    assert again.json() == response.json() and again.headers["idempotent-replayed"] == "true"
    single = await city.post("/enterprises", content=b'{"\\udfff": 1}', headers={"content-type": "application/json"})
    assert single.status_code == 422 and single.json()["errors"]
