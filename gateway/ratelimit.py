"""Token buckets per caller: in the process, or in Redis so that several gateway replicas limit together."""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from gateway.breaker import CircuitBreaker, CircuitOpen, Outcome
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


# Seconds for a connection to Redis, a free one from the pool, and an answer; beyond, the request is limited in
# process. Every proxied request runs the script once, so Redis is given little time.
REDIS_TIMEOUT_SECONDS = 0.5
MAX_REDIS_CONNECTIONS = 64
# A Redis that hangs would cost every request that timeout: after this many failures in a row the buckets are kept
# in process for the cool-down, then one request tries Redis again (gateway/breaker.py).
REDIS_FAILURE_THRESHOLD = 3
REDIS_COOL_DOWN_SECONDS = 5.0


class RedisRateLimiter:
    """Buckets in Redis, one hash per caller, updated atomically by a Lua script.

    If Redis cannot be reached, the gateway keeps limiting with in-process buckets rather than refusing
    everyone or letting everyone through, and logs the fallback; after a few failures in a row it stops asking
    Redis for a while (a circuit breaker), so that a hung Redis does not slow every request by the timeout.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "gateway:ratelimit:",
        on_fallback: Callable[[], None] | None = None,
        breaker: CircuitBreaker | None = None,
        max_connections: int = MAX_REDIS_CONNECTIONS,
    ) -> None:
        # A request waits for a free connection rather than failing over to in-process buckets when all are busy.
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )  # fmt: skip
        self.redis: Redis = Redis.from_pool(pool)
        self.prefix = prefix
        # EVALSHA, and the script loaded again when Redis has forgotten it (NOSCRIPT).
        self._script: Any = self.redis.register_script(_TAKE_SCRIPT)
        self.fallback = MemoryRateLimiter()
        # Called for every decision made in process (the gateway counts them: an alert, deploy/prometheus).
        self._on_fallback = on_fallback
        self.breaker = breaker or CircuitBreaker(
            failure_threshold=REDIS_FAILURE_THRESHOLD, cool_down=REDIS_COOL_DOWN_SECONDS
        )
        self._failing = False

    async def take(self, bucket: str, rate: float, burst: int) -> Decision:
        try:
            ticket = self.breaker.admit()
        except CircuitOpen:
            return self._in_process(bucket, rate, burst)
        try:
            allowed, retry_ms, remaining = await self._script(keys=[self.prefix + bucket], args=[rate, burst])
        except (RedisError, OSError) as exc:
            if _pool_exhausted(exc):
                # This process's own connections were all busy for the timeout (a burst): Redis is not at fault, so
                # the circuit is not moved towards opening (which would limit every request in process for the
                # cool-down); only this decision is made in process, and counted.
                self.breaker.settle(ticket, Outcome.ABANDONED)
                return self._in_process(bucket, rate, burst)
            self.breaker.settle(ticket, Outcome.FAILED)
            if not self._failing:
                logger.warning("redis unavailable, rate limiting in process", error=type(exc).__name__)
                self._failing = True
            return self._in_process(bucket, rate, burst)
        except BaseException:  # cancelled: says nothing about Redis
            self.breaker.settle(ticket, Outcome.ABANDONED)
            raise
        self.breaker.settle(ticket, Outcome.SUCCEEDED)
        if self._failing:
            logger.info("redis available again, rate limiting shared")
            self._failing = False
        return Decision(bool(allowed), int(retry_ms) / 1000, int(remaining))

    def _in_process(self, bucket: str, rate: float, burst: int) -> Decision:
        if self._on_fallback is not None:
            self._on_fallback()
        return self.fallback.take_now(bucket, rate, burst, time.monotonic())

    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        await self.redis.aclose()


def _pool_exhausted(error: BaseException) -> bool:
    """redis-py's BlockingConnectionPool, when no connection came free within its timeout (it has no class of its
    own for that: tests/gateway/test_ratelimit.py checks the message against the installed redis-py)."""
    return isinstance(error, RedisConnectionError) and str(error) == "No connection available."


def make_rate_limiter(redis_url: str, on_fallback: Callable[[], None] | None = None) -> RateLimiter:
    return RedisRateLimiter(redis_url, on_fallback=on_fallback) if redis_url else MemoryRateLimiter()


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
