"""The job resources (shared/jobs.py) as the registry serves them: submit, status, result, cancel, scoping."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text, update

from services.registry.dependencies import get_settings
from services.registry.jobs import store
from services.registry.models import jobs
from shared.clock import utcnow
from shared.jobs import prefers_async
from tests.jobs.conftest import scalar
from tests.jobs.support import ASYNC, CSV, import_csv
from tests.support import ANONYMOUS, AUDITOR, CITY, district


async def submit(client, body: bytes | None = None, **headers: str):
    response = await client.post(
        "/enterprises/import", content=body if body is not None else import_csv(2), headers={**ASYNC, **headers}
    )
    assert response.status_code == 202, response.text
    return response


async def set_job(app, job_id: str, **values) -> None:
    async with app.state.sessionmaker.begin() as session:
        await session.execute(update(jobs).where(jobs.c.id == uuid.UUID(job_id)).values(**values))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["respond-async"], True),
        (["RESPOND-ASYNC"], True),
        (["handling=lenient, respond-async, wait=10"], True),
        (["return=minimal", "respond-async; foo=bar"], True),
        (['wait=10;respond-async="x"'], False),
        (["respond-asynchronously"], False),
        (["return=representation"], False),
        ([], False),
    ],
)
def test_prefer_is_read_as_rfc_7240_says(values, expected):
    assert prefers_async(values) is expected


async def test_an_import_with_prefer_respond_async_answers_202_and_the_job(city, registry_app):
    response = await submit(city)
    job = response.json()
    assert response.headers["location"] == f"/jobs/{job['id']}"
    assert response.headers["preference-applied"] == "respond-async"
    assert job["kind"] == "enterprise-import"
    assert job["status"] == "queued"
    assert job["progress"] == {"done": 0, "total": None}
    assert job["result_url"] is None and job["errors"] == [] and job["started_at"] is None
    # Nothing imported yet; the job and its queued task are committed with the request.
    assert await scalar(registry_app, "SELECT count(*) FROM enterprises") == 0
    assert await scalar(registry_app, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'") == 1
    read = await city.get(response.headers["location"])
    assert read.status_code == 200 and read.json() == job


async def test_a_body_above_the_threshold_is_a_job_without_prefer(city, registry_app):
    settings = registry_app.state.settings.model_copy(update={"import_async_threshold_bytes": 1024})

    async def low_threshold():
        return settings

    registry_app.dependency_overrides[get_settings] = low_threshold
    try:
        small = await city.post("/enterprises/import", content=import_csv(1), headers=CSV)
        assert small.status_code == 200 and small.json()["created"] == 1
        large = await city.post("/enterprises/import", content=import_csv(30), headers=CSV)
        assert large.status_code == 202, large.text
        assert large.json()["status"] == "queued"
    finally:
        registry_app.dependency_overrides.pop(get_settings)


async def test_the_same_idempotency_key_answers_the_same_job(city, registry_app):
    body = import_csv(3)
    first = await submit(city, body, **{"idempotency-key": "import-1"})
    again = await submit(city, body, **{"idempotency-key": "import-1"})
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    # Sent without Prefer, it still answers the job (the first answer), as it is now.
    await set_job(registry_app, first.json()["id"], status="running", progress_done=1, progress_total=3)
    plain = await city.post("/enterprises/import", content=body, headers={**CSV, "idempotency-key": "import-1"})
    assert plain.status_code == 202
    assert plain.json()["id"] == first.json()["id"] and plain.json()["progress"] == {"done": 1, "total": 3}
    other = await city.post(
        "/enterprises/import", content=import_csv(1), headers={**ASYNC, "idempotency-key": "import-1"}
    )
    assert other.status_code == 422
    assert await scalar(registry_app, "SELECT count(*) FROM jobs") == 1


async def test_a_content_type_no_import_takes_is_refused_at_once(city, registry_app):
    response = await city.post(
        "/enterprises/import", content=b"x", headers={"content-type": "text/plain", "prefer": "respond-async"}
    )
    assert response.status_code == 415
    assert await scalar(registry_app, "SELECT count(*) FROM jobs") == 0
    assert await scalar(registry_app, "SELECT count(*) FROM procrastinate_jobs") == 0


async def test_unknown_and_invalid_job_ids(city):
    missing = await city.get(f"/jobs/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert (await city.get("/jobs/not-a-uuid")).status_code == 422
    assert (await city.delete(f"/jobs/{uuid.uuid4()}")).status_code == 404
    assert (await city.get(f"/jobs/{uuid.uuid4()}/result")).status_code == 404


async def test_district_keys_see_their_own_district_s_jobs_only(client_for, registry_app):
    own = client_for(district("500103"))
    location = (await submit(own)).headers["location"]
    assert (await own.get(location)).status_code == 200
    other = client_for(district("500104"))
    assert (await other.get(location)).status_code == 404
    assert (await other.get(f"{location}/result")).status_code == 404
    assert (await other.delete(location)).status_code == 404
    assert (await client_for(AUDITOR).get(location)).status_code == 200
    assert (await client_for(AUDITOR).delete(location)).status_code == 403
    assert (await client_for(ANONYMOUS).get(location)).status_code == 401
    # A job of the city's is not a district's to read.
    city_job = (await submit(client_for(CITY))).headers["location"]
    assert (await own.get(city_job)).status_code == 404


async def test_cancel_a_queued_job(city, registry_app):
    location = (await submit(city)).headers["location"]
    response = await city.delete(location)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled" and response.json()["finished_at"] is not None
    # Cancelled in the queue too: no worker will run it.
    assert await scalar(registry_app, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'cancelled'") == 1
    again = await city.delete(location)
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    result = await city.get(f"{location}/result")
    assert result.status_code == 409
    assert result.json()["type"] == "/problems/job-state" and result.json()["job_status"] == "cancelled"


async def test_cancel_a_running_job_asks_it_to_stop(city, registry_app):
    location = (await submit(city)).headers["location"]
    await set_job(registry_app, location.rsplit("/", 1)[1], status="running")
    response = await city.delete(location)
    assert response.status_code == 202
    assert response.json()["status"] == "running"
    async with registry_app.state.engine.connect() as connection:
        assert (await connection.execute(text("SELECT cancel_requested FROM jobs"))).scalar_one() is True


async def test_a_finished_job_cannot_be_cancelled_and_serves_its_result(city, registry_app):
    location = (await submit(city)).headers["location"]
    job_id = location.rsplit("/", 1)[1]
    report = {"rows": 2, "created": 2, "updated": 0, "unchanged": 0, "years_written": 2, "rejected": []}
    await set_job(registry_app, job_id, status="succeeded", result=report, progress_done=2, progress_total=2)
    job = (await city.get(location, headers={"x-forwarded-prefix": "/api/v1/registry"})).json()
    assert job["result_url"] == f"/api/v1/registry/jobs/{job_id}/result"
    assert (await city.get(f"{location}/result")).json() == report
    refused = await city.delete(location)
    assert refused.status_code == 409
    assert refused.json()["job_status"] == "succeeded"


async def test_a_file_result_is_served_as_the_file(city, registry_app):
    location = (await submit(city)).headers["location"]
    await set_job(
        registry_app,
        location.rsplit("/", 1)[1],
        status="succeeded",
        result_file=b"a,b\n1,2\n",
        result_media_type="text/csv; charset=utf-8",
        result_filename="awards.csv",
    )
    response = await city.get(f"{location}/result")
    assert response.status_code == 200
    assert response.content == b"a,b\n1,2\n"
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="awards.csv"'


async def test_a_failed_job_names_its_problems_at_the_caller_s_path(city, registry_app):
    location = (await submit(city)).headers["location"]
    job_id = location.rsplit("/", 1)[1]
    problem = {
        "type": "/problems/import-refused",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "1 of 2 rows are invalid; with atomic=true nothing was written.",
        "instance": location,
        "request_id": None,
        "errors": [{"loc": ["body", 2, "uscc"], "msg": "bad check character"}],
    }
    await set_job(registry_app, job_id, status="failed", errors=[problem])
    job = (await city.get(location, headers={"x-forwarded-prefix": "/api/v1/registry"})).json()
    assert job["status"] == "failed" and job["result_url"] is None
    assert job["errors"] == [{**problem, "instance": f"/api/v1/registry/jobs/{job_id}"}]
    assert (await city.delete(location)).status_code == 409


async def test_a_caller_has_at_most_ten_jobs_waiting_and_the_eleventh_is_a_429(client_for, registry_app):
    """Each job holds its input in the database and a place in the queue: a district's keys together may have
    MAX_UNFINISHED_PER_REQUESTER (10) queued or running; another district, or the city, is not held back by them."""
    own = client_for(district("500103"))
    for _ in range(10):
        await submit(own, import_csv(1, "500103"))
    refused = await own.post("/enterprises/import", content=import_csv(1, "500103"), headers=ASYNC)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/too-many-jobs"
    assert refused.headers["retry-after"] == "30"
    assert await scalar(registry_app, "SELECT count(*) FROM jobs") == 10
    await submit(client_for(district("500105")), import_csv(1, "500105"))
    # One ends (cancelled): the district may submit again.
    async with registry_app.state.engine.connect() as connection:
        job_id = (
            await connection.execute(text("SELECT id FROM jobs WHERE requester_district = '500103' LIMIT 1"))
        ).scalar_one()
    assert (await own.delete(f"/jobs/{job_id}")).status_code == 200
    await submit(own, import_csv(1, "500103"))
    assert await scalar(registry_app, "SELECT count(*) FROM jobs") == 12


async def test_finished_jobs_are_pruned_after_their_retention_and_no_other(city, registry_app):
    ids = [(await submit(city)).json()["id"] for _ in range(4)]
    now = utcnow()
    # Succeeded 40 days ago, failed 40 days ago, cancelled yesterday; the fourth still queued (created long ago).
    await set_job(registry_app, ids[0], status="succeeded", finished_at=now - timedelta(days=40))
    await set_job(registry_app, ids[1], status="failed", finished_at=now - timedelta(days=40))
    await set_job(registry_app, ids[2], status="cancelled", finished_at=now - timedelta(days=1))
    await set_job(registry_app, ids[3], created_at=now - timedelta(days=90))
    async with registry_app.state.sessionmaker.begin() as session:
        assert await store.prune(session, finished_before=now - timedelta(days=30)) == 2
    assert [(await city.get(f"/jobs/{job_id}")).status_code for job_id in ids] == [404, 404, 200, 200]
