"""Token buckets per caller: in the process, or in Redis so that several gateway replicas limit together."""

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from gateway.resp import lean_client
from shared.logging import get_logger

logger = get_logger("gateway.ratelimit")


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    # Seconds until one token is back (0 when allowed).
    retry_after: float
    remaining: int


class RateLimiter(Protocol):
    async def take(self, bucket: str, rate: float, burst: int) -> Decision: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """Buckets in this process. `rate` tokens per second are added, up to `burst`; each request takes one."""

    MAX_BUCKETS = 100_000

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}

    async def take(self, bucket: str, rate: float, burst: int) -> Decision:
        return self.take_now(bucket, rate, burst, time.monotonic())

    def take_now(self, bucket: str, rate: float, burst: int, now: float) -> Decision:
        tokens, last = self._buckets.get(bucket, (float(burst), now))
        tokens = min(float(burst), tokens + max(0.0, now - last) * rate)
        if tokens >= 1.0:
            tokens -= 1.0
            decision = Decision(True, 0.0, int(tokens))
        else:
            decision = Decision(False, (1.0 - tokens) / rate, 0)
        if len(self._buckets) >= self.MAX_BUCKETS and bucket not in self._buckets:
            self._evict_full(now, rate, burst)
        self._buckets[bucket] = (tokens, now)
        return decision

    def _evict_full(self, now: float, rate: float, burst: int) -> None:
        # A bucket that has refilled completely holds no state worth keeping.
        full_after = burst / rate
        for name in [name for name, (_, last) in self._buckets.items() if now - last >= full_after]:
            del self._buckets[name]
        if len(self._buckets) >= self.MAX_BUCKETS:
            self._buckets.clear()

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


# KEYS[1] the bucket; ARGV rate per second, burst. Time comes from the Redis server, so replicas agree.
_TAKE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local data = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(data[1])
local ts = tonumber(data[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
local retry_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry_ms = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, retry_ms, math.floor(tokens)}
"""


class RedisRateLimiter:
    """Buckets in Redis, one hash per caller, updated atomically by a Lua script.

    If Redis cannot be reached, the gateway keeps limiting with in-process buckets rather than refusing
    everyone or letting everyone through, and logs the fallback.
    """

    def __init__(self, url: str, *, prefix: str = "gateway:ratelimit:") -> None:
        self.redis: Redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.prefix = prefix
        self._script: Any = self.redis.register_script(_TAKE_SCRIPT)
        # The script runs for every request: through the lean client when the URL allows (see gateway/resp.py).
        self._lean = lean_client(url, timeout=0.5)
        self._sha = self._script.sha.encode()
        self.fallback = MemoryRateLimiter()
        self._failing = False

    async def _run_script(self, bucket: str, rate: float, burst: int) -> Any:
        if self._lean is None:
            return await self._script(keys=[self.prefix + bucket], args=[rate, burst])
        # The arguments as redis-py encodes them: floats by repr, integers in decimal.
        arguments = (b"1", (self.prefix + bucket).encode(), repr(rate).encode(), str(burst).encode())
        try:
            return await self._lean.call(b"EVALSHA", self._sha, *arguments)
        except ResponseError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
        await self._lean.call(b"SCRIPT", b"LOAD", _TAKE_SCRIPT.encode())
        return await self._lean.call(b"EVALSHA", self._sha, *arguments)

    async def take(self, bucket: str, rate: float, burst: int) -> Decision:
        try:
            allowed, retry_ms, remaining = await self._run_script(bucket, rate, burst)
        except (RedisError, OSError) as exc:
            if not self._failing:
                logger.warning("redis unavailable, rate limiting in process", error=type(exc).__name__)
                self._failing = True
            return await self.fallback.take(bucket, rate, burst)
        if self._failing:
            logger.info("redis available again, rate limiting shared")
            self._failing = False
        return Decision(bool(allowed), int(retry_ms) / 1000, int(remaining))

    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        if self._lean is not None:
            await self._lean.close()
        await self.redis.aclose()


def make_rate_limiter(redis_url: str) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
