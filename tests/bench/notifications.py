"""Bench of 主动推送 (issue 17): events delivered per second, commit-to-receipt latency, an import as a job.

Real processes, as `make run` starts them: the registry (the producer: the city's verification of yearly figures
records `figures.verified`, one event per figures row), the notifications service and its worker (the relay pulling
the registry's outbox, the delivery jobs signing with Standard Webhooks), the registry's worker (the import job) and
a receiver (tests/receiver.py, verifying every signature). Each figure has its floor measured in the same run:
- events per second: the receiver's own rate for the same signed deliveries sent straight to it, one at a time;
- latency: the relay's poll interval (an event committed just after a poll waits for the next one);
- the import as a job: the same rows imported synchronously by the same registry.
"""

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks import Webhook

from deploy.local_postgres import free_port
from deploy.run_local import worker_command
from services.notifications import SERVICE_DIR as NOTIFICATIONS_DIR
from services.registry import SERVICE_DIR as REGISTRY_DIR
from shared.auth import Principal, Role
from shared.settings import PROJECT_ROOT
from shared.uscc import make_uscc
from tests.bench._report import figure
from tests.bench._services import served, service_env
from tests.support import PrincipalAuth, TestDatabase, stop_process, wait_healthy

CITY = Principal(Role.CITY)
DISTRICT = Principal(Role.DISTRICT, "500112")
EVENTS = 2_000
LATENCY_SAMPLES = 200
IMPORT_ROWS = 100_000
RELAY_POLL_SECONDS = 0.1
HEADER = "uscc,name,district_code,sector,established_on,year,revenue_yuan,employees,above_scale"


def _rows(count: int, district: str, mark: str) -> bytes:
    lines = [HEADER]
    for n in range(count):
        uscc = make_uscc(f"91{district}{(hash((mark, n)) % 10**9):09d}")
        lines.append(f"{uscc},基准推送{mark}{n},{district},modern_logistics,2018-03-01,2024,{21000000 + n}.00,80,是")
    return ("\n".join(lines) + "\n").encode()


