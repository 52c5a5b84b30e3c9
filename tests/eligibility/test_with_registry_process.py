"""Screening against the registry running as a real uvicorn process on a free port, then with it stopped."""

import pytest

from services.eligibility.main import create_app
from tests.eligibility.conftest import eligibility_settings
from tests.eligibility.scenario import TOTAL_2025, expected_eligible, seed
from tests.support import CITY, asgi_client

pytestmark = pytest.mark.e2e


async def test_screening_over_http_then_registry_stopped(registry_process, eligibility_database, registry):
    url, process = registry_process
    scenario = await seed(registry)  # written through the in-process registry app: the same database
    app = create_app(eligibility_settings(eligibility_database.url, registry_url=url, registry_retries=1))
    async with app.router.lifespan_context(app):
        client = asgi_client(app, CITY)
        response = await client.post("/screenings", json={"as_of": "2025-06-30", "year": 2025})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["totals"]["amount_yuan"] == str(TOTAL_2025)
        found = {(e["measure_id"], e["subject_id"], e["district_code"], e["amount_yuan"]) for e in body["eligible"]}
        assert found == expected_eligible(scenario)
        matches = await client.get(f"/enterprises/{scenario.e1}/matches", params={"as_of": "2025-06-30", "year": 2025})
        assert matches.status_code == 200, matches.text
        # e1's own 2025 money: （一）1,234,567.90 + （十三）30.02 + （七）M07b 1,000,000.00; its district's: （三）6,000,000.00
        # (the cluster it manages belongs to 渝中区) + （七）M07a 5,000,000.00.
        assert matches.json()["total_amount_yuan"] == "2234597.92"
        assert matches.json()["amount_to_others_yuan"] == "11000000.00"

        process.terminate()
        process.wait(timeout=10)
        down = await client.post("/screenings", json={"as_of": "2025-06-30", "year": 2025})
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        still = await client.post("/calculate", json={"measure_id": "M06", "as_of": "2025-06-30", "facts": {"rank": 1}})
        assert still.status_code == 200 and still.json()["amount_yuan"] == "5000000.00"
