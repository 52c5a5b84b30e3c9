"""Deliveries to a real receiver on 127.0.0.1: signed (Standard Webhooks), scoped, filtered, retried on the
schedule in order per subject, dead after the last try, the endpoint paused after dead deliveries in a row and
resumed with its held deliveries, redelivered by hand, pinged."""

import asyncio
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.notifications.conftest import Receiver, make_event, scalar
from tests.support import AUDITOR, CITY, district

DISTRICT = district("500103")
OTHER = district("500104")


async def subscribe(client, url: str, *types: str, **extra: Any) -> dict[str, Any]:
    response = await client.post("/subscriptions", json={"url": url, "event_types": list(types), **extra})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def deliveries(client, subscription_id: int, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(f"/subscriptions/{subscription_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def until(check, within: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached in {within} s: {value!r}")
        await asyncio.sleep(0.05)


async def test_an_event_reaches_the_endpoint_signed(client_for, receiver: Receiver, worker):
    client = client_for(DISTRICT)
    subscription = await subscribe(client, receiver.hook(), "award.proposed")
    event = make_event(measure_id="M03", subject_type="enterprise", year=2025)
    worker.add(event)
    (received,) = await receiver.wait_for(1)
    verified = Webhook(subscription["secret"]).verify(received.body, received.headers)
    assert verified == event | {"occurred_at": verified["occurred_at"]}
    assert datetime.fromisoformat(verified["occurred_at"]) == datetime.fromisoformat(event["occurred_at"])
    assert received.headers["webhook-id"] == event["id"]
    assert received.headers["Content-Type"] == "application/json"
    assert verified["type"] == "award.proposed" and verified["subject"] == "award:1"
    assert verified["data"]["links"]["self"] and verified["data"]["measure_id"] == "M03"
    # Another secret does not verify it.
    other = await subscribe(client, receiver.hook("other"), "award.paid")
    with pytest.raises(WebhookVerificationError):
        Webhook(other["secret"]).verify(received.body, received.headers)
    (delivery,) = await until(lambda: _succeeded(client, subscription["id"]))
    assert delivery["event_id"] == event["id"] and delivery["chain"] == 1
    (attempt,) = delivery["attempts"]
    assert attempt["outcome"] == "succeeded" and attempt["status_code"] == 200 and attempt["latency_ms"] >= 0


async def _succeeded(client, subscription_id: int) -> list[dict[str, Any]] | None:
    items = await deliveries(client, subscription_id)
    return items if items and all(item["status"] == "succeeded" for item in items) else None


async def test_each_endpoint_gets_only_what_it_may_see_and_asked_for(client_for, receiver: Receiver, worker):
    mine = await subscribe(client_for(DISTRICT), receiver.hook("mine"), "award.paid", "parameter.amended")
    await subscribe(client_for(OTHER), receiver.hook("theirs"), "award.paid", "parameter.amended")
    await subscribe(client_for(CITY), receiver.hook("city"), "award.paid", "parameter.amended")
    await subscribe(client_for(AUDITOR), receiver.hook("m06"), "award.paid", measure_ids=["M06"])
    await subscribe(client_for(CITY), receiver.hook("clusters"), "award.paid", subject_types=["cluster"])
    paid = make_event("award.paid", subject="award:7", measure_id="M03", subject_type="enterprise")
    amended = make_event("parameter.amended", subject="parameter:x", district_code=None)
    worker.add(paid, amended)
    await receiver.wait_for(2, "mine")
    await receiver.wait_for(2, "city")
    await receiver.wait_for(1, "theirs")  # the parameter concerns no one district: every district gets it
    await asyncio.sleep(0.5)
    assert [item.event["id"] for item in receiver.at("mine")] == [paid["id"], amended["id"]]
    assert [item.event["id"] for item in receiver.at("theirs")] == [amended["id"]]
    assert receiver.at("m06") == [] and receiver.at("clusters") == []
    assert len(await deliveries(client_for(DISTRICT), mine["id"])) == 2


async def test_failures_are_retried_on_the_schedule_in_order_per_subject(
    client_for, receiver: Receiver, worker, notifications_app
):
    client = client_for(CITY)
    subscription = await subscribe(client, receiver.hook(), "award.proposed", "award.approved", "award.paid")
    receiver.plan["/hook"] = [500, 503]
    first = make_event("award.proposed", subject="award:1")
    second = make_event("award.approved", subject="award:1")
    third = make_event("award.paid", subject="award:1")
    elsewhere = make_event("award.proposed", subject="award:2")
    worker.add(first, second, third, elsewhere)
    await receiver.wait_for(4, within=30)
    order = [item.event["id"] for item in receiver.at() if item.event["subject"] == "award:1"]
    assert order == [first["id"], second["id"], third["id"]]
    # Every try under the same webhook-id.
    assert len({item.headers["webhook-id"] for item in receiver.at()}) == 4
    items = {item["event_id"]: item for item in await until(lambda: _succeeded(client, subscription["id"]))}
    tries = sum(len(item["attempts"]) for item in items.values())
    assert tries == 6  # two failures, then four successes
    failed = [attempt for item in items.values() for attempt in item["attempts"] if attempt["outcome"] == "failed"]
    assert sorted(attempt["status_code"] for attempt in failed) == [500, 503]
    assert all(attempt["error"] == f"HTTP {attempt['status_code']}" for attempt in failed)
    # The retry waited for the schedule (0.3 s) after the failure.
    retried = next(item for item in items.values() if len(item["attempts"]) > 1)
    times = [attempt["at"] for attempt in retried["attempts"]]
    gaps = [(datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() for a, b in pairwise(times)]
    assert all(gap >= 0.25 for gap in gaps), gaps


async def test_dead_letter_auto_pause_resume_and_redelivery(client_for, receiver: Receiver, worker, notifications_app):
    client = client_for(DISTRICT)
    subscription = await subscribe(client, receiver.hook(), "award.proposed")
    path = f"/subscriptions/{subscription['id']}"
    receiver.plan["/hook"] = [500] * 6  # three tries of each of two deliveries
    first = make_event(subject="award:1")
    second = make_event(subject="award:2")
    worker.add(first, second)

    async def paused() -> dict[str, Any] | None:
        current = (await client.get(path)).json()
        return current if current["status"] == "paused" else None

    current = await until(paused, within=30)
    assert current["paused_reason"] == "failing" and current["consecutive_dead"] == 2
    dead = await deliveries(client, subscription["id"], status="dead")
    assert len(dead) == 2 and all(len(item["attempts"]) == 3 for item in dead)
    assert [attempt["attempt"] for attempt in dead[0]["attempts"]] == [1, 2, 3]
    # Later events are held while it is paused.
    third = make_event(subject="award:3")
    worker.add(third)
    held = await until(lambda: deliveries(client, subscription["id"], status="held"))
    assert [item["event_id"] for item in held] == [third["id"]]
    await asyncio.sleep(0.3)
    assert receiver.received == []
    # A redelivery while paused is held too.
    redelivered = await client.post(f"/deliveries/{dead[0]['id']}/redeliver")
    assert redelivered.status_code == 202 and redelivered.json()["status"] == "held"
    # Resumed: the held deliveries go, in order.
    resumed = await client.patch(path, json={"status": "active"}, headers={"If-Match": f'"{current["version"]}"'})
    assert resumed.status_code == 200 and resumed.json()["consecutive_dead"] == 0
    received = await receiver.wait_for(2)
    assert {item.event["id"] for item in received} == {first["id"], third["id"]}
    # The second dead one is sent again by hand, as a new chain under the same webhook-id.
    again = await client.post(f"/deliveries/{dead[1]['id']}/redeliver")
    assert again.status_code == 202 and again.json()["chain"] == 2
    received = await receiver.wait_for(3)
    assert received[-1].headers["webhook-id"] == second["id"]
    done = await until(lambda: _succeeded(client, subscription["id"]))
    redone = next(item for item in done if item["event_id"] == second["id"])
    assert [(a["chain"], a["outcome"]) for a in redone["attempts"]] == [(1, "failed")] * 3 + [(2, "succeeded")]
    # A delivery being tried or already held cannot be redelivered; nor another district's.
    assert (await client_for(OTHER).post(f"/deliveries/{redone['id']}/redeliver")).status_code == 403
    assert (await client.post("/deliveries/999999/redeliver")).status_code == 404


async def test_a_pending_delivery_is_not_redelivered(client_for, notifications_app, settings):
    client = client_for(CITY)
    subscription = await subscribe(client, "http://127.0.0.1:9/hook", "award.paid")
    ping = await client.post(f"/subscriptions/{subscription['id']}/ping")  # no worker: it stays pending
    assert ping.status_code == 202 and ping.json()["status"] == "pending"
    assert (await client.post(f"/deliveries/{ping.json()['id']}/redeliver")).status_code == 409


async def test_ping_reaches_only_that_subscription_even_paused(client_for, receiver: Receiver, worker):
    client = client_for(DISTRICT)
    subscription = await subscribe(client, receiver.hook(), "award.paid")
    await subscribe(client, receiver.hook("other"), "award.paid")
    await client.patch(f"/subscriptions/{subscription['id']}", json={"status": "paused"})
    response = await client.post(f"/subscriptions/{subscription['id']}/ping")
    assert response.status_code == 202, response.text
    assert response.json()["event_type"] == "webhook.ping"
    (received,) = await receiver.wait_for(1)
    event = Webhook(subscription["secret"]).verify(received.body, received.headers)
    assert event["type"] == "webhook.ping" and event["source"] == "notifications"
    assert event["data"]["links"]["self"] == f"/api/v1/notifications/subscriptions/{subscription['id']}"
    await asyncio.sleep(0.3)
    assert receiver.at("other") == []
    # Pings are not events of the system: the feed never lists them.
    assert (await client.get("/events")).json()["items"] == []


async def test_redirects_are_not_followed(client_for, receiver: Receiver, worker, notifications_app):
    client = client_for(CITY)
    subscription = await subscribe(client, receiver.hook(), "award.proposed")
    receiver.plan["/hook"] = [302, 302, 302]
    worker.add(make_event())
    dead = await until(lambda: deliveries(client, subscription["id"], status="dead"), within=30)
    assert [attempt["status_code"] for attempt in dead[0]["attempts"]] == [302, 302, 302]
    assert receiver.answered == [("/hook", 302)] * 3  # nothing went to the Location


async def test_a_deleted_subscription_gets_nothing_more(client_for, receiver: Receiver, worker, notifications_app):
    client = client_for(CITY)
    subscription = await subscribe(client, receiver.hook(), "award.proposed")
    await client.patch(f"/subscriptions/{subscription['id']}", json={"status": "paused"})
    worker.add(make_event())
    await until(lambda: scalar(notifications_app, "SELECT count(*) FROM deliveries WHERE status = 'held'"))
    assert (await client.delete(f"/subscriptions/{subscription['id']}")).status_code == 204
    assert await scalar(notifications_app, "SELECT status FROM deliveries") == "cancelled"
    worker.add(make_event())
    await asyncio.sleep(0.5)
    assert receiver.received == []
    assert await scalar(notifications_app, "SELECT count(*) FROM deliveries") == 1
