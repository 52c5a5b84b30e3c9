"""The SSRF guard: on create and PATCH (422, nothing written) and again at delivery time (nothing sent)."""

import asyncio
import ipaddress

import pytest

from services.notifications import urls
from tests.notifications.conftest import make_event, running_worker, scalar
from tests.support import CITY

REFUSED = [
    "http://10.0.0.1/hook",
    "http://10.255.255.255/hook",
    "http://172.16.0.1/hook",
    "http://172.31.255.1/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://192.0.2.1/hook",
    "http://224.0.0.1/hook",
    "http://255.255.255.255/hook",
    "http://[::1]/hook",
    "http://[fc00::1]/hook",
    "http://[fd12:3456::1]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://[::]/hook",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_private_and_reserved_addresses_are_refused(city, notifications_app, url):
    response = await city.post("/subscriptions", json={"url": url, "event_types": ["award.paid"]})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "url"]
    assert await scalar(notifications_app, "SELECT count(*) FROM subscriptions") == 0


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/", "http://u@127.0.0.1/", "http:///x"]
)
async def test_other_schemes_userinfo_and_no_host_are_refused(city, url):
    response = await city.post("/subscriptions", json={"url": url, "event_types": ["award.paid"]})
    assert response.status_code == 422, response.text


async def test_a_patched_url_passes_the_guard_too(city, notifications_app):
    created = await city.post("/subscriptions", json={"url": "http://127.0.0.1:9/", "event_types": ["award.paid"]})
    path = f"/subscriptions/{created.json()['id']}"
    response = await city.patch(path, json={"url": "http://192.168.0.1/hook"})
    assert response.status_code == 422
    assert (await city.get(path)).json()["url"] == "http://127.0.0.1:9/"
    assert await scalar(notifications_app, "SELECT version FROM subscriptions") == 1


async def test_the_guard_allows_only_the_networks_configured():
    intranet = [ipaddress.ip_network("10.20.0.0/16")]
    assert (await urls.check("https://10.20.1.1/hook", intranet)).addresses == (ipaddress.ip_address("10.20.1.1"),)
    for url in ("https://10.21.0.1/hook", "http://127.0.0.1/hook", "http://localhost:8080/hook"):
        with pytest.raises(urls.UrlRefused):
            await urls.check(url, intranet)
    # A public address passes (checked only: nothing is sent here).
    assert (await urls.check("https://8.8.8.8/hook", [])).port == 443
    with pytest.raises(urls.UrlRefused, match="loopback"):
        await urls.check("http://localhost/hook", [])


async def test_the_guard_runs_again_at_delivery_time(settings, client_for, receiver, feed, notifications_app):
    # Allowed when it was created; the deployment no longer allows the loopback when it is delivered.
    created = await client_for(CITY).post(
        "/subscriptions", json={"url": receiver.hook(), "event_types": ["award.proposed"]}
    )
    assert created.status_code == 201
    strict = settings.model_copy(update={"allowed_networks": [], "retry_schedule_seconds": []})
    feed.add(make_event())
    async with running_worker(strict, {"eligibility": feed}):
        for _ in range(100):
            if await scalar(notifications_app, "SELECT count(*) FROM delivery_attempts") >= 1:
                break
            await asyncio.sleep(0.1)
    assert receiver.received == [] and receiver.answered == []
    error = await scalar(notifications_app, "SELECT error FROM delivery_attempts")
    # The caller's log names the class only; why (a loopback address) is in the worker's log.
    assert error == "not sent: address not allowed"
    assert await scalar(notifications_app, "SELECT status FROM deliveries") == "dead"
