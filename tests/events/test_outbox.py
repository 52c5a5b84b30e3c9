"""The outbox: an event is written with the change or not at all, and the feed serves committed events in
(transaction, sequence) order, never letting one appear behind its cursor (the xmin horizon)."""

import asyncio
import base64
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.events import EVENT_EXAMPLE, Event, EventType, event_data, public_path
from shared.outbox import decode_cursor, encode_cursor, record_event
from tests.events.conftest import feed, feed_all, outbox
from tests.support import ANONYMOUS, AUDITOR, CITY, district

PATH = public_path("registry", "enterprises", "91500103MA5U7XXXXH")


async def stage(session, n: int, subject: str = "enterprise:91500103MA5U7XXXXH") -> None:
    await record_event(
        session,
        type=EventType.FIGURES_VERIFIED,
        district_code="500103",
        subject=subject,
        data=event_data(PATH, subject_type="enterprise", year=2025, n=n),
    )


async def test_an_event_is_written_with_its_transaction_and_not_without_it(registry_app: FastAPI):
    async with registry_app.state.sessionmaker() as session:
        await stage(session, 1)
        await session.rollback()
    assert await outbox(registry_app) == []
    async with registry_app.state.sessionmaker() as session, session.begin():
        await stage(session, 2)
    rows = await outbox(registry_app)
    assert [(row["type"], row["district_code"], row["data"]["n"]) for row in rows] == [
        ("figures.verified", "500103", 2)
    ]
    assert rows[0]["txid"] > 0 and rows[0]["data"]["links"] == {"self": PATH}


async def test_the_outbox_is_append_only(registry_app: FastAPI):
    async with registry_app.state.sessionmaker() as session, session.begin():
        await stage(session, 1)
    for statement in ("UPDATE outbox_events SET subject = 'x'", "DELETE FROM outbox_events", "TRUNCATE outbox_events"):
        with pytest.raises(DBAPIError, match="outbox_events is append-only"):
            async with registry_app.state.engine.begin() as connection:
                await connection.execute(text(statement))
    assert len(await outbox(registry_app)) == 1


async def test_a_bad_event_is_refused_in_the_producers_transaction(registry_app: FastAPI):
    async with registry_app.state.sessionmaker() as session:
        with pytest.raises(ValueError):
            await record_event(session, type=EventType.AWARD_PAID, district_code=None, subject="award:1", data={})
        with pytest.raises(ValueError):
            await record_event(
                session, type=EventType.AWARD_PAID, district_code="999999", subject="award:1", data=event_data(PATH)
            )
        with pytest.raises(ValueError):
            await record_event(
                session, type=EventType.WEBHOOK_PING, district_code=None, subject="ping", data=event_data(PATH)
            )


async def test_the_feed_serves_events_in_order_a_page_at_a_time(registry_app: FastAPI):
    for first in (0, 3, 6):  # three transactions of three events each
        async with registry_app.state.sessionmaker() as session, session.begin():
            for n in range(first, first + 3):
                await stage(session, n)
    assert len(await served_when(registry_app, 9)) == 9
    status, body = await feed(registry_app, limit=4)
    assert status == 200
    assert [item["data"]["n"] for item in body["items"]] == [0, 1, 2, 3]
    event = Event.model_validate(body["items"][0])
    assert event.source == "registry" and event.subject == "enterprise:91500103MA5U7XXXXH"
    assert event.data.links.self_ == PATH and event.data.year == 2025 and event.data.subject_type == "enterprise"
    rows = await outbox(registry_app)
    assert decode_cursor(body["cursor"]) == (rows[3]["txid"], rows[3]["seq"])
    status, rest = await feed(registry_app, after=body["cursor"])
    assert [item["data"]["n"] for item in rest["items"]] == [4, 5, 6, 7, 8]
    # Past the end: nothing, and the cursor given back.
    status, end = await feed(registry_app, after=rest["cursor"])
    assert status == 200 and end == {"items": [], "cursor": rest["cursor"]}
    assert [event["id"] for event in await feed_all(registry_app)] == [str(row["id"]) for row in rows]


async def test_an_empty_feed_from_the_start(registry_app: FastAPI):
    status, body = await feed(registry_app)
    assert status == 200 and body["items"] == [] and decode_cursor(body["cursor"]) == (0, 0)


