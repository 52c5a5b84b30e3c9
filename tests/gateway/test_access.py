"""The gateway's coarse access matrix: every kind of route × every kind of caller (the upstream is the echo)."""

import httpx
import pytest
from fastapi import FastAPI

from gateway.access import rule_for
from gateway.proxy import _internal
from tests.gateway.helpers import bearer, make_key, revoke

Gw = tuple[FastAPI, httpx.AsyncClient]
OK = 200
CALLERS = ("anonymous", "city", "district", "auditor")

# (method, path, expected status for anonymous, city, district, auditor), written out by hand from API.md.
MATRIX: list[tuple[str, str, tuple[int, int, int, int]]] = [
    ("GET", "/api/v1/registry/districts", (401, OK, OK, OK)),
    ("GET", "/api/v1/registry/sectors", (401, OK, OK, OK)),
    ("GET", "/api/v1/registry/enterprises?district_code=500103", (401, OK, OK, OK)),
    ("POST", "/api/v1/registry/enterprises", (401, OK, OK, 403)),
    ("GET", "/api/v1/registry/enterprises/91500103MA5U000000", (401, OK, OK, OK)),
    ("PATCH", "/api/v1/registry/enterprises/91500103MA5U000000", (401, OK, OK, 403)),
    ("PUT", "/api/v1/registry/enterprises/91500103MA5U000000/years/2024", (401, OK, OK, 403)),
    ("POST", "/api/v1/registry/enterprises/import?atomic=true", (401, OK, OK, 403)),
    ("POST", "/api/v1/registry/clusters", (401, OK, OK, 403)),
    ("PUT", "/api/v1/registry/clusters/1/evaluations/2024", (401, OK, OK, 403)),
    ("GET", "/api/v1/registry/buildings", (401, OK, OK, OK)),
    ("PUT", "/api/v1/registry/buildings/1/years/2024", (401, OK, OK, 403)),
    ("POST", "/api/v1/registry/projects", (401, OK, OK, 403)),
    ("GET", "/api/v1/registry/projects/1", (401, OK, OK, OK)),
    ("GET", "/api/v1/registry/district-stats/2024", (401, OK, OK, OK)),
    ("GET", "/api/v1/registry/audit", (401, OK, 403, OK)),
    ("POST", "/api/v1/registry/projects/1/verification", (401, OK, 403, 403)),
    ("POST", "/api/v1/registry/enterprises/91500103MA5U000000/years/2024/verification", (401, OK, 403, 403)),
    ("POST", "/api/v1/registry/verifications", (401, OK, 403, 403)),
    ("GET", "/api/v1/registry/verifications", (401, OK, 403, OK)),
    ("GET", "/api/v1/registry/enterprise-registrations", (401, OK, 403, OK)),
    ("POST", "/api/v1/registry/enterprise-registrations/1/confirm", (401, OK, 403, 403)),
    ("GET", "/api/v1/eligibility/measures", (OK, OK, OK, OK)),
    ("GET", "/api/v1/eligibility/measures/M01", (OK, OK, OK, OK)),
    ("GET", "/api/v1/eligibility/parameters", (OK, OK, OK, OK)),
    ("POST", "/api/v1/eligibility/calculate", (OK, OK, OK, OK)),
    ("POST", "/api/v1/eligibility/calculate/batch", (OK, OK, OK, OK)),
    ("PUT", "/api/v1/eligibility/parameters/m01_ratio", (401, OK, 403, 403)),
    ("POST", "/api/v1/eligibility/screenings", (401, OK, OK, OK)),
    ("POST", "/api/v1/eligibility/simulations", (401, OK, OK, OK)),
    ("POST", "/api/v1/eligibility/screenings/snapshots", (401, OK, 403, 403)),
    ("GET", "/api/v1/eligibility/awards?district_code=500103", (401, OK, OK, OK)),
    ("POST", "/api/v1/eligibility/awards", (401, OK, 403, 403)),
    ("POST", "/api/v1/eligibility/awards/7/transitions", (401, OK, 403, 403)),
    ("GET", "/api/v1/eligibility/enterprises/91500103MA5U000000/matches", (401, OK, OK, OK)),
    ("GET", "/api/v1/eligibility/policies", (OK, OK, OK, OK)),
    ("POST", "/api/v1/eligibility/policies", (401, OK, 403, 403)),
    ("GET", "/api/v1/eligibility/calendar/2025", (OK, OK, OK, OK)),
    ("PUT", "/api/v1/eligibility/calendar/2027", (401, OK, 403, 403)),
    ("GET", "/api/v1/ranking/rankings/2025", (OK, OK, OK, OK)),
    ("GET", "/api/v1/ranking/rankings/2025/export.csv", (OK, OK, OK, OK)),
    ("GET", "/api/v1/ranking/methodologies", (OK, OK, OK, OK)),
    ("POST", "/api/v1/ranking/methodologies", (401, OK, 403, 403)),
    ("POST", "/api/v1/ranking/runs", (401, OK, 403, 403)),
    ("GET", "/api/v1/ranking/runs?year=2025", (401, OK, 403, OK)),
    ("GET", "/api/v1/ranking/runs/3", (401, OK, 403, OK)),
    ("GET", "/api/v1/ranking/runs/3/sensitivity?draws=10&seed=1", (401, OK, 403, OK)),
    ("POST", "/api/v1/ranking/runs/3/publish", (401, OK, 403, 403)),
    # Jobs (issue 17): every key holder follows, fetches and cancels the jobs it may see; the service scopes.
    ("GET", "/api/v1/registry/jobs/0b7e4a52-2f7c-4d7e-9a61-3c7f1b2f9e10", (401, OK, OK, OK)),
    ("GET", "/api/v1/registry/jobs/0b7e4a52-2f7c-4d7e-9a61-3c7f1b2f9e10/result", (401, OK, OK, OK)),
    ("DELETE", "/api/v1/registry/jobs/0b7e4a52-2f7c-4d7e-9a61-3c7f1b2f9e10", (401, OK, OK, OK)),
    ("GET", "/api/v1/eligibility/jobs/0b7e4a52-2f7c-4d7e-9a61-3c7f1b2f9e10", (401, OK, OK, OK)),
    ("GET", "/api/v1/eligibility/jobs/0b7e4a52-2f7c-4d7e-9a61-3c7f1b2f9e10/result", (401, OK, OK, OK)),
    ("DELETE", "/api/v1/eligibility/jobs/0b7e4a52-2f7c-4d7e-9a61-3c7f1b2f9e10", (401, OK, OK, OK)),
    # Notifications: the auditor subscribes too (it watches the whole city); nothing without a key.
    ("POST", "/api/v1/notifications/subscriptions", (401, OK, OK, OK)),
    ("GET", "/api/v1/notifications/subscriptions", (401, OK, OK, OK)),
    ("GET", "/api/v1/notifications/subscriptions/5", (401, OK, OK, OK)),
    ("PATCH", "/api/v1/notifications/subscriptions/5", (401, OK, OK, OK)),
    ("DELETE", "/api/v1/notifications/subscriptions/5", (401, OK, OK, OK)),
    ("POST", "/api/v1/notifications/subscriptions/5/ping", (401, OK, OK, OK)),
    ("GET", "/api/v1/notifications/subscriptions/5/deliveries", (401, OK, OK, OK)),
    ("POST", "/api/v1/notifications/deliveries/9/redeliver", (401, OK, OK, OK)),
    ("GET", "/api/v1/notifications/events?cursor=abc", (401, OK, OK, OK)),
]


