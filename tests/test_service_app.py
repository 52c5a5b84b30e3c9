"""The application factory every service shares: error rendering, the unit of work, and the rotation of the internal
secret."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData, text
from sqlalchemy.exc import IntegrityError

from gateway import GATEWAY_DIR
from shared.app import create_service_app
from shared.db import SessionDep
from shared.errors import Conflict
from shared.nonces import nonce_table
from shared.settings import ServiceSettings
from tests.support import CITY, PrincipalAuth, TestDatabase, asgi_client

router = APIRouter()


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("a bug")


@router.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


@router.get("/conflict")
async def conflict() -> None:
    raise Conflict("Already there.", subject="x")


@router.post("/write-then-fail")
async def write_then_fail(session: SessionDep) -> None:
    await session.execute(text("INSERT INTO notes (body) VALUES ('written')"))
    raise Conflict("refused after writing")


@router.post("/write")
async def write(session: SessionDep) -> dict[str, str]:
    await session.execute(text("INSERT INTO notes (body) VALUES ('kept')"))
    return {"status": "written"}


@router.post("/duplicate")
async def duplicate(session: SessionDep) -> dict[str, str]:
    await session.execute(text("INSERT INTO notes (body) VALUES ('unique')"))
    return {"status": "written"}


@router.post("/fails-at-commit")
async def fails_at_commit(session: SessionDep) -> dict[str, str]:
    # A deferred foreign key is checked only at COMMIT, after the handler has returned.
    await session.execute(text("INSERT INTO children (parent_id) VALUES (42)"))
    return {"status": "written"}


@router.get("/things")
async def list_things() -> list[str]:
    return []


@router.post("/things")
async def create_thing() -> str:
    return "made"


@router.get("/integrity")
async def integrity() -> None:
    raise IntegrityError("INSERT", {}, Exception("duplicate key"))


@pytest.fixture(scope="module")
async def app() -> AsyncIterator[FastAPI]:
    # A database of its own (the gateway's migrations are the smallest at hand), with the probe's tables added.
    database = TestDatabase("probe", GATEWAY_DIR)
    await asyncio.to_thread(database.create)
    settings = ServiceSettings(service_name="probe", database_url=database.url, environment="test")
    application = create_service_app(settings=settings, title="probe", version="0", description="", routers=[router])
    async with application.router.lifespan_context(application):
        async with application.state.engine.begin() as connection:
            # Every service's migrations make the nonce table.
            await connection.run_sync(nonce_table(MetaData()).create, checkfirst=True)
            await connection.execute(text("CREATE TABLE notes (body TEXT UNIQUE)"))
            await connection.execute(text("CREATE TABLE parents (id INTEGER PRIMARY KEY)"))
            await connection.execute(
                text("CREATE TABLE children (parent_id INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)")
            )
        yield application
    await asyncio.to_thread(database.drop)


async def notes(app: FastAPI) -> list[str]:
    async with app.state.engine.connect() as connection:
        return [row[0] for row in await connection.execute(text("SELECT body FROM notes ORDER BY body"))]


async def test_a_bug_is_a_500_problem_with_the_request_id(app):
    async with asgi_client(app, CITY) as client:
        response = await client.get("/boom", headers={"X-Request-ID": "trace-me"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "trace-me"
    body = response.json()
    assert body["request_id"] == "trace-me" and "a bug" not in body["detail"]


async def test_domain_errors_carry_status_and_extensions(app):
    async with asgi_client(app, CITY) as client:
        response = await client.get("/conflict")
    assert response.status_code == 409
    assert response.json() | {"request_id": None} == {
        "type": "/problems/conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "Already there.",
        "instance": "/conflict",
        "request_id": None,
        "subject": "x",
    }


async def test_the_unit_of_work_commits_on_success_and_rolls_back_on_error(app):
    async with asgi_client(app, CITY) as client:
        assert (await client.post("/write-then-fail")).status_code == 409
        assert await notes(app) == []
        assert (await client.post("/write")).status_code == 200
        assert await notes(app) == ["kept"]
        assert (await client.post("/duplicate")).status_code == 200
        failed = await client.post("/duplicate")
        assert failed.status_code == 409 and failed.json()["type"] == "/problems/conflict"
        assert (await client.get("/integrity")).status_code == 409
    assert await notes(app) == ["kept", "unique"]


async def test_a_failed_commit_is_never_reported_as_success(app):
    async with asgi_client(app, CITY) as client:
        response = await client.post("/fails-at-commit")
    assert response.status_code == 409
    async with app.state.engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM children"))).scalar() == 0


async def test_a_trailing_slash_is_a_404_problem_not_a_redirect_to_the_services_address(app):
    async with asgi_client(app, CITY) as client:
        response = await client.get("/conflict/")
    # A 307 would name the service's own address in Location; behind the gateway nobody may follow it.
    assert response.status_code == 404 and "location" not in response.headers
    assert response.headers["content-type"] == "application/problem+json"


OLD_SECRET = "the-secret-being-replaced-" + "o" * 16
NEW_SECRET = "the-secret-replacing-it-" + "n" * 16


async def test_during_a_rotation_both_secrets_verify_and_afterwards_only_the_new_one(app):
    def rotated(previous: str) -> FastAPI:
        internal = {"secret": NEW_SECRET, "previous_secret": previous}
        settings = ServiceSettings(
            service_name="probe", database_url=app.state.settings.database_url, environment="test", internal=internal
        )
        return create_service_app(settings=settings, title="probe", version="0", description="", routers=[router])

    def signed_with(application: FastAPI, secret: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application),
            base_url="http://testserver",
            auth=PrincipalAuth(CITY, secret=secret, audience="probe"),
        )

    during, after = rotated(OLD_SECRET), rotated("")
    async with during.router.lifespan_context(during), after.router.lifespan_context(after):
        async with signed_with(during, OLD_SECRET) as old, signed_with(during, NEW_SECRET) as new:
            assert [(await client.get("/hello")).status_code for client in (old, new)] == [200, 200]
            # A write signed with the old secret is verified and its nonce spent: the route itself answers.
            assert (await old.post("/write-then-fail")).json()["type"] == "/problems/conflict"
        async with signed_with(after, OLD_SECRET) as old, signed_with(after, NEW_SECRET) as new:
            refused = await old.get("/hello")
            assert (refused.status_code, (await new.get("/hello")).status_code) == (401, 200)
            assert refused.headers["content-type"] == "application/problem+json"
        async with signed_with(during, "neither-of-the-two-secrets-" + "x" * 16) as neither:
            assert (await neither.get("/hello")).status_code == 401


async def test_a_405_names_every_method_the_path_answers_and_the_callers_path(app):
    # GET and POST of /things are two routes; Starlette alone would name only the first one's method.
    async with asgi_client(app, CITY) as client:
        response = await client.delete("/things", headers={"X-Forwarded-Prefix": "/api/v1/probe"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    body = response.json()
    assert body["type"] == "/problems/method-not-allowed"
    assert body["instance"] == "/api/v1/probe/things"
    assert body["detail"] == "Method DELETE is not allowed on /api/v1/probe/things; it answers GET, POST."


async def test_a_problem_points_at_the_path_the_caller_called_through_the_gateway(app):
    async with asgi_client(app, CITY) as client:
        forwarded = await client.get("/conflict", headers={"X-Forwarded-Prefix": "/api/v1/probe"})
        missing = await client.get("/nope", headers={"X-Forwarded-Prefix": "/api/v1/probe"})
        # Only the shape the gateway sends is a prefix: anything else is not put into the answer.
        odd = await client.get("/conflict", headers={"X-Forwarded-Prefix": "https://evil.example/x"})
    assert forwarded.json()["instance"] == "/api/v1/probe/conflict"
    assert missing.json()["instance"] == "/api/v1/probe/nope"
    assert missing.json()["detail"] == "No resource at /api/v1/probe/nope."
    assert odd.json()["instance"] == "/conflict"
