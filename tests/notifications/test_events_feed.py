"""The pull feed: the events a key may see, paged in the order received, its last page's cursor kept for later."""

import pytest

from tests.notifications.conftest import make_event
from tests.notifications.test_delivery import until
from tests.support import ANONYMOUS, AUDITOR, CITY, SERVICE, district

YUZHONG = district("500103")


async def read_all(client, cursor: str | None = None, **params) -> tuple[list[str], str | None]:
    seen: list[str] = []
    while True:
        page = await client.get("/events", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [item["id"] for item in body["items"]]
        if body["next_cursor"] == cursor or not body["items"]:
            return seen, body["next_cursor"]
        cursor = body["next_cursor"]


async def test_the_feed_pages_and_continues_later(client_for, worker):
    ours = [make_event(subject=f"award:{n}") for n in range(5)]
    theirs = make_event(subject="award:99", district_code="500104")
    citywide = make_event("parameter.amended", subject="parameter:p", district_code=None, source="eligibility")
    worker.add(*ours[:3], theirs, citywide)
    city = client_for(CITY)

    async def arrived():
        return len((await city.get("/events")).json()["items"]) == 5

    await until(arrived)
    seen, cursor = await read_all(client_for(YUZHONG), limit=2)
    assert seen == [event["id"] for event in ours[:3]] + [citywide["id"]]
    assert cursor is not None
    # Later events come after the kept cursor.
    worker.add(*ours[3:])

    async def more():
        return len((await city.get("/events")).json()["items"]) == 7

    await until(more)
    later, _ = await read_all(client_for(YUZHONG), cursor, limit=2)
    assert later == [event["id"] for event in ours[3:]]
    everything, _ = await read_all(client_for(AUDITOR), limit=3)
    assert len(everything) == 7 and theirs["id"] in everything
    one, _ = await read_all(city, district_code="500104")
    assert one == [theirs["id"], citywide["id"]]
    typed, _ = await read_all(city, type="parameter.amended")
    assert typed == [citywide["id"]]
    item = (await city.get("/events", params={"type": "parameter.amended"})).json()["items"][0]
    nulls = {"measure_id": None, "subject_type": None, "year": None}
    assert item == citywide | {"occurred_at": item["occurred_at"], "data": citywide["data"] | nulls}


async def test_a_district_reads_only_its_own_feed(client_for):
    assert (await client_for(YUZHONG).get("/events", params={"district_code": "500104"})).status_code == 403
    assert (await client_for(YUZHONG).get("/events", params={"district_code": "500103"})).status_code == 200


@pytest.mark.parametrize("principal", [ANONYMOUS, SERVICE])
async def test_the_feed_is_for_key_holders(client_for, principal):
    assert (await client_for(principal).get("/events")).status_code in (401, 403)


@pytest.mark.parametrize("cursor", ["bm9wZQ", "WzEsMl0x", "Wy0xLDFd", "WzEsOTIyMzM3MjAzNjg1NDc3NTgwOF0", "WyJhIiwxXQ"])
async def test_crafted_cursors_are_refused(city, cursor):
    response = await city.get("/events", params={"cursor": cursor})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]
