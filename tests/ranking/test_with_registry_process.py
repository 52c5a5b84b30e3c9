"""A run against the registry running as a real uvicorn process on a free port, then with it stopped."""

import httpx
import pytest

from services.ranking.main import create_app
from tests.ranking.conftest import TODAY, ranking_settings
from tests.ranking.doubles import upstreams_in_process
from tests.ranking.scenario import EXPECTED, seed
from tests.support import CITY, asgi_client

pytestmark = pytest.mark.e2e


async def test_a_run_over_http_then_registry_stopped(
    registry_process, ranking_database, eligibility_app, registry, city
):
    url, process = registry_process
    await seed(registry)  # written through the in-process registry app: the same database
    in_process = (await city.post("/runs", json={"year": 2025, "as_of": "2026-03-31"})).json()
    settings = ranking_settings(ranking_database.url, registry_url=url, upstream_retries=1)
    app = create_app(settings)
    eligibility = httpx.ASGITransport(app=eligibility_app)
    async with upstreams_in_process(app, settings, eligibility=eligibility), app.router.lifespan_context(app):
        app.state.clock.hold(TODAY)
        client = asgi_client(app, CITY)
        response = await client.post("/runs", json={"year": 2025, "as_of": "2026-03-31"})
        assert response.status_code == 201, response.text
        body = response.json()
        assert {row["district_code"]: (row["score"], row["rank"]) for row in body["rows"]} == EXPECTED
        assert body["input_hash"] == in_process["input_hash"]

        process.terminate()
        process.wait(timeout=10)
        down = await client.post("/runs", json={"year": 2025, "as_of": "2026-03-31"})
        assert down.status_code == 503 and down.headers["content-type"] == "application/problem+json"
        assert "registry" in down.json()["detail"]
        # What is stored keeps answering without the registry.
        assert (await client.get(f"/runs/{body['run_id']}")).json()["rows"] == body["rows"]
