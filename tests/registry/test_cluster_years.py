"""A cluster's yearly revenue (issue 18: 百亿级集聚区 are counted from it): written by the cluster's district or the
city, verified by the city through the verification flow of every money-deciding fact, audited."""

from typing import Any

from tests.support import AUDITOR, SERVICE, district

YUZHONG, JIANGBEI = "500103", "500105"


async def audit(city, **params) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await city.get("/audit", params={"limit": 500, **params})).json()["items"]
    return items


async def new_cluster(city, district_code: str = YUZHONG, name: str = "解放碑软件信息集聚区") -> int:
    response = await city.post("/clusters", json={"name": name, "district_code": district_code})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_a_district_submits_its_clusters_revenue_and_the_city_verifies_it(city, client_for):
    cluster = await new_cluster(city)
    yuzhong = client_for(district(YUZHONG))

    written = await yuzhong.put(f"/clusters/{cluster}/years/2025", json={"revenue_yuan": "10500000000.5"})
    assert written.status_code == 201, written.text
    body = written.json()
    assert (body["year"], body["revenue_yuan"]) == (2025, "10500000000.50")
    assert body["verification"]["status"] == "submitted"
    assert body["verification"]["submitted_by"] == f"district:{YUZHONG}"
    assert (body["verification"]["verified_by"], body["verification"]["verified_at"]) == (None, None)

    # It waits in the city's queue, as every other verified kind does.
    queue = (await city.get("/verifications", params={"record": "cluster_year"})).json()["items"]
    assert [(item["record"], item["id"], item["district_code"]) for item in queue] == [
        ("cluster_year", f"{cluster}/2025", YUZHONG)
    ]

    # Neither the district, the auditor nor a service verifies it.
    for principal in (district(YUZHONG), AUDITOR, SERVICE):
        refused = await client_for(principal).post(
            f"/clusters/{cluster}/years/2025/verification", json={"decision": "verify"}
        )
        assert refused.status_code == 403, refused.text

    decided = await city.post(f"/clusters/{cluster}/years/2025/verification", json={"decision": "verify"})
    assert decided.status_code == 200, decided.text
    assert (decided.json()["record"], decided.json()["id"]) == ("cluster_year", f"{cluster}/2025")
    assert decided.json()["verification"]["status"] == "verified"
    years = (await city.get(f"/clusters/{cluster}/years")).json()
    assert years["cluster_id"] == cluster and years["district_code"] == YUZHONG
    assert [(item["year"], item["revenue_yuan"], item["verification"]["status"]) for item in years["years"]] == [
        (2025, "10500000000.50", "verified")
    ]
    assert (await city.get("/verifications", params={"record": "cluster_year"})).json()["items"] == []

    # Audited: the cluster's creation, the district's upsert, the city's decision.
    entries = await audit(city)
    assert [(e["action"], e["entity_type"], e["entity_id"]) for e in entries] == [
        ("verify", "cluster_year", f"{cluster}/2025"),
        ("upsert", "cluster_year", f"{cluster}/2025"),
        ("create", "cluster", str(cluster)),
    ]
    assert entries[1]["before"] is None and entries[1]["after"]["revenue_yuan"] == "10500000000.50"

    # A district's change to the verified revenue makes it submitted again.
    again = await yuzhong.put(f"/clusters/{cluster}/years/2025", json={"revenue_yuan": "9800000000.00"})
    assert again.status_code == 200 and again.json()["verification"]["status"] == "submitted"
    assert len(await audit(city)) == 4


async def test_the_citys_write_is_verified_as_written_and_an_unchanged_write_changes_nothing(city):
    cluster = await new_cluster(city)
    first = await city.put(f"/clusters/{cluster}/years/2024", json={"revenue_yuan": "8000000000.00"})
    assert first.status_code == 201
    assert (first.json()["verification"]["status"], first.json()["verification"]["verified_by"]) == (
        "verified",
        "city",
    )
    second = await city.put(f"/clusters/{cluster}/years/2025", json={"revenue_yuan": 12000000000})
    assert second.status_code == 201
    audited = len(await audit(city))
    unchanged = await city.put(f"/clusters/{cluster}/years/2024", json={"revenue_yuan": "8000000000"})
    assert unchanged.status_code == 200 and unchanged.json() == first.json()
    assert len(await audit(city)) == audited
    years = (await city.get(f"/clusters/{cluster}/years")).json()["years"]
    assert [(item["year"], item["revenue_yuan"]) for item in years] == [
        (2024, "8000000000.00"),
        (2025, "12000000000.00"),
    ]