@asynccontextmanager
async def _process(command: list[str], env: dict[str, str], name: str) -> AsyncIterator[subprocess.Popen[bytes]]:
    log = Path(tempfile.mkdtemp(prefix="bench-")) / f"{name}.log"
    with log.open("ab") as handle:
        process = await asyncio.to_thread(
            subprocess.Popen,
            command,
            env={**os.environ, **env},
            cwd=PROJECT_ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    except BaseException:
        print(f"bench: the output of {name} is in {log}", file=sys.stderr, flush=True)
        raise
    finally:
        await asyncio.to_thread(stop_process, process)


@asynccontextmanager
async def _receiver() -> AsyncIterator[str]:
    port = free_port()
    async with _process([sys.executable, "-m", "tests.receiver", "--port", str(port)], {}, "receiver") as process:
        url = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(wait_healthy, process, url)
        yield url


async def _until(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench: {what} not seen within {seconds} s")
        await asyncio.sleep(0.05)


async def run() -> dict[str, Any]:
    registry_db = TestDatabase("bench_notify_registry", REGISTRY_DIR)
    notifications_db = TestDatabase("bench_notifications", NOTIFICATIONS_DIR)
    made: list[TestDatabase] = []
    try:
        for database in (registry_db, notifications_db):
            await asyncio.to_thread(database.create)
            made.append(database)
        # The synchronous import (the job's floor) must stay synchronous whatever its size: no threshold.
        registry_env = service_env(
            "registry",
            registry_db.url,
            worker_heartbeat_seconds="1",
            worker_stalled_after_seconds="5",
            import_async_threshold_bytes="0",
        )
        async with served("services.registry.main:create_app", registry_env) as registry_url:
            closed = f"http://127.0.0.1:{free_port()}"  # the relay's other sources: nothing listens there
            notifications_env = service_env(
                "notifications",
                notifications_db.url,
                registry_url=registry_url,
                eligibility_url=closed,
                ranking_url=closed,
                allowed_networks="127.0.0.0/8",
                relay_poll_seconds=str(RELAY_POLL_SECONDS),
                worker_concurrency="16",
            )
            async with (
                served("services.notifications.main:create_app", notifications_env) as notifications_url,
                _process(worker_command("notifications"), notifications_env, "notifications-worker"),
                _process(worker_command("registry"), registry_env, "registry-worker"),
                _receiver() as receiver_url,
            ):
                return await _measure(registry_url, notifications_url, receiver_url)
    finally:
        for database in made:
            await asyncio.to_thread(database.drop)


async def _measure(registry_url: str, notifications_url: str, receiver_url: str) -> dict[str, Any]:
    detail: dict[str, Any] = {"events": EVENTS, "latency_samples": LATENCY_SAMPLES, "import_rows": IMPORT_ROWS}
    figures: list[dict[str, Any]] = []
    async with (
        httpx.AsyncClient(base_url=registry_url, auth=PrincipalAuth(CITY), timeout=600) as city,
        httpx.AsyncClient(base_url=registry_url, auth=PrincipalAuth(DISTRICT), timeout=600) as district,
        httpx.AsyncClient(base_url=notifications_url, auth=PrincipalAuth(CITY), timeout=60) as notifications,
        httpx.AsyncClient(base_url=receiver_url, timeout=60) as receiver,
    ):
        name = uuid.uuid4().hex[:12]
        created = await notifications.post(
            "/subscriptions", json={"url": f"{receiver_url}/hooks/{name}", "event_types": ["figures.verified"]}
        )
        created.raise_for_status()
        secret = created.json()["secret"]
        (await receiver.put(f"/control/{name}", json={"secret": secret})).raise_for_status()

        async def received() -> list[dict[str, Any]]:
            answer: list[dict[str, Any]] = (await receiver.get(f"/control/{name}")).json()["received"]
            return answer

        # The district submits figures (waiting for the city's verification), EVENTS + LATENCY_SAMPLES of them.
        mark = uuid.uuid4().hex[:6]
        body = _rows(EVENTS + LATENCY_SAMPLES, "500112", mark)
        submitted = await district.post("/enterprises/import", content=body, headers={"content-type": "text/csv"})
        submitted.raise_for_status()
        items = []
        cursor = None
        while True:
            params: dict[str, Any] = {"status": "submitted", "record": "enterprise_year", "limit": 500}
            if cursor:
                params["cursor"] = cursor
            queue = (await city.get("/verifications", params=params)).json()
            items += [{"record": "enterprise_year", "id": item["id"], "decision": "verify"} for item in queue["items"]]
            cursor = queue.get("next_cursor")
            if not cursor:
                break
        if len(items) != EVENTS + LATENCY_SAMPLES:
            raise RuntimeError(f"bench: {len(items)} figures wait for verification, not {EVENTS + LATENCY_SAMPLES}")

        # Throughput: EVENTS verified at once (bulk, 1,000 a request), until the last is received.
        started = time.perf_counter()
        for chunk in range(0, EVENTS, 1000):
            (await city.post("/verifications", json={"items": items[chunk : chunk + 1000]})).raise_for_status()

        async def all_in() -> bool:
            return len(await received()) >= EVENTS

        await _until(all_in, 600, f"{EVENTS} deliveries")
        seconds = time.perf_counter() - started
        got = await received()
        duplicates = len(got) - len({item["webhook_id"] for item in got})
        detail["throughput"] = {"seconds": round(seconds, 3), "duplicates": duplicates}
        floor = await _receiver_floor(receiver, got[:200], receiver_url)
        figures.append(
            figure(
                "notifications.events_per_second",
                EVENTS / seconds,
                ceiling=floor,
                ceiling_method="the same receiver taking signed deliveries sent straight to it, one at a time",
                notes=f"{EVENTS} figures.verified events, verified in bulk; duplicates received: {duplicates}",
            )
        )

        # Latency: one verification at a time, from the answer (the commit) to the receipt.
        latencies = []
        for item in items[EVENTS:]:
            before = len(await received())
            response = await city.post("/verifications", json={"items": [item]})
            committed = time.time()
            response.raise_for_status()

            async def arrived(count: int = before) -> bool:
                return len(await received()) > count

            await _until(arrived, 60, "a delivery")
            latencies.append(((await received())[-1]["received_at"] - committed) * 1000)
        p50 = statistics.median(latencies)
        p99 = sorted(latencies)[int(0.99 * (len(latencies) - 1))]
        floor_ms = RELAY_POLL_SECONDS * 1000 / 2
        method = "half the relay's poll interval: an event's average wait for the next poll"
        figures.append(figure("notifications.latency_p50", p50, ceiling=floor_ms, ceiling_method=method))
        figures.append(figure("notifications.latency_p99", p99, ceiling=floor_ms, ceiling_method=method))

        # The import as a job, beside the same number of rows imported synchronously.
        job_rows = _rows(IMPORT_ROWS, "500113", uuid.uuid4().hex[:6])
        sync_rows = _rows(IMPORT_ROWS, "500114", uuid.uuid4().hex[:6])
        started = time.perf_counter()
        synchronous = await city.post("/enterprises/import", content=sync_rows, headers={"content-type": "text/csv"})
        if synchronous.status_code != 200:
            raise RuntimeError(f"bench: the synchronous import answered {synchronous.status_code}: {synchronous.text}")
        sync_seconds = time.perf_counter() - started
        started = time.perf_counter()
        submitted = await city.post(
            "/enterprises/import", content=job_rows, headers={"content-type": "text/csv", "prefer": "respond-async"}
        )
        if submitted.status_code != 202:
            raise RuntimeError(f"bench: the import was not taken as a job: {submitted.status_code} {submitted.text}")
        location = submitted.headers["location"]
        progress: list[dict[str, Any]] = []
        while True:
            job = (await city.get(location)).json()
            if not progress or progress[-1] != job["progress"]:
                progress.append(job["progress"])
            if job["status"] in ("succeeded", "failed", "cancelled"):
                break
            await asyncio.sleep(0.05)
        job_seconds = time.perf_counter() - started
        if job["status"] != "succeeded":
            raise RuntimeError(f"bench: the import job ended {job['status']}: {job.get('errors')}")
        detail["import_job"] = {
            "seconds": round(job_seconds, 3),
            "synchronous_seconds": round(sync_seconds, 3),
            "progress_updates_seen": len(progress),
            "finished_at": datetime.now(UTC).isoformat(),
        }
        figures.append(
            figure(
                "notifications.import_job_rows_per_second",
                IMPORT_ROWS / job_seconds,
                ceiling=IMPORT_ROWS / sync_seconds,
                ceiling_method="the same number of rows imported synchronously by the same registry",
                notes=f"progress updates seen by a poller every 50 ms: {len(progress)}",
            )
        )
        figures.append(figure("notifications.import_job_progress_updates", float(len(progress))))
    return {"figures": figures, "detail": detail}


async def _receiver_floor(receiver: httpx.AsyncClient, sample: list[dict[str, Any]], receiver_url: str) -> float:
    """Signed deliveries per second the receiver takes straight from one client (a fresh endpoint and secret)."""
    name = uuid.uuid4().hex[:12]
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    (await receiver.put(f"/control/{name}", json={"secret": secret})).raise_for_status()
    signer = Webhook(secret)
    payloads = [json.dumps(item["event"]) for item in sample]
    started = time.perf_counter()
    for body in payloads:
        message_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signer.sign(message_id, now, body),
            "content-type": "application/json",
        }
        (await receiver.post(f"/hooks/{name}", content=body, headers=headers)).raise_for_status()
    return len(payloads) / (time.perf_counter() - started)
