"""The relay: the producers' outbox feeds into this service, each event stored and delivered once (read again after
a restart, or by two replicas at once); the real registry's feed; a feed that is down or gives what it cannot read."""

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from standardwebhooks import Webhook

from services.eligibility import SERVICE_DIR as ELIGIBILITY_DIR
from services.eligibility.main import create_app as create_eligibility_app
from services.eligibility.settings import EligibilitySettings
from services.notifications.relay.service import Backoff, prepare, relay_round
from services.notifications.worker import make_clients
from tests.notifications.conftest import Feed, Receiver, make_event, running_worker, scalar
from tests.notifications.test_delivery import subscribe, until
from tests.registry.factories import enterprise, year_figures
from tests.support import AUDITOR, CITY, REGISTRY_TABLES, TestDatabase, asgi_client, district, truncate


async def test_an_event_read_twice_is_stored_and_delivered_once(
    settings, client_for, receiver: Receiver, notifications_app
):
    await subscribe(client_for(CITY), receiver.hook(), "award.paid")
    event = make_event("award.paid")
    feed = Feed()
    feed.add(event, event)  # the producer's feed repeats it (e.g. a cursor lost and read from the start)
    async with running_worker(settings, {"eligibility": feed}):
        await receiver.wait_for(1)
    # A relay that starts over from the beginning of the feed stores nothing twice.
    await notifications_app.state.engine.dispose()
    async with notifications_app.state.engine.begin() as connection:
        await connection.execute(text("UPDATE relay_cursors SET cursor = NULL"))
    async with running_worker(settings, {"eligibility": feed}):
        await until(lambda: _cursor_moved(notifications_app))
        await asyncio.sleep(0.5)
    assert len(receiver.received) == 1
    assert await scalar(notifications_app, "SELECT count(*) FROM events") == 1
    assert await scalar(notifications_app, "SELECT count(*) FROM deliveries") == 1


async def _cursor_moved(app: FastAPI) -> bool:
    return bool(await scalar(app, "SELECT count(*) FROM relay_cursors WHERE cursor IS NOT NULL"))


async def test_two_relays_share_a_feed_without_doubles(settings, client_for, receiver: Receiver, notifications_app):
    await subscribe(client_for(CITY), receiver.hook(), "award.proposed")
    feed = Feed()
    events = [make_event(subject=f"award:{n}") for n in range(60)]
    small = settings.model_copy(update={"relay_batch": 7})
    async with running_worker(small, {"eligibility": feed}), running_worker(small, {"eligibility": feed}):
        feed.add(*events[:30])
        await asyncio.sleep(0.2)
        feed.add(*events[30:])
        received = await receiver.wait_for(60, within=40)
    await asyncio.sleep(0.3)
    assert sorted(item.event["id"] for item in receiver.received) == sorted(event["id"] for event in events)
    assert len(received) == 60
    assert await scalar(notifications_app, "SELECT count(*) FROM deliveries") == 60


