"""Every service's /metrics (shared/metrics.py, shared/app.py): who may read it, and that it counts the requests by
route template, the database pool, heavy work and the calls to other services, each exactly."""

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import Field

from gateway import GATEWAY_DIR
from shared.admission import HeavyWorkSettings, heavy_work
from shared.app import create_service_app
from shared.errors import Forbidden, Unauthorized
from shared.http import ServiceClient
from shared.metrics import check_metrics_reader
from shared.settings import ServiceSettings
from tests.support import AUDITOR, CITY, TEST_SECRET, TestDatabase, asgi_client

TOKEN = "a-metrics-token-of-the-tests"


class ProbeSettings(ServiceSettings):
    service_name: str = "probe"
    heavy: HeavyWorkSettings = Field(
        default_factory=lambda: HeavyWorkSettings(process_units=10, caller_units=10, anonymous_units=10)
    )


upstream = FastAPI()


@upstream.get("/answer")
async def answer() -> dict[str, int]:
    return {"answer": 42}


@upstream.get("/broken")
async def broken() -> None:
    raise RuntimeError("a bug upstream")


router = APIRouter()
entered, release = asyncio.Event(), asyncio.Event()


@router.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    return {"id": item_id}


@router.get("/heavy", dependencies=[heavy_work(lambda request, principal: 10)])
async def heavy() -> dict[str, str]:
    entered.set()
    await release.wait()
    return {"status": "done"}


@router.get("/reads/{path}")
async def reads(path: str) -> dict[str, object]:
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=upstream, raise_app_exceptions=False), base_url="http://up"
    )
    async with http:
        client = ServiceClient(http, upstream="upstream", secret=TEST_SECRET, retries=1, backoff_seconds=0.001)
        return {"found": await client.get(f"/{path}")}


@pytest.fixture(scope="module")
def database() -> Iterator[TestDatabase]:
    # Any migrated database will do (the gateway's is the smallest); the probe's own routes write nothing.
    yield from TestDatabase("probe", GATEWAY_DIR).lifecycle()


def probe_app(database: TestDatabase, **settings: object) -> FastAPI:
    values = {"database_url": database.url, "environment": "test", **settings}
    return create_service_app(
        settings=ProbeSettings.model_validate(values), title="probe", version="0", description="", routers=[router]
    )


@pytest.fixture
async def app(database: TestDatabase) -> AsyncIterator[FastAPI]:
    application = probe_app(database, metrics_token=TOKEN)
    async with application.router.lifespan_context(application):
        yield application


async def scrape(app: FastAPI) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the app's /metrics, read as Prometheus reads it (with the token, no signature)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_the_metrics_reader_needs_the_token_once_there_is_one() -> None:
    def settings(**values: object) -> ServiceSettings:
        return ServiceSettings.model_validate({"database_url": "postgresql+asyncpg://u@h/db", **values})

    check_metrics_reader(settings(environment="test"), None)  # no token outside production: anyone
    with pytest.raises(Forbidden):
        check_metrics_reader(settings(environment="production", internal={"secret": "x" * 40}), "Bearer anything")
    guarded = settings(environment="test", metrics_token=TOKEN)
    check_metrics_reader(guarded, f"Bearer {TOKEN}")
    check_metrics_reader(guarded, f"bearer {TOKEN}")
    for missing in (None, "", f"Basic {TOKEN}", "Bearer "):
        with pytest.raises(Unauthorized):
            check_metrics_reader(guarded, missing)
    with pytest.raises(Forbidden):
        check_metrics_reader(guarded, "Bearer another-token")


