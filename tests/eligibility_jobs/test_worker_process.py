"""`python -m services.eligibility.worker` as its own process: it runs a screening job against the registry process,
touches its health file, and stops on SIGTERM."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from shared.settings import PROJECT_ROOT
from tests.eligibility.scenario import seed
from tests.eligibility_jobs.test_jobs import ASYNC, BODY, accepted, finished
from tests.support import CITY, TestDatabase


async def test_the_worker_process_runs_a_job_and_stops_on_sigterm(
    eligibility_database: TestDatabase,
    registry_process: Any,
    registry: httpx.AsyncClient,
    client_for: Any,
    tmp_path: Path,
) -> None:
    registry_url, _ = registry_process
    await seed(registry)
    city = client_for(CITY)
    location = accepted(await city.post("/screenings", json=BODY, headers=ASYNC), "screening")
    env = {
        **os.environ,
        "ELIGIBILITY_DATABASE_URL": eligibility_database.url,
        "ELIGIBILITY_ENVIRONMENT": "test",
        "ELIGIBILITY_REGISTRY_URL": registry_url,
        "ELIGIBILITY_LOG_LEVEL": "WARNING",
        "ELIGIBILITY_SNAPSHOT_CRON": "0 0 1 1 *",
        "ELIGIBILITY_POLICY_EXPIRY_CRON": "0 0 1 1 *",
        "ELIGIBILITY_WORKER_HEARTBEAT_SECONDS": "0.5",
        "WORKER_HEALTH_FILE": str(tmp_path / "health"),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.eligibility.worker",
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=output,
        )  # fmt: skip
        try:
            job = await finished(city, location, within=60)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:  # pragma: no cover - it must stop by itself
                process.kill()
                await process.wait()
    stderr = log.read_text(errors="replace")[-3000:]
    assert (tmp_path / "health").exists(), stderr  # its liveness probe's file, touched at each heartbeat
    assert job["status"] == "succeeded", (job, stderr)
    assert (await city.get(f"{location}/result")).json() == (await city.post("/screenings", json=BODY)).json()
    assert process.returncode == 0, stderr
