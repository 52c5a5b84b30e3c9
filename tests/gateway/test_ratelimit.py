"""Token buckets: the arithmetic, the Redis script shared by replicas, and 429 with Retry-After at the gateway."""

import asyncio
import time
import uuid

import pytest
import redis

from gateway.breaker import CircuitBreaker, CircuitState
from gateway.ratelimit import REDIS_TIMEOUT_SECONDS, MemoryRateLimiter, RedisRateLimiter, retry_after_header
from tests.gateway.helpers import RawServer, ServerThread, bearer, make_key, running_gateway, settings_for
from tests.support import TestDatabase

REDIS_URL = "redis://127.0.0.1:6379/0"


def test_bucket_spends_its_burst_then_refills_at_the_rate() -> None:
    limiter = MemoryRateLimiter()
    decisions = [limiter.take_now("k", rate=2.0, burst=3, now=100.0) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert decisions[3].retry_after == pytest.approx(0.5)
    assert not limiter.take_now("k", 2.0, 3, now=100.4).allowed
    assert limiter.take_now("k", 2.0, 3, now=100.5).allowed
    # A long pause refills to the burst, not beyond.
    assert [limiter.take_now("k", 2.0, 3, now=200.0).allowed for _ in range(4)] == [True, True, True, False]
    # Buckets are per caller.
    assert limiter.take_now("other", 2.0, 3, now=200.0).allowed


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(1.2) == "2"
    assert retry_after_header(3.0) == "3"


async def test_redis_buckets_are_shared_between_replicas() -> None:
    bucket = f"test:{uuid.uuid4().hex}"
    first, second = RedisRateLimiter(REDIS_URL), RedisRateLimiter(REDIS_URL)
    try:
        results = []
        for index in range(6):
            limiter = first if index % 2 == 0 else second
            results.append(await limiter.take(bucket, rate=0.5, burst=4))
        assert [d.allowed for d in results] == [True, True, True, True, False, False]
        assert 1.0 < results[4].retry_after <= 2.0
        ttl = await first.redis.pttl(first.prefix + bucket)
        assert 0 < ttl <= 9000  # the state expires once the bucket would be full again
    finally:
        await first.close()
        await second.close()


async def test_concurrent_takes_get_their_own_answers() -> None:
    limiter = RedisRateLimiter(REDIS_URL)
    buckets = [f"test:{uuid.uuid4().hex}" for _ in range(3)]
    try:
        decisions = await asyncio.gather(*(limiter.take(buckets[i % 3], rate=0.001, burst=5) for i in range(30)))
        for index, bucket in enumerate(buckets):
            mine = decisions[index::3]
            # Concurrent takes may reach Redis in any order (a pool of connections): each bucket gives exactly its
            # burst, every remaining count once.
            assert sum(d.allowed for d in mine) == 5, bucket
            assert sorted(d.remaining for d in mine if d.allowed) == [0, 1, 2, 3, 4]
            assert await limiter.redis.exists(limiter.prefix + bucket) == 1  # counted in Redis, not in process
    finally:
        await limiter.close()


async def test_the_script_is_loaded_again_when_redis_has_forgotten_it() -> None:
    limiter = RedisRateLimiter(REDIS_URL)
    bucket = f"test:{uuid.uuid4().hex}"
    try:
        assert (await limiter.take(bucket, rate=1.0, burst=3)).remaining == 2
        redis.Redis.from_url(REDIS_URL).script_flush()
        assert (await limiter.take(bucket, rate=1.0, burst=3)).remaining == 1
        assert await limiter.redis.hget(limiter.prefix + bucket, "tokens") is not None  # still Redis's bucket
    finally:
        await limiter.close()


async def test_redis_down_falls_back_to_limiting_in_process() -> None:
    fallbacks: list[None] = []
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", on_fallback=lambda: fallbacks.append(None))
    try:
        started = time.monotonic()
        decisions = [await limiter.take("k", rate=1.0, burst=2) for _ in range(3)]
        assert [d.allowed for d in decisions] == [True, True, False]
        assert time.monotonic() - started < 1.0  # no waiting on a Redis that refuses connections
        assert len(fallbacks) == 3  # every decision made in process is told
    finally:
        await limiter.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_hung_redis_is_given_up_on_after_a_few_timeouts_and_tried_again_later() -> None:
    hung = RawServer("hang").start()  # connections accepted, never answered
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=2, cool_down=5.0, clock=clock)
    fallbacks: list[None] = []
    limiter = RedisRateLimiter(
        f"redis://127.0.0.1:{hung.port}/0", breaker=breaker, on_fallback=lambda: fallbacks.append(None)
    )
    try:
        started = time.monotonic()
        for _ in range(2):
            assert (await limiter.take("k", rate=1.0, burst=10)).allowed
        assert time.monotonic() - started >= 2 * REDIS_TIMEOUT_SECONDS - 0.1  # each waited for Redis
        assert breaker.state is CircuitState.OPEN
        started = time.monotonic()
        decisions = [await limiter.take("k", rate=1.0, burst=10) for _ in range(20)]
        assert time.monotonic() - started < 1.0  # Redis not asked (20 × its timeout otherwise): limited in process
        assert [d.allowed for d in decisions] == [True] * 8 + [False] * 12  # the same buckets as before
        assert len(fallbacks) == 22
        clock.now = 5.0  # after the cool-down one request tries Redis again
        started = time.monotonic()
        await limiter.take("k", rate=1.0, burst=10)
        assert time.monotonic() - started >= REDIS_TIMEOUT_SECONDS - 0.1
        assert breaker.state is CircuitState.OPEN
    finally:
        await limiter.close()
        hung.stop()


