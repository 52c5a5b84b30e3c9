"""What every request to the ranking service gets: signatures, problems, probes, migrations."""

import time

from shared.auth import Principal, Role, sign_principal
from tests.support import TEST_SECRET


async def test_unsigned_and_forged_requests_are_refused(client_for):
    client = client_for(None)
    response = await client.post("/runs", json={"year": 2025})
    assert response.status_code == 401 and response.headers["content-type"] == "application/problem+json"
    city = Principal(Role.CITY)
    forged = sign_principal("not-the-secret", "GET", "/rankings/2025", city, audience="ranking", request_id="r1")
    assert (await client.get("/rankings/2025", headers=forged)).status_code == 401
    stale = sign_principal(
        TEST_SECRET, "GET", "/methodologies", city, audience="ranking", request_id="r2", now=time.time() - 3600
    )
    assert (await client.get("/methodologies", headers=stale)).status_code == 401
    # A signature meant for another service does not open this one.
    elsewhere = sign_principal(TEST_SECRET, "GET", "/methodologies", city, audience="registry", request_id="r3")
    assert (await client.get("/methodologies", headers=elsewhere)).status_code == 401


async def test_probes_answer_without_a_signature(client_for):
    client = client_for(None)
    assert (await client.get("/healthz")).json() == {"status": "ok", "service": "ranking"}
    assert (await client.get("/readyz")).json()["status"] == "ready"


async def test_malformed_json_and_unknown_routes_are_problems(city):
    response = await city.post("/runs", content=b'{"year": ', headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["type"] == "/problems/malformed-json"
    assert (await city.get("/nothing")).status_code == 404
    assert (await city.delete("/methodologies")).status_code == 405