async def test_bulk_verification_and_rejection_take_cluster_years(city, client_for):
    cluster = await new_cluster(city)
    yuzhong = client_for(district(YUZHONG))
    for year in (2024, 2025):
        assert (
            await yuzhong.put(f"/clusters/{cluster}/years/{year}", json={"revenue_yuan": "1.00"})
        ).status_code == 201
    report = await city.post(
        "/verifications",
        json={
            "items": [
                {"record": "cluster_year", "id": f"{cluster}/2024", "decision": "verify"},
                {"record": "cluster_year", "id": f"{cluster}/2025", "decision": "reject", "reason": "与统计口径不符"},
            ]
        },
    )
    assert report.status_code == 200, report.text
    assert (report.json()["verified"], report.json()["rejected"], report.json()["unchanged"]) == (1, 1, 0)
    years = (await city.get(f"/clusters/{cluster}/years")).json()["years"]
    assert [(item["year"], item["verification"]["status"], item["verification"]["reason"]) for item in years] == [
        (2024, "verified", None),
        (2025, "rejected", "与统计口径不符"),
    ]
    # A cluster year's id is <cluster id>/<year>: a bare number is named as the wrong id.
    bad = await city.post(
        "/verifications", json={"items": [{"record": "cluster_year", "id": str(cluster), "decision": "verify"}]}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "items", 0, "id"]


async def test_another_district_neither_writes_nor_reads_and_nothing_is_written(city, client_for):
    cluster = await new_cluster(city)
    assert (await city.put(f"/clusters/{cluster}/years/2025", json={"revenue_yuan": "5.00"})).status_code == 201
    audited = len(await audit(city))
    jiangbei = client_for(district(JIANGBEI))
    refused = await jiangbei.put(f"/clusters/{cluster}/years/2025", json={"revenue_yuan": "6.00"})
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert (await jiangbei.get(f"/clusters/{cluster}/years")).status_code == 403
    assert (
        await client_for(AUDITOR).put(f"/clusters/{cluster}/years/2025", json={"revenue_yuan": "6.00"})
    ).status_code == 403
    # The auditor and the services read it; the owning district too.
    for principal in (AUDITOR, SERVICE, district(YUZHONG)):
        read = await client_for(principal).get(f"/clusters/{cluster}/years")
        assert read.status_code == 200 and read.json()["years"][0]["revenue_yuan"] == "5.00"
    assert len(await audit(city)) == audited


async def test_bad_input_is_a_problem_naming_the_field(city):
    cluster = await new_cluster(city)
    for body, field in (
        ({"revenue_yuan": "-1.00"}, "revenue_yuan"),
        ({"revenue_yuan": "1.005"}, "revenue_yuan"),
        ({"revenue_yuan": 1.005}, "revenue_yuan"),
        ({"revenue_yuan": "99999999999999999.00"}, "revenue_yuan"),
        ({"revenue_yuan": "1.00", "grade": "A"}, "grade"),
        ({}, "revenue_yuan"),
    ):
        response = await city.put(f"/clusters/{cluster}/years/2025", json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in {str(part) for error in response.json()["errors"] for part in error["loc"]}, response.text
    assert (await city.put(f"/clusters/{cluster + 1000}/years/2025", json={"revenue_yuan": "1.00"})).status_code == 404
    assert (await city.get(f"/clusters/{cluster + 1000}/years")).status_code == 404
    assert (await city.put(f"/clusters/{cluster}/years/1900", json={"revenue_yuan": "1.00"})).status_code == 422
    assert (await city.get(f"/clusters/{cluster}/years")).json()["years"] == []
    assert (
        await city.post(f"/clusters/{cluster}/years/2025/verification", json={"decision": "verify"})
    ).status_code == 404
