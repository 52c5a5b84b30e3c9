"""Subscriptions: create (secret once), read, list, change with If-Match, pause and resume, soft delete; scoping."""

import base64

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.notifications.conftest import scalar
from tests.support import ANONYMOUS, AUDITOR, CITY, SERVICE, district

DISTRICT = district("500103")
OTHER = district("500104")


def body(url: str = "http://127.0.0.1:9/hook", **overrides: object) -> dict[str, object]:
    return {"url": url, "event_types": ["award.paid", "ranking.published"], **overrides}


async def test_create_shows_the_secret_once(client_for, notifications_app):
    client = client_for(DISTRICT)
    response = await client.post("/subscriptions", json=body(measure_ids=["M03"], subject_types=["enterprise"]))
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == f"/subscriptions/{created['id']}"
    assert response.headers["ETag"] == '"1"'
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert created["district_code"] == "500103"  # a district key's own, set for it
    assert created["status"] == "active" and created["paused_reason"] is None
    assert created["created_by"] == "district:500103"
    read = await client.get(f"/subscriptions/{created['id']}")
    assert read.status_code == 200 and "secret" not in read.json()
    assert read.headers["ETag"] == '"1"'
    listed = await client.get("/subscriptions")
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    assert "secret" not in listed.json()["items"][0]
    # Two subscriptions never share a secret.
    again = await client.post("/subscriptions", json=body())
    assert again.json()["secret"] != secret


async def test_city_and_auditor_subscribe_to_every_district_or_one(client_for):
    for principal in (CITY, AUDITOR):
        every = await client_for(principal).post("/subscriptions", json=body())
        assert every.status_code == 201 and every.json()["district_code"] is None
        one = await client_for(principal).post("/subscriptions", json=body(district_code="500104"))
        assert one.status_code == 201 and one.json()["district_code"] == "500104"


async def test_a_district_cannot_subscribe_to_another_district(client_for, notifications_app):
    response = await client_for(DISTRICT).post("/subscriptions", json=body(district_code="500104"))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await scalar(notifications_app, "SELECT count(*) FROM subscriptions") == 0


@pytest.mark.parametrize("principal", [SERVICE, ANONYMOUS])
async def test_only_key_holders_of_people_manage_subscriptions(client_for, principal):
    response = await client_for(principal).post("/subscriptions", json=body())
    assert response.status_code in (401, 403)
    assert (await client_for(principal).get("/subscriptions")).status_code in (401, 403)


async def test_districts_see_and_manage_only_their_own(client_for):
    mine = (await client_for(DISTRICT).post("/subscriptions", json=body())).json()
    theirs = (await client_for(OTHER).post("/subscriptions", json=body())).json()
    city = (await client_for(CITY).post("/subscriptions", json=body())).json()
    listed = (await client_for(DISTRICT).get("/subscriptions")).json()["items"]
    assert [item["id"] for item in listed] == [mine["id"]]
    everything = (await client_for(AUDITOR).get("/subscriptions")).json()["items"]
    assert [item["id"] for item in everything] == [mine["id"], theirs["id"], city["id"]]
    client = client_for(DISTRICT)
    for target in (theirs["id"], city["id"]):
        assert (await client.get(f"/subscriptions/{target}")).status_code == 403
        assert (await client.patch(f"/subscriptions/{target}", json={"status": "paused"})).status_code == 403
        assert (await client.delete(f"/subscriptions/{target}")).status_code == 403
        assert (await client.post(f"/subscriptions/{target}/ping")).status_code == 403
        assert (await client.get(f"/subscriptions/{target}/deliveries")).status_code == 403
    # The city manages a district's subscription.
    assert (await client_for(CITY).patch(f"/subscriptions/{mine['id']}", json={"status": "paused"})).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_types": ["award.paid", "award.nonexistent"]}, "event_types"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["webhook.ping"]}, "event_types"),
        ({"event_types": ["award.paid", "award.paid"]}, "event_types"),
        ({"measure_ids": ["M99"]}, "measure_ids"),
        ({"subject_types": ["galaxy"]}, "subject_types"),
        ({"district_code": "123456"}, "district_code"),
        ({"url": "ftp://127.0.0.1/hook"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "http://user:pw@127.0.0.1/hook"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"secret": "whsec_mine"}, "secret"),
    ],
)
async def test_bad_input_is_refused_and_nothing_written(city, notifications_app, change, field):
    response = await city.post("/subscriptions", json=body(**change))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert any(field in error["loc"] for error in problem["errors"]), problem
    assert await scalar(notifications_app, "SELECT count(*) FROM subscriptions") == 0


