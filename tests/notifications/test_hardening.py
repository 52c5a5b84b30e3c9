"""The review fixes of issue 17: a total deadline per try; the breaker on failed tries in a row; the auditor
read-only on others' subscriptions; a ping tried once; the relay never waiting on a URL check; ports and coarse
errors; IPv6 forms that embed a private IPv4 address."""

import asyncio
import contextlib
import ipaddress
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.notifications import urls
from services.notifications.deliveries import task
from services.notifications.relay.service import prepare, relay_batch
from services.notifications.subscriptions.service import new_secret
from services.notifications.worker import make_clients
from tests.notifications.conftest import Feed, Receiver, make_event, running_worker, scalar
from tests.notifications.test_delivery import deliveries, subscribe, until
from tests.support import AUDITOR, CITY, district

DISTRICT = district("500103")


# ---- H1: one deadline for the whole try ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def dripping(head: bytes, drip: bytes, every: float = 0.2) -> AsyncIterator[str]:
    """A server that answers `head` at once, then one byte of `drip` every `every` seconds (for 30 s)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.read(65536)
            writer.write(head)
            await writer.drain()
            for _ in range(int(30 / every)):
                writer.write(drip)
                await writer.drain()
                await asyncio.sleep(every)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        server.close()


def _prepared(url: str) -> task.Prepared:
    return task.Prepared(url=url, secret=new_secret(), event_id=str(uuid.uuid4()), body='{"a": 1}', ping=False)


async def test_a_receiver_dripping_its_headers_is_cut_off_at_the_deadline(settings):
    quick = settings.model_copy(update={"delivery_timeout_seconds": 1.0})
    clients = task.WebhookClients.make(quick)  # httpx's read timeout is 1 s too: a byte every 0.2 s never trips it
    try:
        async with dripping(b"HTTP/1.1 200 OK\r\nX-Drip: ", b"a") as url:
            started = time.monotonic()
            result = await asyncio.wait_for(task._try(clients.http, quick, _prepared(url)), 10)
            elapsed = time.monotonic() - started
    finally:
        await clients.aclose()
    assert result == (None, "timeout")
    assert elapsed < 2.5, elapsed


async def test_the_answer_body_is_never_waited_for(settings):
    clients = task.WebhookClients.make(settings)
    try:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n"
        async with dripping(head, b"x") as url:
            result = await asyncio.wait_for(task._try(clients.http, settings, _prepared(url)), 10)
    finally:
        await clients.aclose()
    assert result == (200, None)


# ---- H2: the breaker on failed tries in a row ------------------------------------------------------------------


async def test_failed_tries_in_a_row_pause_the_endpoint_long_before_a_delivery_dies(
    settings, client_for, receiver: Receiver, feed: Feed, notifications_app
):
    breaker = settings.model_copy(
        update={"pause_after_failed_tries": 3, "pause_after_dead": 100, "retry_schedule_seconds": [0.3] * 5}
    )
    client = client_for(DISTRICT)
    subscription = await subscribe(client, receiver.hook(), "award.proposed")
    path = f"/subscriptions/{subscription['id']}"
    receiver.plan["/hook"] = [500] * 10
    first, second = make_event(subject="award:1"), make_event(subject="award:2")
    feed.add(first, second)

    async def paused() -> dict[str, Any] | None:
        current = (await client.get(path)).json()
        return current if current["status"] == "paused" else None

    async with running_worker(breaker, {"eligibility": feed}):
        current = await until(paused, within=30)
        # The third failure in a row paused it (a try already under way when it did may add one).
        assert current["paused_reason"] == "failing" and current["consecutive_failures"] in (3, 4)
        assert current["consecutive_dead"] == 0  # six tries each: none died
        # Both are held: the one waiting for its retry too, and nothing more is tried.
        held = await until(
            lambda: _all_held(client, subscription["id"]),
            within=10,
        )
        assert {item["event_id"] for item in held} == {first["id"], second["id"]}
        tried = len(receiver.answered)
        assert tried in (3, 4)
        await asyncio.sleep(0.8)
        assert len(receiver.answered) == tried
        receiver.plan["/hook"] = []
        third = make_event(subject="award:3")
        feed.add(third)
        await until(lambda: _count_held(client, subscription["id"], 3))
        # Resumed: every held delivery goes.
        resumed = await client.patch(path, json={"status": "active"})
        assert resumed.status_code == 200 and resumed.json()["consecutive_failures"] == 0
        received = await receiver.wait_for(3)
    assert {item.event["id"] for item in received} == {first["id"], second["id"], third["id"]}


async def _all_held(client, subscription_id: int) -> list[dict[str, Any]] | None:
    items = await deliveries(client, subscription_id)
    return items if len(items) == 2 and all(item["status"] == "held" for item in items) else None


async def _count_held(client, subscription_id: int, count: int) -> bool:
    return len(await deliveries(client, subscription_id, status="held")) == count


async def test_a_success_resets_the_failed_tries(settings, client_for, receiver: Receiver, feed: Feed):
    breaker = settings.model_copy(update={"pause_after_failed_tries": 3, "retry_schedule_seconds": [0.2] * 3})
    client = client_for(DISTRICT)
    subscription = await subscribe(client, receiver.hook(), "award.proposed")
    path = f"/subscriptions/{subscription['id']}"
    receiver.plan["/hook"] = [500, 500]
    async with running_worker(breaker, {"eligibility": feed}):
        feed.add(make_event(subject="award:1"))
        await receiver.wait_for(1)
        await until(lambda: _succeeded_count(client, subscription["id"], 1))
        assert (await client.get(path)).json()["consecutive_failures"] == 0
        receiver.plan["/hook"] = [500, 500]
        feed.add(make_event(subject="award:2"))
        await receiver.wait_for(2)
        await until(lambda: _succeeded_count(client, subscription["id"], 2))
    current = (await client.get(path)).json()
    assert current["status"] == "active" and current["consecutive_failures"] == 0  # four failures, never 3 in a row


async def _succeeded_count(client, subscription_id: int, count: int) -> bool:
    return len(await deliveries(client, subscription_id, status="succeeded")) == count


# ---- M4: the auditor is read-only on the city's and the districts' subscriptions -----------------------------


async def test_the_auditor_reads_every_subscription_but_manages_only_its_own(client_for, notifications_app):
    auditor = client_for(AUDITOR)
    theirs = [
        await subscribe(client_for(CITY), "http://127.0.0.1:9/city", "award.paid"),
        await subscribe(client_for(DISTRICT), "http://127.0.0.1:9/district", "award.paid"),
    ]
    city_ping = await client_for(CITY).post(f"/subscriptions/{theirs[0]['id']}/ping")
    assert city_ping.status_code == 202
    before = await scalar(notifications_app, "SELECT count(*) FROM deliveries")
    for subscription in theirs:
        path = f"/subscriptions/{subscription['id']}"
        assert (await auditor.get(path)).status_code == 200
        assert (await auditor.get(f"{path}/deliveries")).status_code == 200
        for response in (
            await auditor.patch(path, json={"url": "http://127.0.0.1:9/mine"}),
            await auditor.patch(path, json={"status": "paused"}),
            await auditor.delete(path),
            await auditor.post(f"{path}/ping"),
        ):
            assert response.status_code == 403, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "read-only" in response.json()["detail"]
    assert (await auditor.post(f"/deliveries/{city_ping.json()['id']}/redeliver")).status_code == 403
    # Nothing written.
    assert await scalar(notifications_app, "SELECT count(*) FROM deliveries") == before
    assert await scalar(notifications_app, "SELECT max(version) FROM subscriptions") == 1
    assert await scalar(notifications_app, "SELECT count(*) FROM subscriptions WHERE deleted_at IS NOT NULL") == 0
    # Its own: created, changed, pinged, deleted.
    mine = await subscribe(auditor, "http://127.0.0.1:9/auditor", "award.paid")
    path = f"/subscriptions/{mine['id']}"
    assert (await auditor.patch(path, json={"status": "paused"})).status_code == 200
    assert (await auditor.post(f"{path}/ping")).status_code == 202
    assert (await auditor.delete(path)).status_code == 204
    # The city still manages every one.
    assert (
        await client_for(CITY).patch(f"/subscriptions/{theirs[1]['id']}", json={"status": "paused"})
    ).status_code == 200


# ---- L3: a ping is one try, never counted ----------------------------------------------------------------------


async def test_a_failed_ping_is_tried_once_and_never_counted(client_for, receiver: Receiver, worker):
    client = client_for(DISTRICT)
    subscription = await subscribe(client, receiver.hook(), "award.paid")
    receiver.plan["/hook"] = [500, 500, 500]
    response = await client.post(f"/subscriptions/{subscription['id']}/ping")
    assert response.status_code == 202
    (dead,) = await until(lambda: deliveries(client, subscription["id"], status="dead"))
    assert [(attempt["attempt"], attempt["status_code"]) for attempt in dead["attempts"]] == [(1, 500)]
    await asyncio.sleep(0.8)  # the schedule's two waits (0.3 s): no second try
    assert receiver.answered == [("/hook", 500)]
    current = (await client.get(f"/subscriptions/{subscription['id']}")).json()
    assert current["consecutive_failures"] == 0 and current["consecutive_dead"] == 0
    assert current["status"] == "active"


# ---- M1: the relay never resolves a name, nor waits on a URL being checked --------------------------------------


@pytest.fixture
async def relay_source(settings, feed: Feed, notifications_app) -> AsyncIterator[Any]:
    clients = make_clients(settings, {"eligibility": httpx.ASGITransport(app=feed)})
    sessions = notifications_app.state.sessionmaker
    await prepare(sessions, {"eligibility": clients.sources["eligibility"]})

    async def batch() -> int:
        return await relay_batch(sessions, "eligibility", clients.sources["eligibility"], 100)

    try:
        yield batch
    finally:
        await clients.aclose()


async def test_the_relay_does_no_dns_and_no_url_check(
    client_for, feed: Feed, relay_source, notifications_app, monkeypatch
):
    await subscribe(client_for(CITY), "http://localhost:9/hook", "award.proposed")
    calls: list[str] = []

    async def no_check(*args: Any, **kwargs: Any) -> Any:
        calls.append("check")
        raise AssertionError("the relay checked a URL")

    def no_dns(*args: Any, **kwargs: Any) -> Any:
        calls.append("dns")
        raise AssertionError("the relay resolved a name")

    monkeypatch.setattr(urls, "check", no_check)
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", no_dns)
    feed.add(make_event(), make_event(subject="award:2"))
    assert await relay_source() == 2
    assert calls == []
    assert await scalar(notifications_app, "SELECT count(*) FROM deliveries") == 2


async def test_a_url_slow_to_resolve_never_holds_the_relay(client_for, feed: Feed, relay_source, monkeypatch):
    client = client_for(DISTRICT)
    subscription = await subscribe(client, "http://127.0.0.1:9/hook", "award.proposed")
    real = urls.check

    async def slow(url: str, *args: Any, **kwargs: Any) -> urls.Endpoint:
        await asyncio.sleep(2)  # a name whose DNS answers late
        return await real(url, *args, **kwargs)

    monkeypatch.setattr(urls, "check", slow)
    patching = asyncio.create_task(
        client.patch(f"/subscriptions/{subscription['id']}", json={"url": "http://127.0.0.1:9/slow"})
    )
    await asyncio.sleep(0.3)
    feed.add(make_event())
    started = time.monotonic()
    assert await relay_source() == 1
    assert time.monotonic() - started < 1.0
    assert (await patching).status_code == 200


# ---- M3 / L1: ports, coarse errors, IPv6 forms embedding private IPv4 -------------------------------------------


@pytest.mark.parametrize("url", ["http://8.8.8.8:22/", "https://8.8.8.8:6379/", "http://8.8.8.8:5432/hook"])
async def test_other_ports_are_refused_outside_the_allowed_networks(city, notifications_app, url):
    response = await city.post("/subscriptions", json={"url": url, "event_types": ["award.paid"]})
    assert response.status_code == 422, response.text
    assert "port" in response.json()["errors"][0]["msg"]
    assert await scalar(notifications_app, "SELECT count(*) FROM subscriptions") == 0


async def test_ports_80_and_443_and_any_port_inside_an_allowed_network():
    assert (await urls.check("http://8.8.8.8/", [])).port == 80
    assert (await urls.check("https://8.8.8.8/", [])).port == 443
    assert (await urls.check("https://8.8.8.8:8443/", [], ports=(8443,))).port == 8443
    intranet = [ipaddress.ip_network("10.20.0.0/16")]
    assert (await urls.check("http://10.20.1.1:8080/", intranet)).port == 8080


@pytest.mark.parametrize(
    "url",
    [
        "http://[2002:a00:1::1]/hook",  # 6to4 of 10.0.0.1
        "http://[2002:c0a8:101::]/hook",  # 6to4 of 192.168.1.1
        "http://[2002:a9fe:a9fe::1]/hook",  # 6to4 of 169.254.169.254
        "http://[64:ff9b::a00:1]/hook",  # NAT64 of 10.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254
        "http://[::a00:1]/hook",  # IPv4-compatible 10.0.0.1
        "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/hook",  # Teredo, client 10.0.0.1
    ],
)
async def test_ipv6_forms_embedding_a_private_ipv4_are_refused(city, url):
    response = await city.post("/subscriptions", json={"url": url, "event_types": ["award.paid"]})
    assert response.status_code == 422, response.text


async def test_a_6to4_address_of_a_public_ipv4_passes():
    assert (await urls.check("http://[2002:808:808::1]/hook", [])).port == 80


async def test_the_log_shows_a_class_of_error_only(settings, client_for, feed: Feed, notifications_app):
    closed = settings.model_copy(update={"retry_schedule_seconds": []})
    client = client_for(CITY)
    await subscribe(client, "http://127.0.0.1:9/hook", "award.proposed")  # nothing listens on port 9
    feed.add(make_event())
    async with running_worker(closed, {"eligibility": feed}):
        await until(lambda: scalar(notifications_app, "SELECT count(*) FROM delivery_attempts"))
    assert await scalar(notifications_app, "SELECT error FROM delivery_attempts") == "connection refused"
    assert await scalar(notifications_app, "SELECT last_error FROM deliveries") == "connection refused"


def test_the_new_settings_read_from_the_environment(monkeypatch):
    from services.notifications.settings import NotificationsSettings

    monkeypatch.setenv("NOTIFICATIONS_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/unused")
    defaults = NotificationsSettings()
    assert defaults.allowed_ports == [80, 443] and defaults.pause_after_failed_tries == 10
    assert defaults.pause_after_failed_tries > 3  # the e2e receiver fails its first three deliveries
    monkeypatch.setenv("NOTIFICATIONS_ALLOWED_PORTS", "443,8443")
    monkeypatch.setenv("NOTIFICATIONS_PAUSE_AFTER_FAILED_TRIES", "12")
    changed = NotificationsSettings()
    assert changed.allowed_ports == [443, 8443] and changed.pause_after_failed_tries == 12
    monkeypatch.setenv("NOTIFICATIONS_ALLOWED_PORTS", "[443]")
    assert NotificationsSettings().allowed_ports == [443]
    monkeypatch.setenv("NOTIFICATIONS_ALLOWED_PORTS", "0")
    with pytest.raises(ValueError, match="port"):
        NotificationsSettings()