@pytest.fixture
async def keys(gw: Gw) -> dict[str, str | None]:
    app, _ = gw
    return {
        "anonymous": None,
        "city": await make_key(app, "city"),
        "district": await make_key(app, "district", "500103"),
        "auditor": await make_key(app, "auditor"),
    }


@pytest.mark.parametrize(("method", "path", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
async def test_access_matrix(gw: Gw, keys: dict[str, str | None], method: str, path: str, expected: tuple) -> None:
    _, client = gw
    for caller, status in zip(CALLERS, expected, strict=True):
        key = keys[caller]
        response = await client.request(
            method, path, headers=bearer(key) if key else {}, json={} if method != "GET" else None
        )
        assert response.status_code == status, f"{caller}: {response.status_code} {response.text[:300]}"
        if status == OK:
            echoed = response.json()
            assert echoed["principal"]["role"] == caller
            assert echoed["method"] == method
        else:
            assert response.headers["content-type"] == "application/problem+json"
            body = response.json()
            assert body["status"] == status
            assert body["instance"] == path.split("?")[0]
            assert body["request_id"] == response.headers["x-request-id"]
            if status == 401:
                assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_district_key_carries_its_district(gw: Gw, keys: dict[str, str | None]) -> None:
    _, client = gw
    response = await client.get("/api/v1/registry/enterprises", headers=bearer(str(keys["district"])))
    assert response.json()["principal"] == {"role": "district", "district": "500103"}


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer cqk_000000000000_" + "A" * 43,  # well-formed, unknown
        "Bearer nonsense",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
    ],
)
async def test_a_bad_key_is_401_even_on_a_public_route(gw: Gw, authorization: str) -> None:
    _, client = gw
    for path in ("/api/v1/eligibility/measures", "/api/v1/registry/districts"):
        response = await client.get(path, headers={"Authorization": authorization})
        assert response.status_code == 401, path
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_tampered_key_is_refused(gw: Gw, keys: dict[str, str | None]) -> None:
    _, client = gw
    key = str(keys["city"])
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert (await client.get("/api/v1/registry/districts", headers=bearer(tampered))).status_code == 401
    assert (await client.get("/api/v1/registry/districts", headers=bearer(key))).status_code == 200


