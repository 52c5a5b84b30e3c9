"""隶属关系 (issue 12; 第（三）条 "按照集聚区隶属关系由所在区县政府或市级部门（含开发区管委会）管理使用"): a cluster belongs to
its district government by default, or to a city department (incl. a development-zone committee) the city names."""

from tests.support import AUDITOR, district

YUBEI, YUZHONG = "500112", "500103"
LIANGJIANG = {"kind": "city_department", "department": "两江新区管委会"}


def cluster(**kw) -> dict:
    return {"name": "两江数字经济产业园", "district_code": YUBEI} | kw


async def test_a_cluster_belongs_to_its_district_by_default_and_the_city_names_a_department(city, client_for):
    yubei = client_for(district(YUBEI))
    own = await yubei.post("/clusters", json=cluster())
    assert own.status_code == 201 and own.json()["belongs_to"] == {"kind": "district", "district_code": YUBEI}
    named = await city.post("/clusters", json=cluster(name="两江新区软件园", belongs_to=LIANGJIANG))
    assert named.status_code == 201 and named.json()["belongs_to"] == LIANGJIANG
    # In every read: the single read and the listing.
    assert (await city.get(f"/clusters/{named.json()['id']}")).json()["belongs_to"] == LIANGJIANG
    listed = (await city.get("/clusters")).json()["items"]
    assert [item["belongs_to"] for item in listed] == [{"kind": "district", "district_code": YUBEI}, LIANGJIANG]

    # The city moves the first to the committee and back; each change audited.
    url = f"/clusters/{own.json()['id']}"
    moved = await city.patch(url, json={"belongs_to": LIANGJIANG})
    assert moved.status_code == 200 and moved.json()["belongs_to"] == LIANGJIANG
    entry = (await city.get("/audit", params={"entity_type": "cluster", "entity_id": str(own.json()["id"])})).json()
    assert entry["items"][0]["action"] == "update"
    assert entry["items"][0]["before"]["belongs_to"] == {"kind": "district", "district_code": YUBEI}
    assert entry["items"][0]["after"]["belongs_to"] == LIANGJIANG
    # The district sets its own district back (it may), not a department nor another district.
    assert (
        await yubei.patch(url, json={"belongs_to": {"kind": "district", "district_code": YUBEI}})
    ).status_code == 200
    assert (await yubei.patch(url, json={"belongs_to": LIANGJIANG})).status_code == 403
    other = {"kind": "district", "district_code": YUZHONG}
    assert (await yubei.patch(url, json={"belongs_to": other})).status_code == 403
    assert (await city.get(url)).json()["belongs_to"] == {"kind": "district", "district_code": YUBEI}


async def test_only_the_city_names_another_body_and_bad_input_names_the_field(city, client_for):
    yubei = client_for(district(YUBEI))
    assert (await yubei.post("/clusters", json=cluster(belongs_to=LIANGJIANG))).status_code == 403
    other = {"kind": "district", "district_code": YUZHONG}
    assert (await yubei.post("/clusters", json=cluster(belongs_to=other))).status_code == 403
    assert (await city.get("/clusters")).json()["items"] == []
    for belongs_to, field in (
        ({"kind": "province"}, "belongs_to"),
        ({"kind": "city_department"}, "department"),
        ({"kind": "city_department", "department": "  "}, "department"),
        ({"kind": "district", "district_code": "500199"}, "district_code"),
        ({"kind": "district", "district_code": YUBEI, "department": "两江新区管委会"}, "department"),
    ):
        response = await city.post("/clusters", json=cluster(belongs_to=belongs_to))
        assert response.status_code == 422, belongs_to
        assert field in response.json()["errors"][0]["loc"], response.json()
    created = (await city.post("/clusters", json=cluster())).json()["id"]
    assert (await city.patch(f"/clusters/{created}", json={})).status_code == 422
    assert (await city.patch("/clusters/99999", json={"belongs_to": LIANGJIANG})).status_code == 404
    assert (await client_for(AUDITOR).patch(f"/clusters/{created}", json={"belongs_to": LIANGJIANG})).status_code == 403
    foreign = client_for(district(YUZHONG))
    assert (await foreign.patch(f"/clusters/{created}", json={"belongs_to": other})).status_code == 403
    assert (await city.get(f"/clusters/{created}")).json()["belongs_to"] == {"kind": "district", "district_code": YUBEI}
