"""The registry's bulk import as a job, end to end, with a real worker: progress, the synchronous report, a
refusal, cancellation, and a worker killed mid-import whose job another worker finishes with no duplicates."""

import asyncio
import os
import signal
import time

import pytest

from services.registry.enterprises import service
from shared.jobs import JobStore
from tests.jobs.conftest import scalar
from tests.jobs.support import ASYNC, CSV, import_csv, wait_for
from tests.support import REGISTRY_TABLES, district, truncate

FINISHED = {"succeeded", "failed", "cancelled"}


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 500 enterprises (5,000 in production), so a test's import has several."""
    monkeypatch.setattr(service, "IMPORT_CHUNK", 500)


@pytest.fixture
def slow_progress(monkeypatch):
    """Each progress report takes a moment longer, so that a poller sees the steps between."""
    report = JobStore.report_progress

    async def slowly(self, sessions, job_id, done, total):
        await report(self, sessions, job_id, done, total)
        await asyncio.sleep(0.2)

    monkeypatch.setattr(JobStore, "report_progress", slowly)


async def test_the_job_reports_progress_and_gives_the_synchronous_report(
    city, registry_app, worker, small_chunks, slow_progress
):
    body = import_csv(2_100, invalid=3)
    synchronous = await city.post("/enterprises/import", content=body, headers=CSV)
    assert synchronous.status_code == 200, synchronous.text
    expected = synchronous.json()
    assert expected["created"] == 2_100 and len(expected["rejected"]) == 3
    await truncate(registry_app, REGISTRY_TABLES)

    submitted = await city.post("/enterprises/import", content=body, headers=ASYNC)
    assert submitted.status_code == 202
    seen: list[dict[str, int]] = []
    job = await wait_for(city, submitted.headers["location"], FINISHED, seen=seen)
    assert job["status"] == "succeeded", job
    assert job["progress"] == {"done": 2_100, "total": 2_100}
    assert any(0 < step["done"] < step["total"] for step in seen if step["total"]), seen
    assert [step["done"] for step in seen] == sorted(step["done"] for step in seen)
    result = await city.get(job["result_url"])
    assert result.status_code == 200
    assert result.json() == expected
    assert await scalar(registry_app, "SELECT count(*) FROM enterprises") == 2_100
    assert await scalar(registry_app, "SELECT count(*) FROM enterprise_years") == 2_100


async def test_the_job_imports_as_the_district_that_sent_it(client_for, registry_app, worker):
    own = client_for(district("500103"))
    body = import_csv(3) + b"".join(import_csv(2, "500104").splitlines(keepends=True)[1:])
    submitted = await own.post("/enterprises/import", content=body, headers=ASYNC)
    job = await wait_for(own, submitted.headers["location"], FINISHED)
    assert job["status"] == "succeeded"
    report = (await own.get(job["result_url"])).json()
    assert report["created"] == 3 and [item["row"] for item in report["rejected"]] == [4, 5]
    assert report["rejected"][0]["errors"][0]["loc"] == ["district_code"]
    assert await scalar(registry_app, "SELECT count(*) FROM enterprises") == 3


async def test_an_atomic_import_with_invalid_rows_fails_and_writes_nothing(city, registry_app, worker):
    body = import_csv(20, invalid=2)
    submitted = await city.post("/enterprises/import", content=body, headers=ASYNC, params={"atomic": "true"})
    assert submitted.status_code == 202
    job = await wait_for(city, submitted.headers["location"], FINISHED)
    assert job["status"] == "failed"
    [problem] = job["errors"]
    assert problem["type"] == "/problems/import-refused" and problem["status"] == 422
    assert problem["instance"] == submitted.headers["location"]
    assert [error["loc"][:2] for error in problem["errors"]] == [["body", 21], ["body", 22]]
    assert (await city.get(f"{submitted.headers['location']}/result")).status_code == 409
    assert await scalar(registry_app, "SELECT count(*) FROM enterprises") == 0


