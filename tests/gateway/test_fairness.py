"""One client cannot crowd out the others: a cap on its requests in flight, and a strict bucket for wrong keys."""

import asyncio

import pytest

from gateway.fairness import ConcurrencyCap, FailureBlocks
from gateway.proxy import GatewayState
from tests.gateway.helpers import ServerThread, bearer, make_key, running_gateway, settings_for
from tests.support import TestDatabase, free_port

WRONG_KEY = "cqk_000000000000_" + "x" * 43


def test_the_cap_counts_each_client_and_forgets_idle_ones() -> None:
    cap = ConcurrencyCap(2)
    assert cap.try_acquire("a") and cap.try_acquire("a")
    assert not cap.try_acquire("a")
    assert cap.try_acquire("b")
    cap.release("a")
    assert cap.try_acquire("a")
    for client in ("a", "a", "b"):
        cap.release(client)
    assert cap.in_flight("a") == cap.in_flight("b") == 0 and cap.total() == (0, 0)


def test_a_block_lasts_its_time() -> None:
    blocks = FailureBlocks()
    assert blocks.remaining("198.51.100.1") == 0
    blocks.block("198.51.100.1", 30)
    assert 29 < blocks.remaining("198.51.100.1") <= 30
    assert blocks.remaining("198.51.100.2") == 0
    blocks.block("198.51.100.3", -1)
    assert blocks.remaining("198.51.100.3") == 0


async def test_one_client_holding_slow_requests_cannot_stop_another(
    gateway_db: TestDatabase, echoes: dict[str, ServerThread]
) -> None:
    settings = settings_for(
        gateway_db.url,
        registry_url=echoes["registry"].url,
        eligibility_url=echoes["eligibility"].url,
        max_concurrent_per_client=3,
    )
    async with running_gateway(settings) as (app, client):
        greedy, other = await make_key(app, "city"), await make_key(app, "city")
        state: GatewayState = app.state.gateway
        slow = [
            asyncio.create_task(client.get("/api/v1/registry/slow", params={"seconds": 1.5}, headers=bearer(greedy)))
            for _ in range(3)
        ]
        await asyncio.sleep(0.3)
        refused = await client.get("/api/v1/registry/things/1", headers=bearer(greedy))
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["type"] == "/problems/too-many-concurrent"
        served = await client.get("/api/v1/registry/things/2", headers=bearer(other))
        assert served.status_code == 200
        # Without a key, the caller's address is the client: its own places, not the key's.
        assert (await client.get("/api/v1/eligibility/measures")).status_code == 200
        assert [answer.status_code for answer in await asyncio.gather(*slow)] == [200] * 3
        assert (await client.get("/api/v1/registry/things/3", headers=bearer(greedy))).status_code == 200
        assert state.concurrency.total() == (0, 0)


async def test_every_way_out_gives_the_place_back(gateway_db: TestDatabase, echo: ServerThread) -> None:
    """Answered, refused upstream, the upstream down, and the caller gone mid-request: the count is back at 0."""
    settings = settings_for(
        gateway_db.url,
        registry_url=echo.url,
        ranking_url=f"http://127.0.0.1:{free_port()}",
        max_concurrent_per_client=1,
    )
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        state: GatewayState = app.state.gateway
        assert (await client.get("/api/v1/registry/things/1", headers=bearer(key))).status_code == 200
        assert (await client.get("/api/v1/registry/things/x", headers=bearer(key))).status_code == 422
        assert (await client.get("/api/v1/ranking/methodologies", headers=bearer(key))).status_code == 503
        gone = asyncio.create_task(client.get("/api/v1/registry/slow", params={"seconds": 5}, headers=bearer(key)))
        await asyncio.sleep(0.3)
        assert state.concurrency.total() == (1, 1)
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        await asyncio.sleep(0.1)
        assert state.concurrency.total() == (0, 0)
        assert (await client.get("/api/v1/registry/things/2", headers=bearer(key))).status_code == 200


async def test_wrong_keys_run_dry_then_any_key_from_that_address_waits(
    gateway_db: TestDatabase, echoes: dict[str, ServerThread]
) -> None:
    """Addresses are told apart by a trusted proxy's X-Forwarded-For (the in-process client is 203.0.113.7)."""
    settings = settings_for(
        gateway_db.url,
        registry_url=echoes["registry"].url,
        eligibility_url=echoes["eligibility"].url,
        auth_failure_burst=3,
        auth_failure_per_second=0.1,
        trusted_proxies=["203.0.113.7"],
    )
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        guesser, elsewhere = {"X-Forwarded-For": "198.51.100.66"}, {"X-Forwarded-For": "198.51.100.77"}
        statuses = []
        for _ in range(6):
            answer = await client.get("/api/v1/registry/districts", headers={**bearer(WRONG_KEY), **guesser})
            statuses.append(answer.status_code)
        assert statuses == [401, 401, 401, 429, 429, 429]
        assert answer.json()["type"] == "/problems/auth-failures"
        assert 1 <= int(answer.headers["retry-after"]) <= 10
        # Refused before the key is looked up: even the right key waits at that address…
        assert (await client.get("/api/v1/registry/districts", headers={**bearer(key), **guesser})).status_code == 429
        # …while another address is served, and the address keeps its anonymous access.
        assert (await client.get("/api/v1/registry/districts", headers={**bearer(key), **elsewhere})).status_code == 200
        assert (await client.get("/api/v1/eligibility/measures", headers=guesser)).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert 'gateway_rate_limited_total{caller="auth_failure"} 4.0' in metrics
