"""The rate limiter's lean Redis client (gateway/resp.py): replies parsed as they arrive, pipelined calls matched
in order, the script reloaded when Redis has forgotten it, and URLs it leaves to redis-py."""

import asyncio
import uuid

import pytest
import redis
from redis.exceptions import ResponseError

from gateway.ratelimit import RedisRateLimiter
from gateway.resp import _Incomplete, _parse, lean_client

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b":42\r\n", 42),
        (b"+OK\r\n", b"OK"),
        (b"$3\r\nabc\r\n", b"abc"),
        (b"$-1\r\n", None),
        (b"*3\r\n:1\r\n:0\r\n:99\r\n", [1, 0, 99]),
        (b"*2\r\n*1\r\n$1\r\nx\r\n:-7\r\n", [[b"x"], -7]),
        (b"*-1\r\n", None),
    ],
)
def test_replies_are_parsed(data: bytes, value: object) -> None:
    assert _parse(bytearray(data), 0) == (value, len(data))
    for cut in range(1, len(data)):  # a reply split anywhere waits for the rest
        with pytest.raises(_Incomplete):
            _parse(bytearray(data[:cut]), 0)


def test_an_error_reply_is_a_response_error() -> None:
    value, end = _parse(bytearray(b"-NOSCRIPT No matching script\r\n"), 0)
    assert isinstance(value, ResponseError) and str(value).startswith("NOSCRIPT") and end == 30


def test_only_plain_urls_get_the_lean_client() -> None:
    assert lean_client("redis://127.0.0.1:6379/0", timeout=0.5) is not None
    assert lean_client("redis://:secret@127.0.0.1:6379/2", timeout=0.5) is not None
    assert lean_client("unix:///tmp/redis.sock?db=1", timeout=0.5) is not None
    assert lean_client("rediss://127.0.0.1:6379/0", timeout=0.5) is None  # TLS: redis-py
    assert lean_client("redis://127.0.0.1:6379/0?socket_keepalive=true", timeout=0.5) is None


async def test_concurrent_takes_share_one_connection_and_get_their_own_answers() -> None:
    limiter = RedisRateLimiter(REDIS_URL)
    assert limiter._lean is not None
    buckets = [f"test:{uuid.uuid4().hex}" for _ in range(3)]
    try:
        decisions = await asyncio.gather(*(limiter.take(buckets[i % 3], rate=0.001, burst=5) for i in range(30)))
        for index, bucket in enumerate(buckets):
            mine = decisions[index::3]
            assert [d.allowed for d in mine] == [True] * 5 + [False] * 5, bucket
            assert sorted(d.remaining for d in mine[:5]) == [0, 1, 2, 3, 4]
        assert not limiter._failing
    finally:
        await limiter.close()


async def test_the_script_is_loaded_again_when_redis_has_forgotten_it() -> None:
    limiter = RedisRateLimiter(REDIS_URL)
    bucket = f"test:{uuid.uuid4().hex}"
    try:
        assert (await limiter.take(bucket, rate=1.0, burst=3)).remaining == 2
        redis.Redis.from_url(REDIS_URL).script_flush()
        assert (await limiter.take(bucket, rate=1.0, burst=3)).remaining == 1
        assert not limiter._failing
    finally:
        await limiter.close()
