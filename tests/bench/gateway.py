"""Gateway overhead: the same request through the gateway and signed straight to the registry, side by side.

Targets (issue 6): proxied throughput ≥ 60% of direct; added median latency < 1 ms. The registry and the
gateway run as uvicorn processes, as under `make run`; the request is `GET /districts` (a real database read).

The ceilings, measured in the same run and interleaved with the others:
- the bare app (`tests/bench/_ceiling.py`) in a third uvicorn process with the same flags, answering the registry's
  `/districts` bytes to the same client (same signed headers, concurrency and request counts). It is the ceiling
  of the direct and proxied medians and throughputs, and the floor of the added latency: a proxy adds at least one
  more loopback round trip through an HTTP server and an HTTP client, which is what one request to the bare app
  costs;
- the bare proxy (`BareProxy` below) in a fourth: the same uvicorn flags and the gateway's own upstream
  client, and nothing else (no key, limit, log, metric or signature). Its throughput ÷ direct is the ceiling
  of the gateway's throughput ratio: what a proxy that only relays can keep of the direct throughput here.
"""

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from yarl import URL

from gateway import GATEWAY_DIR
from gateway.keys.admin import run_in_session
from gateway.keys.service import create_key
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream
from services.registry import SERVICE_DIR as REGISTRY_DIR
from shared.auth import Principal, Role, sign_principal
from shared.requestid import make_request_id
from shared.settings import DEVELOPMENT_INTERNAL_SECRET
from tests.bench._ceiling import CeilingServer, ceiling_server
from tests.bench._report import figure
from tests.bench._services import served
from tests.support import TestDatabase

LATENCY_REQUESTS = 600
WARMUP_REQUESTS = 100
THROUGHPUT_SECONDS = 5.0
CONCURRENCY = 16
PATH = "/districts"
CITY = Principal(Role.CITY)
BARE_PROXY_FACTORY = "tests.bench.gateway:create_bare_proxy"
BARE_PROXY_UPSTREAM = "BENCH_BARE_PROXY_UPSTREAM"
_RELAYED_BACK_DROP = frozenset({b"connection", b"keep-alive"})

Message = MutableMapping[str, Any]


class BareProxy:
    """A reverse proxy that only relays: the request's headers as they came (less Host) through the gateway's own
    upstream client (gateway/upstream.py, the gateway's default settings), the answer streamed back."""

    def __init__(self, upstream_url: str) -> None:
        self.upstream_url = upstream_url
        self.upstream: Upstream | None = None

    async def __call__(
        self, scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    # The defaults without the environment (no database is needed to relay).
                    self.upstream = Upstream(self.upstream_url, GatewaySettings.model_construct())
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.upstream is not None:
                        await self.upstream.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http" or self.upstream is None:
            return
        more = True
        while more:  # the bench sends no bodies: drain the request
            message = await receive()
            more = bool(message.get("more_body", False))
        query: bytes = scope["query_string"]
        target = (scope["raw_path"] + (b"?" + query if query else b"")).decode("latin-1")
        url = self.upstream.origin.join(URL(target, encoded=True))
        headers = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"] if name != b"host"
        ]
        async with self.upstream.connection_slot():
            response = await self.upstream.session.request(scope["method"], url, headers=headers, allow_redirects=False)
            try:
                relayed = [
                    (name, value) for name, value in response.raw_headers if name.lower() not in _RELAYED_BACK_DROP
                ]
                await send({"type": "http.response.start", "status": response.status, "headers": relayed})
                async for chunk in response.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                response.release()


def create_bare_proxy() -> BareProxy:
    """The uvicorn factory; the upstream's base URL comes from the environment."""
    return BareProxy(os.environ[BARE_PROXY_UPSTREAM])


