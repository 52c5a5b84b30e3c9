"""An open-loop load generator (aiohttp: the lightest well-kept client, so that the generator, which shares the
machine with what it measures, takes as little of it as it can): requests start on a fixed schedule whatever the answers take, so a slow system
cannot slow the offered load down (no coordinated omission). A request's latency runs from the moment it was
due, not from when the client got round to sending it; `max_send_lag_ms` says how far the client fell behind.
"""

import asyncio
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.load.mix import MIX, Operation, Request, World

TIMEOUT_SECONDS = 15.0


@dataclass
class Outcome:
    operation: str
    status: int | None  # None: no answer (connection refused, reset, timed out)
    seconds: float
    ok: bool
    detail: str = ""


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)
    max_send_lag: float = 0.0


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return 0.0
    index = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


async def _send(
    client: aiohttp.ClientSession, operation: Operation, request: Request, due: float, tally: Tally
) -> None:
    headers = dict(request.headers)
    if request.key:
        headers["Authorization"] = f"Bearer {request.key}"
    try:
        async with client.request(request.method, request.path, json=request.json, headers=headers) as response:
            body = await response.read()
        status: int | None = response.status
        ok = status in request.expected
        detail = "" if ok else f"{request.method} {request.path}: {status} {body[:300].decode(errors='replace')}"
    except (aiohttp.ClientError, TimeoutError) as error:
        status, ok, detail = None, False, f"{request.method} {request.path}: {type(error).__name__} {error}"
    tally.outcomes.append(Outcome(operation.name, status, time.perf_counter() - due, ok, detail))


async def drive(
    gateway: str, world: World, *, rate: float, seconds: float, seed: int = 20241119, mix: tuple[Operation, ...] = MIX
) -> dict[str, Any]:
    """Offer `rate` requests a second for `seconds` and report what came back."""
    rng = random.Random(seed)
    weights = [operation.weight for operation in mix]
    total = int(rate * seconds)
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=512)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(gateway, connector=connector, timeout=timeout) as client:
        tasks: set[asyncio.Task[None]] = set()
        started = time.perf_counter()
        for index in range(total):
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tally.max_send_lag = max(tally.max_send_lag, time.perf_counter() - due)
            # One of each operation first, so that even a short run sends the whole mix.
            operation = mix[index] if index < len(mix) else rng.choices(mix, weights)[0]
            task = asyncio.create_task(_send(client, operation, operation.make(world, rng), due, tally))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        offered_for = time.perf_counter() - started
        await asyncio.gather(*tasks)
        finished_for = time.perf_counter() - started
    return summarise(tally, rate=rate, seconds=seconds, offered_for=offered_for, finished_for=finished_for)


def summarise(tally: Tally, *, rate: float, seconds: float, offered_for: float, finished_for: float) -> dict[str, Any]:
    outcomes = tally.outcomes
    latencies = sorted(outcome.seconds for outcome in outcomes)
    errors = [outcome for outcome in outcomes if not outcome.ok]
    by_operation: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_operation[outcome.operation].append(outcome)
    operations = {}
    for name, items in sorted(by_operation.items()):
        ordered = sorted(item.seconds for item in items)
        operations[name] = {
            "requests": len(items),
            "errors": sum(not item.ok for item in items),
            "p50_ms": _ms(percentile(ordered, 0.50)),
            "p95_ms": _ms(percentile(ordered, 0.95)),
            "p99_ms": _ms(percentile(ordered, 0.99)),
        }
    statuses = Counter(str(outcome.status) if outcome.status is not None else "no answer" for outcome in outcomes)
    return {
        "offered_rate_per_s": rate,
        "duration_s": seconds,
        "requests": len(outcomes),
        "throughput_per_s": round(len(outcomes) / finished_for, 1) if finished_for else 0.0,
        "completed_within_s": round(finished_for, 2),
        "offered_within_s": round(offered_for, 2),
        "max_send_lag_ms": _ms(tally.max_send_lag),
        "p50_ms": _ms(percentile(latencies, 0.50)),
        "p95_ms": _ms(percentile(latencies, 0.95)),
        "p99_ms": _ms(percentile(latencies, 0.99)),
        "max_ms": _ms(latencies[-1]) if latencies else 0.0,
        "errors": len(errors),
        "error_samples": sorted({error.detail for error in errors})[:10],
        "statuses": dict(sorted(statuses.items())),
        "operations": operations,
    }