async def test_metrics_are_read_with_the_token_without_a_signature_and_are_not_in_the_document(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
        refused = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer wrong"})
        read = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (refused.status_code, wrong.status_code, read.status_code) == (401, 403, 200)
    assert refused.headers["content-type"] == "application/problem+json"
    assert "service_requests_total" in read.text
    assert "/metrics" not in app.openapi()["paths"]


async def test_requests_are_counted_by_route_template_and_status(app: FastAPI) -> None:
    async with asgi_client(app, CITY) as client:
        for item_id in (1, 2, 3):
            assert (await client.get(f"/items/{item_id}")).status_code == 200
        assert (await client.get("/items/x")).status_code == 422
        assert (await client.get("/nowhere/at/all")).status_code == 404
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe") as unsigned:
        assert (await unsigned.get("/items/4")).status_code == 401  # refused before routing
    samples = await scrape(app)
    requests = {
        labels: value
        for (name, labels), value in samples.items()
        if name == "service_requests_total" and dict(labels)["route"] != "/metrics"
    }
    assert requests == {
        (("method", "GET"), ("route", "/items/{item_id}"), ("status", "200")): 3.0,
        (("method", "GET"), ("route", "/items/{item_id}"), ("status", "422")): 1.0,
        (("method", "GET"), ("route", "unmatched"), ("status", "404")): 1.0,
        (("method", "GET"), ("route", "unmatched"), ("status", "401")): 1.0,
    }
    count = (("method", "GET"), ("route", "/items/{item_id}"))
    assert samples[("service_request_duration_seconds_count", count)] == 4.0
    assert samples[("service_request_duration_seconds_bucket", tuple(sorted((*count, ("le", "+Inf")))))] == 4.0


async def test_a_method_outside_the_standard_ones_is_counted_as_other(app: FastAPI) -> None:
    # Whatever the HTTP parser accepts reaches the app (WebDAV's methods, made-up ones): one label for all of them.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe") as unsigned:
        for method in ("PROPFIND", "MKCALENDAR", "BREW", "PATCH", "PATCH"):
            assert (await unsigned.request(method, "/items/1")).status_code == 401
    requests = {
        dict(labels)["method"]: value
        for (name, labels), value in (await scrape(app)).items()
        if name == "service_requests_total" and dict(labels)["route"] != "/metrics"
    }
    assert requests == {"other": 3.0, "PATCH": 2.0}


async def test_the_database_pool_is_read_when_scraped(app: FastAPI) -> None:
    def pool(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[str, float]:
        return {name: value for (name, _), value in samples.items() if name.startswith("service_db_pool_")}

    assert pool(await scrape(app)) == {
        "service_db_pool_size": 10.0,
        "service_db_pool_max_connections": 20.0,
        "service_db_pool_checked_out": 0.0,
        "service_db_pool_overflow": 0.0,
    }
    async with app.state.engine.connect() as first, app.state.engine.connect() as second:
        await first.exec_driver_sql("SELECT 1")
        await second.exec_driver_sql("SELECT 1")
        assert pool(await scrape(app))["service_db_pool_checked_out"] == 2.0
    assert pool(await scrape(app))["service_db_pool_checked_out"] == 0.0


async def test_a_smaller_pool_from_the_settings_is_what_the_metrics_say(database: TestDatabase) -> None:
    application = probe_app(database, metrics_token=TOKEN, database_pool_size=2, database_max_overflow=1)
    async with application.router.lifespan_context(application):
        samples = await scrape(application)
        connections = [application.state.engine.connect() for _ in range(3)]
        for connection in connections:
            await connection.__aenter__()
        try:
            busy = await scrape(application)
        finally:
            for connection in connections:
                await connection.__aexit__(None, None, None)
    assert (samples[("service_db_pool_size", ())], samples[("service_db_pool_max_connections", ())]) == (2.0, 3.0)
    assert (busy[("service_db_pool_checked_out", ())], busy[("service_db_pool_overflow", ())]) == (3.0, 1.0)


async def test_heavy_work_in_use_admitted_and_refused(app: FastAPI) -> None:
    def jobs(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[str, float]:
        return {
            name + "".join(f"[{value}]" for _, value in labels): value_
            for (name, labels), value_ in samples.items()
            if name.startswith("service_jobs_")
        }

    assert jobs(await scrape(app)) == {
        "service_jobs_capacity_units": 10.0,
        "service_jobs_in_use_units": 0.0,
        "service_jobs_admitted_total": 0.0,
        "service_jobs_refused_total[caller]": 0.0,
        "service_jobs_refused_total[process]": 0.0,
    }
    entered.clear()
    release.clear()
    async with asgi_client(app, CITY) as city, asgi_client(app, AUDITOR) as auditor:
        running = asyncio.create_task(city.get("/heavy"))
        await asyncio.wait_for(entered.wait(), 10)
        assert (await city.get("/heavy")).status_code == 429  # the city's share is in use
        assert (await auditor.get("/heavy")).status_code == 503  # the process's capacity is
        during = jobs(await scrape(app))
        release.set()
        assert (await running).status_code == 200
    assert during == {
        "service_jobs_capacity_units": 10.0,
        "service_jobs_in_use_units": 10.0,
        "service_jobs_admitted_total": 1.0,
        "service_jobs_refused_total[caller]": 1.0,
        "service_jobs_refused_total[process]": 1.0,
    }
    assert jobs(await scrape(app))["service_jobs_in_use_units"] == 0.0


async def test_calls_to_other_services_are_counted_by_upstream_and_outcome(app: FastAPI) -> None:
    async with asgi_client(app, CITY) as client:
        assert (await client.get("/reads/answer")).json() == {"found": {"answer": 42}}
        assert (await client.get("/reads/answer")).status_code == 200
        assert (await client.get("/reads/missing")).json() == {"found": None}
        assert (await client.get("/reads/broken")).status_code == 503
    samples = await scrape(app)
    calls = {
        dict(labels)["outcome"]: value
        for (name, labels), value in samples.items()
        if name == "service_upstream_requests_total"
    }
    assert calls == {"ok": 2.0, "not_found": 1.0, "failed": 1.0}
    assert samples[("service_upstream_request_duration_seconds_count", (("upstream", "upstream"),))] == 4.0
    # A 500 is not retried (shared.http): no retry was counted.
    assert not any(name == "service_upstream_retries_total" for name, _ in samples)


async def test_each_app_counts_in_a_registry_of_its_own(database: TestDatabase) -> None:
    first, second = probe_app(database, metrics_token=TOKEN), probe_app(database, metrics_token=TOKEN)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        async with asgi_client(first, CITY) as client:
            await client.get("/items/1")
        counted = [
            sum(
                v
                for (n, labels), v in (await scrape(app)).items()
                if ("route", "/items/{item_id}") in labels and n == "service_requests_total"
            )
            for app in (first, second)
        ]
    assert counted == [1.0, 0.0]