async def test_patch_with_if_match(city):
    created = (await city.post("/subscriptions", json=body())).json()
    path = f"/subscriptions/{created['id']}"
    stale = await city.patch(path, json={"event_types": ["award.paid"]}, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    changed = await city.patch(
        path,
        json={"event_types": ["award.paid"], "measure_ids": ["M06"], "url": "http://127.0.0.2:9/other"},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    out = changed.json()
    assert out["event_types"] == ["award.paid"] and out["measure_ids"] == ["M06"]
    assert out["url"] == "http://127.0.0.2:9/other" and "secret" not in out
    # null clears a filter; an unchanged body changes nothing.
    cleared = await city.patch(path, json={"measure_ids": None})
    assert cleared.json()["measure_ids"] is None and cleared.json()["version"] == 3
    same = await city.patch(path, json={"measure_ids": None})
    assert same.json()["version"] == 3
    assert (await city.patch(path, json={"url": None})).status_code == 422
    assert (await city.patch(path, json={"url": "http://10.0.0.1/hook"})).status_code == 422
    assert (await city.get(path)).json()["url"] == "http://127.0.0.2:9/other"


async def test_pause_and_resume(city):
    created = (await city.post("/subscriptions", json=body())).json()
    path = f"/subscriptions/{created['id']}"
    paused = (await city.patch(path, json={"status": "paused"})).json()
    assert paused["status"] == "paused" and paused["paused_reason"] == "manual"
    resumed = (await city.patch(path, json={"status": "active"})).json()
    assert resumed["status"] == "active" and resumed["paused_reason"] is None


async def test_delete_is_soft(city, notifications_app):
    created = (await city.post("/subscriptions", json=body())).json()
    path = f"/subscriptions/{created['id']}"
    assert (await city.delete(path, headers={"If-Match": '"9"'})).status_code == 412
    assert (await city.delete(path)).status_code == 204
    assert (await city.get(path)).status_code == 404
    assert (await city.delete(path)).status_code == 404
    assert (await city.get("/subscriptions")).json()["items"] == []
    assert await scalar(notifications_app, "SELECT count(*) FROM subscriptions WHERE deleted_at IS NOT NULL") == 1


async def test_the_database_refuses_to_delete_subscriptions_or_rewrite_attempts(notifications_app, city):
    await city.post("/subscriptions", json=body())
    for statement in ("DELETE FROM subscriptions", "UPDATE events SET subject = 'x'", "DELETE FROM delivery_attempts"):
        with pytest.raises(DBAPIError):
            async with notifications_app.state.engine.begin() as connection:
                await connection.execute(text(statement))


async def test_listing_pages(city):
    ids = [(await city.post("/subscriptions", json=body())).json()["id"] for _ in range(5)]
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await city.get("/subscriptions", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert (await city.get("/subscriptions", params={"cursor": "bm90LWEtY3Vyc29y"})).status_code == 422


async def test_a_district_cannot_move_its_subscription_to_another_district(client_for, notifications_app):
    client = client_for(DISTRICT)
    created = (await client.post("/subscriptions", json=body())).json()
    path = f"/subscriptions/{created['id']}"
    assert (await client.patch(path, json={"district_code": "500104"})).status_code == 403
    assert (await client.patch(path, json={"district_code": None})).json()["district_code"] == "500103"
    assert await scalar(notifications_app, "SELECT district_code FROM subscriptions") == "500103"
    # The city may narrow (or widen) its own to a district.
    city = (await client_for(CITY).post("/subscriptions", json=body())).json()
    moved = await client_for(CITY).patch(f"/subscriptions/{city['id']}", json={"district_code": "500104"})
    assert moved.json()["district_code"] == "500104"


async def test_the_city_cannot_point_a_districts_subscription_elsewhere(client_for):
    created = (await client_for(DISTRICT).post("/subscriptions", json=body())).json()
    path = f"/subscriptions/{created['id']}"
    response = await client_for(CITY).patch(path, json={"district_code": "500104"})
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["body", "district_code"]
    assert (await client_for(CITY).patch(path, json={"district_code": None})).status_code == 422
    assert (await client_for(CITY).get(path)).json()["district_code"] == "500103"


async def test_one_owner_holds_a_bounded_number_of_subscriptions(client_for, notifications_app):
    limit = notifications_app.state.settings.max_subscriptions_per_owner
    notifications_app.state.settings.max_subscriptions_per_owner = 2
    try:
        client = client_for(DISTRICT)
        first = (await client.post("/subscriptions", json=body())).json()
        assert (await client.post("/subscriptions", json=body())).status_code == 201
        refused = await client.post("/subscriptions", json=body())
        assert refused.status_code == 409
        # Another owner is counted apart; a deleted subscription frees its place.
        assert (await client_for(OTHER).post("/subscriptions", json=body())).status_code == 201
        assert (await client.delete(f"/subscriptions/{first['id']}")).status_code == 204
        assert (await client.post("/subscriptions", json=body())).status_code == 201
    finally:
        notifications_app.state.settings.max_subscriptions_per_owner = limit
