"""The auth matrix over every registry route, through the real gateway to the real registry.

Callers: no key, a key that does not exist, a revoked key, city, auditor, the district that owns the record
(500103) and another district (500105). Records under test all belong to 500103. A route the registry serves
but this table does not name fails the coverage test, so a new route cannot slip past the matrix.
"""

import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.keys.admin import run_in_session
from gateway.keys.service import revoke_key
from shared.uscc import ALPHABET, make_uscc
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

OWN, FOREIGN = "500103", "500105"
CALLERS = ("none", "bad", "revoked", "city", "auditor", "own", "foreign")
_counter = itertools.count(1)
_rng = random.Random(6)


def new_uscc(district: str = OWN) -> str:
    return make_uscc("91" + district + "".join(_rng.choice(ALPHABET) for _ in range(9)))


def enterprise_body(district: str = OWN) -> dict[str, Any]:
    return {
        "uscc": new_uscc(district),
        "name": f"矩阵测试企业{next(_counter)}有限公司",
        "district_code": district,
        "sector": "software_it",
        "established_on": "2015-03-01",
        "spun_off_from_manufacturer": False,
    }


@dataclass
class Records:
    enterprise: str
    cluster: int
    building: int
    project: int


@pytest.fixture(scope="module")
def records(stack: Stack, city: httpx.Client) -> Records:
    enterprise = city.post("/api/v1/registry/enterprises", json=enterprise_body())
    assert enterprise.status_code == 201, enterprise.text
    uscc = enterprise.json()["uscc"]
    cluster = city.post("/api/v1/registry/clusters", json={"name": "矩阵集聚区", "district_code": OWN})
    building = city.post(
        "/api/v1/registry/buildings",
        json={"name": "矩阵大厦", "district_code": OWN, "stars": 4, "operator_uscc": uscc},
    )
    project = city.post(
        "/api/v1/registry/projects",
        json={
            "kind": "event",
            "owner_uscc": uscc,
            "district_code": OWN,
            "name": "矩阵论坛",
            "year": 2025,
            "actual_spend_yuan": "800000.00",
        },
    )
    for response in (cluster, building, project):
        assert response.status_code == 201, response.text

    async def revoke(session: AsyncSession) -> None:
        await revoke_key(session, stack.keys["revoked"])

    assert stack.gateway_db is not None
    run_in_session(stack.gateway_db.url, revoke)
    return Records(uscc, cluster.json()["id"], building.json()["id"], project.json()["id"])


OK = "ok"  # any 2xx


@dataclass(frozen=True)
class Case:
    method: str
    template: str  # the registry's own path template, as in its OpenAPI document
    path: Callable[[Records], str]
    body: Callable[[], Any] | None
    allowed: frozenset[str]  # callers that succeed; every other caller with a valid key gets 403
    refused_status: int = 403


def reads(*callers: str) -> frozenset[str]:
    return frozenset(callers)


EVERY_KEY = reads("city", "auditor", "own", "foreign")
OWN_READERS = reads("city", "auditor", "own")
OWN_WRITERS = reads("city", "own")