async def served_when(app: FastAPI, count: int, within: float = 20.0) -> list[dict[str, Any]]:
    """The feed's events once it serves `count` of them. The horizon is the cluster's: a transaction of another
    database (another test run on the same server) holds the feed back until it ends, so wait for it."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        events = await feed_all(app)
        if len(events) >= count or asyncio.get_running_loop().time() > deadline:
            return events
        await asyncio.sleep(0.05)


async def test_an_open_transaction_holds_back_its_event_and_every_later_one(registry_app: FastAPI):
    sessions = registry_app.state.sessionmaker
    async with sessions() as before, before.begin():
        await stage(before, 0)
    async with sessions() as slow:
        await slow.begin()
        await stage(slow, 1)  # the slower transaction's id is the lower one
        async with sessions() as fast, fast.begin():
            await stage(fast, 2)
        # 2 is committed, but behind a transaction still running: that one could commit with a lower
        # (txid, seq) later, so neither is served; the one committed before both is.
        assert [event["data"]["n"] for event in await served_when(registry_app, 1)] == [0]
        await asyncio.sleep(0.2)
        assert [event["data"]["n"] for event in await served_when(registry_app, 3, within=0.5)] == [0]
        _, body = await feed(registry_app)
        cursor = body["cursor"]
        await slow.commit()
    assert [event["data"]["n"] for event in await served_when(registry_app, 3)] == [0, 1, 2]
    _, body = await feed(registry_app, after=cursor)
    assert [item["data"]["n"] for item in body["items"]] == [1, 2]


async def test_a_rolled_back_transaction_releases_the_feed(registry_app: FastAPI):
    sessions = registry_app.state.sessionmaker
    async with sessions() as failing:
        await failing.begin()
        await stage(failing, 1)
        async with sessions() as other, other.begin():
            await stage(other, 2)
        assert await served_when(registry_app, 1, within=0.5) == []
        await failing.rollback()
    assert [event["data"]["n"] for event in await served_when(registry_app, 1)] == [2]


@pytest.mark.parametrize(
    ("principal", "status"),
    [(None, 401), (ANONYMOUS, 401), (CITY, 403), (AUDITOR, 403), (district("500103"), 403)],
)
async def test_only_a_service_reads_the_feed(registry_app: FastAPI, principal, status):
    async with registry_app.state.sessionmaker() as session, session.begin():
        await stage(session, 1)
    from tests.support import asgi_client

    async with asgi_client(registry_app, principal) as client:
        response = await client.get("/outbox/events")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert "items" not in response.json()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "not base64 at all",
        _b64(b"12"),
        _b64(b"1.2.3"),
        _b64(b"-1.2"),
        _b64(b"01.2"),
        _b64(b"1.x"),
        _b64(b'{"id": 3}'),
        _b64(f"{2**63}.1".encode()),
        _b64(f"1.{2**63}".encode()),
        _b64("１.２".encode()),
        _b64(b"\xff\xfe"),
        _b64(b"1.2") + "==",
        "x" * 65,
    ],
)
async def test_a_cursor_the_feed_did_not_issue_is_a_422_naming_after(registry_app: FastAPI, cursor: str):
    status, body = await feed(registry_app, after=cursor)
    assert status == 422, body
    assert body["errors"][0]["loc"] == ["query", "after"]


@pytest.mark.parametrize("limit", [0, 1001, -1])
async def test_the_limit_is_bounded(registry_app: FastAPI, limit: int):
    status, body = await feed(registry_app, limit=limit)
    assert status == 422 and body["errors"][0]["loc"] == ["query", "limit"]


def test_cursors_round_trip():
    for position in [(0, 0), (1, 2), (2**63 - 1, 2**63 - 1)]:
        assert decode_cursor(encode_cursor(position)) == position


async def test_every_producer_mounts_the_feed_outside_its_document(registry_app, eligibility_app, ranking_app):
    for app in (registry_app, eligibility_app, ranking_app):
        status, body = await feed(app)
        assert status == 200 and body["items"] == []
        assert not any(path.startswith("/outbox") for path in app.openapi()["paths"])


def test_the_event_schema_is_documented():
    schema = Event.model_json_schema()
    assert schema["examples"] == [EVENT_EXAMPLE]
    Event.model_validate(EVENT_EXAMPLE)
    event_type = schema["$defs"]["EventType"]
    assert event_type["title"] == "EventType" and len(event_type["x-enum-descriptions"]) == len(EventType)
    assert all(schema["properties"][name].get("description") for name in ("id", "occurred_at", "subject"))