async def _latencies(client: httpx.AsyncClient, url: str, headers: Any, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        sent = headers() if callable(headers) else headers
        started = time.perf_counter()
        response = await client.get(url, headers=sent)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
    return samples


async def _throughput(client: httpx.AsyncClient, url: str, headers: Any, seconds: float) -> tuple[int, int, float]:
    """Requests answered 200 and others by CONCURRENCY workers in `seconds`, and the time taken."""
    done = 0
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            sent = headers() if callable(headers) else headers
            response = await client.get(url, headers=sent)
            if response.status_code == 200:
                done += 1
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done, errors, time.perf_counter() - started


def _sums(metrics: str) -> dict[str, float]:
    """Sum and count of the gateway's request and upstream histograms for the proxied route."""
    wanted = {
        'gateway_request_duration_seconds_sum{method="GET",route="/api/v1/registry' + PATH + '"}': "request_sum",
        'gateway_request_duration_seconds_count{method="GET",route="/api/v1/registry' + PATH + '"}': "request_count",
        'gateway_upstream_response_seconds_sum{upstream="registry"}': "upstream_sum",
        'gateway_upstream_response_seconds_count{upstream="registry"}': "upstream_count",
    }
    found = {name: 0.0 for name in wanted.values()}
    for line in metrics.splitlines():
        series, _, value = line.rpartition(" ")
        if series in wanted:
            found[wanted[series]] = float(value)
    return found


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(
    registry_url: str, gateway_url: str, bare_proxy_url: str, key: str, ceiling: CeilingServer
) -> dict[str, Any]:
    def direct_headers() -> dict[str, str]:
        return sign_principal(
            DEVELOPMENT_INTERNAL_SECRET, "GET", PATH, CITY, audience="registry", request_id=make_request_id()
        )

    proxied_headers = {"Authorization": f"Bearer {key}"}
    direct_url, proxied_url = registry_url + PATH, gateway_url + "/api/v1/registry" + PATH
    bare_url = ceiling.url + PATH
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=30, limits=limits, trust_env=False) as client:
        answer = await client.get(direct_url, headers=direct_headers())
        assert answer.status_code == 200
        await ceiling.record(answer)
        # The bare app is asked exactly as the registry is: same client, same freshly signed headers.
        routes = (
            ("direct", direct_url, direct_headers),
            ("proxied", proxied_url, proxied_headers),
            ("bare", bare_url, direct_headers),
        )
        for _, url, headers in routes:
            await _latencies(client, url, headers, WARMUP_REQUESTS)
        # The bare proxy relays the direct request, signed for the registry as it is.
        relayed = ("bare_proxy", bare_proxy_url + PATH, direct_headers)
        await _latencies(client, relayed[1], direct_headers, WARMUP_REQUESTS)
        # Interleave the three in rounds so that drift of the machine affects them alike.
        latencies: dict[str, list[float]] = {name: [] for name, _, _ in routes}
        before = _sums((await client.get(gateway_url + "/metrics")).text)
        for _ in range(6):
            for name, url, headers in routes:
                latencies[name] += await _latencies(client, url, headers, LATENCY_REQUESTS // 6)
        after = _sums((await client.get(gateway_url + "/metrics")).text)
        # Throughput in alternating one-second slices, for the same reason.
        totals = {name: [0, 0, 0.0] for name, _, _ in (*routes, relayed)}
        for _ in range(int(THROUGHPUT_SECONDS)):
            for name, url, headers in (*routes, relayed):
                done, failed, took = await _throughput(client, url, headers, 1.0)
                totals[name][0] += done
                totals[name][1] += failed
                totals[name][2] += took
    rps = {name: totals[name][0] / totals[name][2] for name in totals}
    errors = {name: int(totals[name][1]) for name in totals}
    delta = {name: after[name] - before[name] for name in after}
    # Mean time inside the gateway per proxied request, less the time it waited for the registry's answer:
    # the gateway's own work (auth, limits, headers, signing, streaming, logging, metrics).
    own_ms = (
        (delta["request_sum"] / delta["request_count"] - delta["upstream_sum"] / delta["upstream_count"]) * 1000
        if delta["request_count"] and delta["upstream_count"]
        else None
    )
    median = {name: statistics.median(samples) * 1000 for name, samples in latencies.items()}
    added_ms = median["proxied"] - median["direct"]
    ratio = rps["proxied"] / rps["direct"] if rps["direct"] else 0.0
    ratio_ceiling = rps["bare_proxy"] / rps["direct"] if rps["direct"] else 0.0
    detail = {
        "request": f"GET {PATH} (registry, city principal)",
        "answer_bytes": len(answer.content),
        "latency_requests_each": len(latencies["direct"]),
        "direct_median_ms": round(median["direct"], 3),
        "proxied_median_ms": round(median["proxied"], 3),
        "ceiling_median_ms": round(median["bare"], 3),
        "direct_p95_ms": round(_percentile(latencies["direct"], 0.95) * 1000, 3),
        "proxied_p95_ms": round(_percentile(latencies["proxied"], 0.95) * 1000, 3),
        "ceiling_p95_ms": round(_percentile(latencies["bare"], 0.95) * 1000, 3),
        "added_median_latency_ms": round(added_ms, 3),
        "gateway_own_processing_mean_ms": round(own_ms, 3) if own_ms is not None else None,
        "concurrency": CONCURRENCY,
        "seconds_each": THROUGHPUT_SECONDS,
        "direct_rps": round(rps["direct"], 1),
        "proxied_rps": round(rps["proxied"], 1),
        "ceiling_rps": round(rps["bare"], 1),
        "bare_proxy_rps": round(rps["bare_proxy"], 1),
        "errors": errors,
        "throughput_ratio": round(ratio, 3),
        "throughput_ratio_ceiling": round(ratio_ceiling, 3),
    }
    method = "bare uvicorn app answering the same bytes, same client, interleaved"
    latency_note = f"{len(latencies['direct'])} sequential requests each, interleaved in 6 rounds"
    rate_note = f"{CONCURRENCY} concurrent clients, {THROUGHPUT_SECONDS:g} one-second slices, interleaved"
    figures = [
        figure(
            "gateway.throughput_ratio",
            round(ratio, 3),
            ceiling=round(ratio_ceiling, 3),
            ceiling_method="a proxy that only relays (uvicorn, the gateway's upstream pool, nothing else): its "
            "throughput ÷ direct, same client, interleaved",
            notes=f"{rps['proxied']:.0f} ÷ {rps['direct']:.0f} req/s ({rate_note}); the bare proxy "
            f"{rps['bare_proxy']:.0f} req/s (errors {errors['bare_proxy']})",
        ),
        figure(
            "gateway.added_median_latency",
            round(added_ms, 3),
            ceiling=round(median["bare"], 3),
            ceiling_method="floor of one more hop: median of the bare uvicorn app, same client",
            notes=f"proxied median − direct median; the gateway's own processing (its metrics, request time less "
            f"upstream time) {detail['gateway_own_processing_mean_ms']} ms mean",
        ),
        figure(
            "gateway.direct_median", round(median["direct"], 3), ceiling=round(median["bare"], 3),
            ceiling_method=method, notes=f"signed straight to the registry; {latency_note}",
        ),
        figure(
            "gateway.proxied_median", round(median["proxied"], 3), ceiling=round(median["bare"], 3),
            ceiling_method=method, notes=f"through the gateway with a city key; {latency_note}",
        ),
        figure(
            "gateway.direct_throughput", round(rps["direct"], 1), ceiling=round(rps["bare"], 1),
            ceiling_method=method, notes=f"{rate_note}; errors {errors['direct']}",
        ),
        figure(
            "gateway.proxied_throughput", round(rps["proxied"], 1), ceiling=round(rps["bare"], 1),
            ceiling_method=method, notes=f"{rate_note}; errors {errors['proxied']}",
        ),
    ]  # fmt: skip
    return {"figures": figures, "detail": detail}


async def run() -> dict[str, Any]:
    registry_db = TestDatabase("bench_registry", REGISTRY_DIR)
    gateway_db = TestDatabase("bench_gateway", GATEWAY_DIR)
    created: list[TestDatabase] = []
    try:
        for database in (registry_db, gateway_db):
            await asyncio.to_thread(database.create)
            created.append(database)

        async def make(session: AsyncSession) -> str:
            key, _ = await create_key(session, "city", label="bench")
            return key

        key = await asyncio.to_thread(run_in_session, gateway_db.url, make)
        # Logs at INFO, as under `make run`: the gateway's access log line is part of its cost.
        env = {
            "REGISTRY_DATABASE_URL": registry_db.url,
            "GATEWAY_DATABASE_URL": gateway_db.url,
            "GATEWAY_ELIGIBILITY_URL": "",
            "GATEWAY_RANKING_URL": "",
            "GATEWAY_MONITORING_URL": "",
            "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
            "GATEWAY_RATE_LIMIT_BURST": "1000000",
            "INTERNAL_SECRET": DEVELOPMENT_INTERNAL_SECRET,
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        }
        async with (
            served("services.registry.main:create_app", env) as registry_url,
            served("gateway.main:create_app", {**env, "GATEWAY_REGISTRY_URL": registry_url}) as gateway_url,
            served(BARE_PROXY_FACTORY, {BARE_PROXY_UPSTREAM: registry_url}) as bare_proxy_url,
            ceiling_server() as ceiling,
        ):
            result = await _measure(registry_url, gateway_url, bare_proxy_url, key, ceiling)
        result["detail"]["database"] = "postgresql"
        result["detail"]["rate_limit_store"] = "memory"
        return result
    finally:
        for database in created:
            await asyncio.to_thread(database.drop)
