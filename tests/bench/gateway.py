"""Gateway overhead: the same request through the gateway and signed straight to the registry, side by side.

Targets (issue 6): proxied throughput ≥ 60% of direct; added median latency < 1 ms. The registry and the
gateway run as uvicorn processes, as under `make run`; the request is `GET /districts` (a real database read).
"""

import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from deploy.run_local import uvicorn_command
from gateway import GATEWAY_DIR
from gateway.keys.admin import run_in_session
from gateway.keys.service import create_key
from shared.auth import Principal, Role, sign_principal
from shared.settings import DEVELOPMENT_INTERNAL_SECRET, PROJECT_ROOT
from tests.support import TestDatabase, free_port

LATENCY_REQUESTS = 600
WARMUP_REQUESTS = 100
THROUGHPUT_SECONDS = 5.0
CONCURRENCY = 16
PATH = "/districts"
CITY = Principal(Role.CITY)


def _start(app: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:
        process = subprocess.Popen(
            uvicorn_command(app, "127.0.0.1", port),
            env=env,
            cwd=PROJECT_ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1, trust_env=False).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{app} did not start; see {log}")


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


async def _measure(registry_url: str, gateway_url: str, key: str) -> dict[str, Any]:
    def direct_headers() -> dict[str, str]:
        return sign_principal(DEVELOPMENT_INTERNAL_SECRET, "GET", PATH, CITY)

    proxied_headers = {"Authorization": f"Bearer {key}"}
    direct_url, proxied_url = registry_url + PATH, gateway_url + "/api/v1/registry" + PATH
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=30, limits=limits, trust_env=False) as client:
        await _latencies(client, direct_url, direct_headers, WARMUP_REQUESTS)
        await _latencies(client, proxied_url, proxied_headers, WARMUP_REQUESTS)
        # Interleave the two in rounds so that drift of the machine affects both alike.
        direct: list[float] = []
        proxied: list[float] = []
        before = _sums((await client.get(gateway_url + "/metrics")).text)
        for _ in range(6):
            direct += await _latencies(client, direct_url, direct_headers, LATENCY_REQUESTS // 6)
            proxied += await _latencies(client, proxied_url, proxied_headers, LATENCY_REQUESTS // 6)
        after = _sums((await client.get(gateway_url + "/metrics")).text)
        # Throughput in alternating one-second slices, for the same reason.
        totals = {"direct": [0, 0, 0.0], "proxied": [0, 0, 0.0]}
        for _ in range(int(THROUGHPUT_SECONDS)):
            for name, url, headers in (
                ("direct", direct_url, direct_headers),
                ("proxied", proxied_url, proxied_headers),
            ):
                done, failed, took = await _throughput(client, url, headers, 1.0)
                totals[name][0] += done
                totals[name][1] += failed
                totals[name][2] += took
    direct_rps = totals["direct"][0] / totals["direct"][2]
    proxied_rps = totals["proxied"][0] / totals["proxied"][2]
    direct_errors, proxied_errors = int(totals["direct"][1]), int(totals["proxied"][1])
    delta = {name: after[name] - before[name] for name in after}
    # Mean time inside the gateway per proxied request, less the time it waited for the registry's answer:
    # the gateway's own work (auth, limits, headers, signing, streaming, logging, metrics).
    own_ms = (
        (delta["request_sum"] / delta["request_count"] - delta["upstream_sum"] / delta["upstream_count"]) * 1000
        if delta["request_count"] and delta["upstream_count"]
        else None
    )
    direct_median, proxied_median = statistics.median(direct), statistics.median(proxied)
    added_ms = (proxied_median - direct_median) * 1000
    ratio = proxied_rps / direct_rps if direct_rps else 0.0
    return {
        "request": f"GET {PATH} (registry, city principal)",
        "latency_requests_each": len(direct),
        "direct_median_ms": round(direct_median * 1000, 3),
        "proxied_median_ms": round(proxied_median * 1000, 3),
        "direct_p95_ms": round(_percentile(direct, 0.95) * 1000, 3),
        "proxied_p95_ms": round(_percentile(proxied, 0.95) * 1000, 3),
        "added_median_latency_ms": round(added_ms, 3),
        "added_median_latency_target_ms": 1.0,
        "added_median_latency_met": added_ms < 1.0,
        "gateway_own_processing_mean_ms": round(own_ms, 3) if own_ms is not None else None,
        "concurrency": CONCURRENCY,
        "seconds_each": THROUGHPUT_SECONDS,
        "direct_rps": round(direct_rps, 1),
        "proxied_rps": round(proxied_rps, 1),
        "errors": direct_errors + proxied_errors,
        "throughput_ratio": round(ratio, 3),
        "throughput_ratio_target": 0.6,
        "throughput_ratio_met": ratio >= 0.6,
    }


async def run() -> dict[str, Any]:
    registry_db = TestDatabase("bench_registry", PROJECT_ROOT / "services" / "registry")
    gateway_db = TestDatabase("bench_gateway", GATEWAY_DIR)
    processes: list[subprocess.Popen[bytes]] = []
    created: list[TestDatabase] = []
    try:
        for database in (registry_db, gateway_db):
            await asyncio.to_thread(database.create)
            created.append(database)

        async def make(session: AsyncSession) -> str:
            key, _ = await create_key(session, "city", label="bench")
            return key

        key = await asyncio.to_thread(run_in_session, gateway_db.url, make)
        registry_port, gateway_port = free_port(), free_port()
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": registry_db.url,
            "GATEWAY_DATABASE_URL": gateway_db.url,
            "GATEWAY_REGISTRY_URL": f"http://127.0.0.1:{registry_port}",
            "GATEWAY_ELIGIBILITY_URL": "",
            "GATEWAY_RANKING_URL": "",
            "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
            "GATEWAY_RATE_LIMIT_BURST": "1000000",
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        }
        logs = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
        processes.append(_start("services.registry.main:create_app", registry_port, env, logs / "registry.log"))
        processes.append(_start("gateway.main:create_app", gateway_port, env, logs / "gateway.log"))
        result = await _measure(f"http://127.0.0.1:{registry_port}", f"http://127.0.0.1:{gateway_port}", key)
        result["database"] = "postgresql" if registry_db.postgres else "sqlite"
        result["rate_limit_store"] = "memory"
        return result
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        for database in created:
            await asyncio.to_thread(database.drop)


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(run()), indent=2))
