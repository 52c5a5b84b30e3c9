"""The registry down or flaky: 503 problems for what needs it, /calculate keeps answering; retries on reads."""

import socket
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from services.eligibility.main import create_app
from shared.http import UpstreamUnavailableProblem
from tests.eligibility.conftest import eligibility_settings
from tests.eligibility.doubles import registry_in_process
from tests.eligibility.scenario import TOTAL_2025, seed
from tests.support import ANONYMOUS, CITY, TestDatabase, asgi_client


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def orphan_app(eligibility_database: TestDatabase) -> AsyncIterator[FastAPI]:
    """An eligibility service whose registry address has nothing listening."""
    app = create_app(eligibility_settings(eligibility_database.url, registry_url=f"http://127.0.0.1:{closed_port()}"))
    async with app.router.lifespan_context(app):
        yield app


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/screenings", {"as_of": "2025-06-30", "year": 2025}),
        ("POST", "/simulations", {"as_of": "2025-06-30", "year": 2025, "overrides": {"m13.ratio": "0.2"}}),
        ("GET", "/enterprises/91500103MA5U0RKX48/matches", None),
    ],
)
async def test_registry_down_is_a_503_problem(orphan_app, method, path, body):
    client = asgi_client(orphan_app, CITY)
    response = await client.request(method, path, json=body)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 503 and "registry" in problem["detail"] and problem["request_id"]
    assert UpstreamUnavailableProblem.model_validate(problem).upstream == "registry"
    # …and the route documents its 503 with that model.
    operation = orphan_app.openapi()["paths"][path.replace("91500103MA5U0RKX48", "{uscc}")][method.lower()]
    documented = operation["responses"]["503"]["content"]["application/problem+json"]["schema"]
    assert documented == {"$ref": "#/components/schemas/UpstreamUnavailableProblem"}


def test_proposing_an_award_documents_the_503_of_the_services_it_reads(orphan_app):
    answer = orphan_app.openapi()["paths"]["/awards"]["post"]["responses"]["503"]
    assert answer["content"]["application/problem+json"]["schema"]["$ref"].endswith("/UpstreamUnavailableProblem")
    assert "registry" in answer["description"] and "ranking" in answer["description"]


async def test_calculate_and_the_catalogue_keep_working_without_the_registry(orphan_app):
    client = asgi_client(orphan_app, ANONYMOUS)
    response = await client.post("/calculate", json={"measure_id": "M06", "as_of": "2026-01-10", "facts": {"rank": 6}})
    assert response.status_code == 200 and response.json()["amount_yuan"] == "3000000.00"  # （六）rank 6
    assert (await client.get("/measures")).status_code == 200
    # The years rewarded (附则: 2024–2027) are the service's own parameters: no registry needed either.
    facts = {"grade": "A", "tier": 2}
    old = await client.post(
        "/calculate", json={"measure_id": "M03", "as_of": "2025-06-30", "year": 2023, "facts": facts}
    )
    assert old.status_code == 200 and old.json()["reasons"][0]["code"] == "year_not_covered"
    new = await client.post(
        "/calculate", json={"measure_id": "M03", "as_of": "2025-06-30", "year": 2025, "facts": facts}
    )
    assert new.status_code == 200 and new.json()["amount_yuan"] == "6000000.00"  # （三）grade A, tier 2


class Flaky:
    """The real registry app, answering 503 to the first request of every path (a restart, a proxy hiccup)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.seen: set[str] = set()
        self.failures = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.seen:
            self.seen.add(scope["path"])
            self.failures += 1
            await send({"type": "http.response.start", "status": 503, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


async def test_reads_are_retried_after_a_503(eligibility_database, registry_app, registry):
    await seed(registry)
    flaky = Flaky(registry_app)
    settings = eligibility_settings(eligibility_database.url)
    app = create_app(settings)
    async with registry_in_process(app, settings, httpx.ASGITransport(app=flaky)), app.router.lifespan_context(app):
        response = await asgi_client(app, CITY).post("/screenings", json={"as_of": "2025-06-30", "year": 2025})
    assert response.status_code == 200
    assert response.json()["totals"]["amount_yuan"] == str(TOTAL_2025)
    assert flaky.failures == 4  # /projects, /clusters, /buildings, /enterprises each failed once


async def test_retries_give_up_with_a_503(eligibility_database, registry_app):
    calls: Counter[str] = Counter()

    class Down:
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            calls[scope["path"] + "?" + scope["query_string"].decode()] += 1
            await send({"type": "http.response.start", "status": 502, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    settings = eligibility_settings(eligibility_database.url, registry_retries=2)
    app = create_app(settings)
    async with registry_in_process(app, settings, httpx.ASGITransport(app=Down())), app.router.lifespan_context(app):
        response = await asgi_client(app, CITY).post("/screenings", json={"as_of": "2025-06-30", "year": 2025})
    assert response.status_code == 503
    # Each read is tried once and retried twice; the first to give up cancels the reads still running.
    assert max(calls.values()) == 3
    assert calls["/projects?year=2025&limit=3"] == 3