async def test_its_own_pool_running_out_in_a_burst_is_not_taken_for_redis_failing() -> None:
    fallbacks: list[None] = []
    breaker = CircuitBreaker(failure_threshold=2, cool_down=5.0)
    limiter = RedisRateLimiter(
        REDIS_URL, breaker=breaker, max_connections=1, on_fallback=lambda: fallbacks.append(None)
    )
    bucket = f"test:{uuid.uuid4().hex}"
    try:
        held = await limiter.redis.connection_pool.get_connection()  # the pool's only connection, busy
        try:
            started = time.monotonic()
            decisions = await asyncio.gather(*(limiter.take(bucket, rate=1.0, burst=10) for _ in range(4)))
            assert time.monotonic() - started >= REDIS_TIMEOUT_SECONDS - 0.1  # each waited for a free connection
            assert all(decision.allowed for decision in decisions)
            assert len(fallbacks) == 4  # decided in process, and counted
            # Twice the threshold, yet the circuit is closed: nothing was said about Redis.
            assert breaker.state is CircuitState.CLOSED and breaker.failures == 0
        finally:
            await limiter.redis.connection_pool.release(held)
        shared = await limiter.take(bucket, rate=1.0, burst=10)
        assert shared.remaining == 9 and len(fallbacks) == 4  # Redis's bucket, untouched by the burst's decisions
    finally:
        await limiter.close()


async def test_the_gateway_counts_the_decisions_it_makes_without_redis(
    gateway_db: TestDatabase, echo: ServerThread
) -> None:
    settings = settings_for(gateway_db.url, registry_url=echo.url, redis_url="redis://127.0.0.1:1/0")
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        for _ in range(3):
            assert (await client.get("/api/v1/registry/districts", headers=bearer(key))).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert "gateway_rate_limit_fallback_total 3.0" in metrics
        assert "gateway_rate_limit_store_up 0.0" in metrics


async def test_gateway_answers_429_with_retry_after_per_key(
    gateway_db: TestDatabase, echoes: dict[str, ServerThread]
) -> None:
    settings = settings_for(
        gateway_db.url,
        registry_url=echoes["registry"].url,
        eligibility_url=echoes["eligibility"].url,
        rate_limit_per_second=1,
        rate_limit_burst=5,
        anonymous_rate_limit_per_second=1,
        anonymous_rate_limit_burst=3,
    )
    async with running_gateway(settings) as (app, client):
        busy, calm = await make_key(app, "city"), await make_key(app, "city")
        statuses = [
            (await client.get("/api/v1/registry/districts", headers=bearer(busy))).status_code for _ in range(7)
        ]
        assert statuses == [200] * 5 + [429] * 2
        limited = await client.get("/api/v1/registry/districts", headers=bearer(busy))
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "1"
        assert limited.headers["content-type"] == "application/problem+json"
        assert limited.json()["type"] == "/problems/rate-limited"
        # Another key has its own bucket.
        assert (await client.get("/api/v1/registry/districts", headers=bearer(calm))).status_code == 200
        await asyncio.sleep(1.05)
        assert (await client.get("/api/v1/registry/districts", headers=bearer(busy))).status_code == 200

        # Callers without a key share their address's bucket, and so do wrong keys.
        anonymous = [(await client.get("/api/v1/eligibility/measures")).status_code for _ in range(3)]
        assert anonymous == [200, 200, 200]
        assert (await client.get("/api/v1/eligibility/measures", headers=bearer("wrong"))).status_code == 429
        metrics = (await client.get("/metrics")).text
        assert 'gateway_rate_limited_total{caller="key"} 3.0' in metrics
        assert 'gateway_rate_limited_total{caller="anonymous"} 1.0' in metrics


async def test_gateway_limits_through_redis(gateway_db: TestDatabase, echo: ServerThread) -> None:
    settings = settings_for(
        gateway_db.url, registry_url=echo.url, redis_url=REDIS_URL, rate_limit_per_second=0.1, rate_limit_burst=3
    )
    # Two gateway replicas, one Redis: the key's three tokens are spent across both.
    async with running_gateway(settings) as (app, first), running_gateway(settings) as (_, second):
        key = await make_key(app, "city")
        statuses = []
        for client in (first, second, first, second):
            statuses.append((await client.get("/api/v1/registry/districts", headers=bearer(key))).status_code)
        assert statuses == [200, 200, 200, 429]
        ready = await first.get("/readyz")
        assert ready.json()["checks"]["rate_limit_store"] == "ok"
        metrics = (await first.get("/metrics")).text
        assert "gateway_rate_limit_store_up 1.0" in metrics
        assert "gateway_rate_limit_fallback_total 0.0" in metrics