async def test_a_running_import_cancelled_stops_between_chunks_and_writes_nothing(
    city, registry_app, worker, small_chunks, slow_progress
):
    submitted = await city.post("/enterprises/import", content=import_csv(3_000), headers=ASYNC)
    location = submitted.headers["location"]
    deadline = time.monotonic() + 60
    while (job := (await city.get(location)).json())["progress"]["done"] == 0:
        assert job["status"] not in FINISHED and time.monotonic() < deadline, job
        await asyncio.sleep(0.02)
    cancelled = await city.delete(location)
    assert cancelled.status_code == 202, cancelled.text
    job = await wait_for(city, location, FINISHED)
    assert job["status"] == "cancelled"
    assert 0 < job["progress"]["done"] < 3_000
    assert await scalar(registry_app, "SELECT count(*) FROM enterprises") == 0
    assert await scalar(registry_app, "SELECT count(*) FROM audit_log") == 0
    assert (await city.delete(location)).status_code == 200


async def test_a_worker_killed_mid_import_leaves_the_job_to_another_with_no_duplicates(
    city, registry_app, worker_process
):
    rows = 30_000
    submitted = await city.post("/enterprises/import", content=import_csv(rows), headers=ASYNC)
    assert submitted.status_code == 202
    location = submitted.headers["location"]
    first = worker_process()
    deadline = time.monotonic() + 120
    while True:
        job = (await city.get(location)).json()
        if 0 < job["progress"]["done"] < rows:
            break
        assert job["status"] not in FINISHED, f"the import finished before the worker could be killed: {job}"
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.01)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    # What the killed worker wrote died with its transaction.
    assert await scalar(registry_app, "SELECT count(*) FROM enterprises") == 0
    assert (await city.get(location)).json()["status"] == "running"

    worker_process()
    job = await wait_for(city, location, FINISHED, seconds=180)
    assert job["status"] == "succeeded", job
    report = (await city.get(job["result_url"])).json()
    assert report == {
        "rows": rows,
        "created": rows,
        "updated": 0,
        "unchanged": 0,
        "years_written": rows,
        "rejected": [],
    }
    assert await scalar(registry_app, "SELECT count(*) FROM enterprises") == rows
    assert await scalar(registry_app, "SELECT count(DISTINCT uscc) FROM enterprises") == rows
    assert await scalar(registry_app, "SELECT count(*) FROM enterprise_years") == rows
    assert await scalar(registry_app, "SELECT count(*) FROM audit_log") == rows
    assert await scalar(registry_app, "SELECT attempts FROM jobs") == 2
    assert await scalar(registry_app, "SELECT count(*) FROM jobs WHERE input IS NULL") == 1  # cleared once done


async def test_a_worker_stopped_mid_import_finishes_it_before_it_exits(city, registry_app, worker_process):
    """SIGTERM (a rolling update, a scale-down): the worker takes no new job and finishes the running one, however
    long it takes (shared.queue.run_worker waits without bound: a bounded wait would leave the job aborted for
    good); the orchestrator's SIGKILL after its own grace period is the other test's case."""
    rows = 20_000
    submitted = await city.post("/enterprises/import", content=import_csv(rows), headers=ASYNC)
    assert submitted.status_code == 202
    location = submitted.headers["location"]
    worker = worker_process()
    deadline = time.monotonic() + 120
    while True:
        job = (await city.get(location)).json()
        if 0 < job["progress"]["done"] < rows:
            break
        assert job["status"] not in FINISHED, f"the import finished before the worker could be stopped: {job}"
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.01)
    os.kill(worker.pid, signal.SIGTERM)
    assert await asyncio.to_thread(worker.wait, 180) == 0
    job = (await city.get(location)).json()
    assert (job["status"], job["progress"]) == ("succeeded", {"done": rows, "total": rows}), job
    assert await scalar(registry_app, "SELECT count(*) FROM enterprises") == rows
    assert await scalar(registry_app, "SELECT attempts FROM jobs") == 1