async def test_a_revoked_key_is_refused(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    assert (await client.get("/api/v1/registry/districts", headers=bearer(key))).status_code == 200
    await revoke(app, key)
    response = await client.get("/api/v1/registry/districts", headers=bearer(key))
    assert response.status_code == 401
    assert response.json()["detail"] == "The API key is not valid or has been revoked."


INTERNAL_PATHS = [
    "/outbox/events",
    "/outbox/events?after=MTIzLjQ1&limit=1000",
    "/outbox",
    "/outbox/",
    "//outbox/events",
    "/OutBox/events",
    "/%6Futbox/events",
]


@pytest.mark.parametrize("service", ["registry", "eligibility", "ranking", "monitoring", "notifications"])
async def test_the_outbox_feeds_are_never_routed_for_any_key(gw: Gw, keys: dict[str, str | None], service: str) -> None:
    # The outbox is the system's own feed (signed as a service, for the notifications relay): 404 for every caller,
    # before the key is even looked at, and nothing reaches the service.
    _, client = gw
    for path in INTERNAL_PATHS:
        for caller in (*CALLERS, "malformed"):
            key = keys.get(caller) if caller != "malformed" else "nonsense"
            for method in ("GET", "POST", "DELETE"):
                response = await client.request(method, f"/api/v1/{service}{path}", headers=bearer(key) if key else {})
                assert response.status_code == 404, (service, path, caller, method, response.text[:300])
                assert response.headers["content-type"] == "application/problem+json"
                assert "internal feeds" in response.json()["detail"]
                assert "principal" not in response.json()  # the echo service was never reached
    # A path that merely contains the word is the service's to answer.
    city = bearer(str(keys["city"]))
    response = await client.get(f"/api/v1/{service}/enterprises/outbox", headers=city)
    assert response.status_code == 200 and response.json()["principal"]["role"] == "city"


def test_dot_segments_do_not_hide_the_outbox() -> None:
    # Clients resolve `.` and `..` themselves (httpx does), but a raw request line need not.
    assert all(_internal(path) for path in ("/./outbox/events", "/../outbox", "//./outbox/", "/OUTBOX"))
    assert not any(_internal(path) for path in ("/things/outbox", "/outboxes", "/", "", "/events"))


def test_the_access_rules_refuse_the_outbox_to_every_role() -> None:
    for service in ("registry", "eligibility", "ranking", "notifications"):
        for method in ("GET", "HEAD", "POST", "DELETE"):
            rule = rule_for(service, method, "/outbox/events")
            assert rule is not None and rule.roles == frozenset(), (service, method)


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
async def test_unusual_methods_are_405(gw: Gw, keys: dict[str, str | None], method: str) -> None:
    _, client = gw
    response = await client.request(method, "/api/v1/registry/districts", headers=bearer(str(keys["city"])))
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