async def test_a_feed_down_or_unreadable_holds_nothing_else_back(settings, notifications_app, client_for):
    await subscribe(client_for(CITY), "http://127.0.0.1:9/hook", "award.paid")
    good = Feed()
    good.add(make_event("award.paid"))

    async def down(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    odd = Feed()
    odd.add({"id": "not-a-uuid", "type": "award.paid"}, make_event("award.paid", source="ranking"))
    clients = make_clients(
        settings,
        {
            "registry": httpx.ASGITransport(app=down),
            "ranking": httpx.ASGITransport(app=odd),
            "eligibility": httpx.ASGITransport(app=good),
        },
    )
    sessions = notifications_app.state.sessionmaker
    try:
        await prepare(sessions, clients.sources)
        await relay_round(sessions, clients.sources, 100)
    finally:
        await clients.aclose()
    # The feed that is down is retried next round; the unreadable item is skipped, the rest relayed.
    assert await scalar(notifications_app, "SELECT count(*) FROM events") == 2
    assert await scalar(notifications_app, "SELECT cursor FROM relay_cursors WHERE source = 'registry'") is None
    assert await scalar(notifications_app, "SELECT relayed FROM relay_cursors WHERE source = 'ranking'") == 1


@contextlib.asynccontextmanager
async def _registry_emptied(registry_app: FastAPI):
    try:
        yield
    finally:
        await truncate(registry_app, (*REGISTRY_TABLES, "outbox_events"))


async def test_the_real_registry_feed_reaches_the_right_district(
    settings, client_for, receiver: Receiver, registry_app: FastAPI, notifications_app
):
    """The registry's own outbox (figures.verified when the city verifies a district's figures), pulled over its
    real feed, signed as the service."""
    yuzhong = await subscribe(client_for(district("500103")), receiver.hook("yuzhong"), "figures.verified")
    await subscribe(client_for(district("500104")), receiver.hook("dadukou"), "figures.verified")
    await subscribe(client_for(CITY), receiver.hook("city"), "figures.verified", subject_types=["enterprise"])
    async with _registry_emptied(registry_app):
        writer = asgi_client(registry_app, district("500103"))
        city = asgi_client(registry_app, CITY)
        body = enterprise("500103")
        assert (await writer.post("/enterprises", json=body)).status_code == 201
        put = await writer.put(f"/enterprises/{body['uscc']}/years/2025", json=year_figures())
        assert put.status_code in (200, 201), put.text
        verified = await city.post(f"/enterprises/{body['uscc']}/years/2025/verification", json={"decision": "verify"})
        assert verified.status_code == 200, verified.text
        async with running_worker(settings, {"registry": registry_app}):
            (received,) = await receiver.wait_for(1, "yuzhong")
            await receiver.wait_for(1, "city")
            await asyncio.sleep(0.5)
        event = Webhook(yuzhong["secret"]).verify(received.body, received.headers)
        assert event["type"] == "figures.verified" and event["source"] == "registry"
        assert event["district_code"] == "500103" and event["subject"] == f"enterprise:{body['uscc']}"
        # The link is the enterprise, whose GET shows the year's figures and their verification.
        assert event["data"]["links"]["self"] == f"/api/v1/registry/enterprises/{body['uscc']}"
        assert receiver.at("dadukou") == []
        # The pull feed shows the same event.
        feed = (await client_for(district("500103")).get("/events")).json()
        assert [item["id"] for item in feed["items"]] == [event["id"]]
        assert (await client_for(district("500104")).get("/events")).json()["items"] == []


@pytest.fixture(scope="module")
def own_eligibility_database() -> Iterator[TestDatabase]:
    """An eligibility database of this module's own: its parameters are amended here, which the shared app's other
    tests must not see."""
    yield from TestDatabase("eligibility", ELIGIBILITY_DIR).lifecycle()


async def test_the_real_eligibility_feed_reaches_every_district(
    settings, client_for, receiver: Receiver, own_eligibility_database: TestDatabase
):
    """parameter.amended (the city records a new value of a parameter) concerns no one district: every district's
    subscription to it gets it, filtered by its measure."""
    eligibility = create_eligibility_app(
        EligibilitySettings(database_url=own_eligibility_database.url, environment="test")
    )
    await subscribe(client_for(district("500103")), receiver.hook("yuzhong"), "parameter.amended")
    await subscribe(client_for(district("500104")), receiver.hook("dadukou"), "parameter.amended")
    await subscribe(client_for(AUDITOR), receiver.hook("m06"), "parameter.amended", measure_ids=["M06"])
    async with eligibility.router.lifespan_context(eligibility):
        amended = await asgi_client(eligibility, CITY).post(
            "/parameters/m13.ratio/values",
            json={"effective_from": "2026-07-01", "value": "0.25", "reason": "2026 budget: 25% for events"},
        )
        assert amended.status_code == 201, amended.text
        async with running_worker(settings, {"eligibility": eligibility}):
            (yuzhong,) = await receiver.wait_for(1, "yuzhong")
            (dadukou,) = await receiver.wait_for(1, "dadukou")
            await asyncio.sleep(0.5)
    assert yuzhong.event == dadukou.event
    event = yuzhong.event
    assert event["type"] == "parameter.amended" and event["source"] == "eligibility"
    assert event["district_code"] is None and event["subject"] == "parameter:m13.ratio"
    assert event["data"]["measure_id"] == "M13" and event["data"]["links"]["self"].startswith("/api/v1/eligibility/")
    assert receiver.at("m06") == []


def test_a_failing_source_is_left_alone_longer_each_time():
    backoff = Backoff()
    assert backoff.ready("registry")
    assert [backoff.failed("registry", 0.5) for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert not backoff.ready("registry") and backoff.ready("ranking")
    backoff.succeeded("registry")
    assert backoff.ready("registry") and backoff.failed("registry", 0.5) == 0.5


async def test_the_relay_holds_no_transaction_id_while_it_reads_a_feed(settings, notifications_app):
    """The producers' feeds show what committed before the oldest running transaction id of the whole server: a
    relay that held one while it waited for a feed would hold every feed back."""
    seen: list[int] = []

    async def feed(scope: Any, receive: Any, send: Any) -> None:
        seen.append(
            await scalar(
                notifications_app,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()",
            )
        )
        body = b'{"items": [], "cursor": "MA"}'
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    clients = make_clients(settings, {"registry": httpx.ASGITransport(app=feed)})
    sessions = notifications_app.state.sessionmaker
    try:
        await prepare(sessions, clients.sources)
        await relay_round(sessions, clients.sources, 100)
    finally:
        await clients.aclose()
    assert seen == [0]
    assert await scalar(notifications_app, "SELECT cursor FROM relay_cursors") == "MA"
