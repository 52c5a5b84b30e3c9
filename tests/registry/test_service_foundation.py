"""What every request to the registry gets: signatures, problem+json, request ids, probes, migrations."""

import time

import pytest

from shared.auth import Principal, Role, sign_principal
from shared.requestid import make_request_id
from tests.registry.factories import enterprise
from tests.support import TEST_SECRET


async def test_unsigned_request_is_refused_and_nothing_written(client_for, city):
    response = await client_for(None).post("/enterprises", json=enterprise())
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 401 and body["request_id"] == response.headers["x-request-id"]
    assert (await city.get("/enterprises")).json()["items"] == []


def _signed(target: str, secret: str = TEST_SECRET, **options: float) -> dict[str, str]:
    return sign_principal(
        secret, "GET", target, Principal(Role.CITY), audience="registry", request_id=make_request_id(), **options
    )


async def test_forged_and_stale_signatures_are_refused(client_for):
    client = client_for(None)
    assert (await client.get("/districts", headers=_signed("/districts", "not-the-secret"))).status_code == 401
    response = await client.get("/districts", headers=_signed("/districts", now=time.time() - 3600))
    assert response.status_code == 401 and "older (or newer)" in response.json()["detail"]
    # A signature for one path does not open another.
    assert (await client.get("/districts", headers=_signed("/sectors"))).status_code == 401


async def test_anonymous_principal_needs_a_key(client_for):
    response = await client_for(Principal(Role.ANONYMOUS)).get("/districts")
    assert response.status_code == 401


async def test_probes_answer_without_a_signature(client_for):
    client = client_for(None)
    assert (await client.get("/healthz")).json() == {"status": "ok", "service": "registry"}
    assert (await client.get("/readyz")).json()["status"] == "ready"


async def test_request_id_is_echoed_or_made(city):
    assert (await city.get("/districts", headers={"X-Request-ID": "district-sys-42"})).headers[
        "x-request-id"
    ] == "district-sys-42"
    made = (await city.get("/districts", headers={"X-Request-ID": "bad id\nwith newline"})).headers["x-request-id"]
    assert made != "bad id\nwith newline" and len(made) == 32
    # The caller's own id, passed on by the gateway, is the one the caller sees again.
    mine = await city.get("/districts", headers={"X-Request-ID": "district-sys-43", "X-Client-Request-ID": "mine-1"})
    assert mine.headers["x-request-id"] == "mine-1"


async def test_unknown_route_and_wrong_method_are_problems(city):
    missing = await city.get("/nothing-here")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    wrong = await city.delete("/districts")
    assert wrong.status_code == 405 and wrong.json()["title"] == "Method Not Allowed"


async def test_malformed_json_is_a_400_problem(city):
    response = await city.post("/enterprises", content=b'{"uscc": ', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/malformed-json"


async def test_reference_data(city):
    districts = (await city.get("/districts")).json()
    assert len(districts) == 38
    kinds = {d["kind"] for d in districts}
    assert kinds == {"district", "county", "autonomous_county"}
    assert {"code": "500103", "name": "渝中区", "kind": "district"} in districts
    assert {"code": "500243", "name": "彭水苗族土家族自治县", "kind": "autonomous_county"} in districts
    assert sum(d["kind"] == "county" for d in districts) == 8
    sectors = (await city.get("/sectors")).json()
    assert len(sectors) == 18
    assert {"code": "supply_chain", "name_zh": "供应链管理", "name_en": "Supply chain management"} in sectors


@pytest.mark.parametrize("path", ["/enterprises", "/clusters", "/buildings", "/projects", "/audit"])
async def test_every_listing_rejects_a_forged_cursor(city, path):
    response = await city.get(path, params={"cursor": "not-a-cursor"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]