CASES: list[Case] = [
    Case("GET", "/districts", lambda r: "/districts", None, EVERY_KEY),
    Case("GET", "/sectors", lambda r: "/sectors", None, EVERY_KEY),
    Case("POST", "/enterprises", lambda r: "/enterprises", enterprise_body, OWN_WRITERS),
    Case("GET", "/enterprises", lambda r: f"/enterprises?district_code={OWN}", None, OWN_READERS),
    Case(
        "POST",
        "/enterprises/import",
        lambda r: "/enterprises/import?atomic=true",
        lambda: [
            enterprise_body() | {"year": 2024, "revenue_yuan": "12000000.00", "employees": 30, "above_scale": True}
        ],
        OWN_WRITERS,
        refused_status=422,
    ),
    Case("GET", "/enterprises/{uscc}", lambda r: f"/enterprises/{r.enterprise}", None, OWN_READERS),
    Case(
        "PATCH",
        "/enterprises/{uscc}",
        lambda r: f"/enterprises/{r.enterprise}",
        lambda: {"name": f"矩阵测试企业改名{next(_counter)}有限公司"},
        OWN_WRITERS,
    ),
    Case(
        "PUT",
        "/enterprises/{uscc}/years/{year}",
        lambda r: f"/enterprises/{r.enterprise}/years/2024",
        lambda: {"revenue_yuan": f"{next(_counter) * 1000}.00", "employees": 20, "above_scale": False},
        OWN_WRITERS,
    ),
    Case(
        "POST", "/clusters", lambda r: "/clusters", lambda: {"name": "矩阵新集聚区", "district_code": OWN}, OWN_WRITERS
    ),
    Case("GET", "/clusters", lambda r: f"/clusters?district_code={OWN}", None, OWN_READERS),
    Case("GET", "/clusters/{cluster_id}", lambda r: f"/clusters/{r.cluster}", None, OWN_READERS),
    Case(
        "PUT",
        "/clusters/{cluster_id}/evaluations/{year}",
        lambda r: f"/clusters/{r.cluster}/evaluations/2024",
        lambda: {"grade": "A", "score": "91.50", "tier": 1},
        OWN_WRITERS,
    ),
    Case(
        "POST",
        "/buildings",
        lambda r: "/buildings",
        lambda: {"name": "矩阵新大厦", "district_code": OWN, "stars": 3, "operator_uscc": new_uscc()},
        OWN_WRITERS,
    ),
    Case("GET", "/buildings", lambda r: f"/buildings?district_code={OWN}", None, OWN_READERS),
    Case("GET", "/buildings/{building_id}", lambda r: f"/buildings/{r.building}", None, OWN_READERS),
    Case(
        "PUT",
        "/buildings/{building_id}/years/{year}",
        lambda r: f"/buildings/{r.building}/years/2024",
        lambda: {"revenue_yuan": "150000000.00"},
        OWN_WRITERS,
    ),
    Case(
        "POST",
        "/projects",
        lambda r: "/projects",
        lambda: {
            "kind": "investment",
            "owner_uscc": new_uscc(),
            "district_code": OWN,
            "name": "矩阵投资项目",
            "year": 2025,
            "verified_investment_yuan": "30000000.00",
        },
        OWN_WRITERS,
    ),
    Case("GET", "/projects", lambda r: f"/projects?district_code={OWN}", None, OWN_READERS),
    Case("GET", "/projects/{project_id}", lambda r: f"/projects/{r.project}", None, OWN_READERS),
    Case("GET", "/district-stats/{year}", lambda r: "/district-stats/2025", None, EVERY_KEY),
    Case("GET", "/audit", lambda r: "/audit?limit=5", None, reads("city", "auditor")),
]


def keys_for(stack: Stack) -> dict[str, str | None]:
    return {
        "none": None,
        "bad": "cqk_0123456789ab_" + "Z" * 43,
        "revoked": stack.keys["revoked"],
        "city": stack.keys["city"],
        "auditor": stack.keys["auditor"],
        "own": stack.keys["own"],
        "foreign": stack.keys["foreign"],
    }


@pytest.fixture(scope="module")
def clients(stack: Stack) -> Iterator[dict[str, httpx.Client]]:
    made = {caller: stack.client(key) for caller, key in keys_for(stack).items()}
    yield made
    for client in made.values():
        client.close()


def test_the_matrix_covers_every_registry_route(city: httpx.Client) -> None:
    spec = city.get("/openapi.json").json()
    served = {
        (method.upper(), path.removeprefix("/api/v1/registry"))
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/registry/")
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    named = {(case.method, case.template) for case in CASES}
    assert served, "the registry's routes are missing from the merged document"
    assert served <= named, f"routes without a row in the matrix: {sorted(served - named)}"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.method} {c.template}" for c in CASES])
def test_matrix(case: Case, records: Records, clients: dict[str, httpx.Client], city: httpx.Client) -> None:
    path = "/api/v1/registry" + case.path(records)
    for caller in CALLERS:
        body = case.body() if case.body else None
        response = clients[caller].request(case.method, path, json=body)
        status = response.status_code
        if caller in ("none", "bad", "revoked"):
            expected: int | str = 401
        elif caller in case.allowed:
            expected = OK
        elif caller == "auditor" and case.method != "GET":
            expected = 403  # the gateway stops the auditor's writes before they reach the registry
        else:
            expected = case.refused_status
        if expected == OK:
            assert 200 <= status < 300, f"{caller}: {status} {response.text[:300]}"
        else:
            assert status == expected, f"{caller}: {status} {response.text[:300]}"
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["request_id"] == response.headers["x-request-id"]
            # Nothing changed: a refused create left no trace.
            if case.method == "POST" and isinstance(body, dict) and "uscc" in body:
                assert city.get(f"/api/v1/registry/enterprises/{body['uscc']}").status_code == 404
            if case.method == "POST" and isinstance(body, list):
                assert city.get(f"/api/v1/registry/enterprises/{body[0]['uscc']}").status_code == 404


def test_a_district_listing_shows_only_its_own_district(clients: dict[str, httpx.Client], records: Records) -> None:
    page = clients["own"].get("/api/v1/registry/enterprises?limit=500")
    assert page.status_code == 200
    assert page.json()["items"]
    assert {item["district_code"] for item in page.json()["items"]} == {OWN}
    foreign = clients["foreign"].get("/api/v1/registry/enterprises?limit=500")
    assert records.enterprise not in {item["uscc"] for item in foreign.json()["items"]}
